//! Module DMA buffers on loan (`ipc_call_lending`): who holds each, and
//! the rule that keeps lent memory alive.
//!
//! A call that lends a buffer takes the first hold on it ([`hold`], given
//! back by the router when the request ends); only then can a borrower
//! take one ([`lend`]): the server's instance while the request is pending
//! in it, a native process while it has not answered. With an IOMMU the
//! buffer is mapped into the domain of each borrowing device for as long as
//! that device holds it, read-only unless lent read-write (a device holds a
//! buffer with one access at a time). The owner may free the buffer, or
//! die, at any time: its memory goes back to the kernel only with the last
//! hold, after the last borrowing device lost its mapping, so no device
//! ever reaches memory that was reused.
#![forbid(unsafe_code)]

use super::device_access;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use cella_wasm_host::abi::PciAddress;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// A borrowing device's mapping of a lent buffer.
struct Mapping {
    device: PciAddress,
    /// Bytes mapped (what the first hold asked for).
    length: u64,
    writable: bool,
}

/// One buffer on loan.
struct Lent {
    /// The device the owner allocated it for (its mapping is the owner's,
    /// not a loan's).
    owner: Option<PciAddress>,
    /// Each hold: the holder's device (none for a call's hold or a borrower
    /// without a device). What a device may do is its mapping's.
    holds: Vec<Option<PciAddress>>,
    /// Borrowing devices' mappings.
    mappings: Vec<Mapping>,
    /// The owner freed the buffer: it is freed with the last hold.
    freed: bool,
    /// A borrower's mapping could not be removed: the memory is never
    /// reused.
    kept_out_of_use: bool,
}

/// Buffers on loan, by device address.
static LOANS: Mutex<BTreeMap<u64, Lent>> = Mutex::new(BTreeMap::new());

/// A call's hold on the module buffer at `device_address`, allocated for
/// `owner` (see [`cella_wasm_host::Platform::dma_hold`]); `false` if no
/// buffer of at least `size` bytes starts there or its owner freed it.
pub fn hold(owner: Option<PciAddress>, device_address: u64, size: u64) -> bool {
    if !device_access::buffer_holds(device_address, size) {
        return false;
    }
    without_interrupts(|| {
        let mut loans = LOANS.lock();
        let lent = loans.entry(device_address).or_insert_with(|| Lent {
            owner,
            holds: Vec::new(),
            mappings: Vec::new(),
            freed: false,
            kept_out_of_use: false,
        });
        if lent.freed {
            return false;
        }
        lent.holds.push(None);
        true
    })
}

/// Takes a borrower's hold on the buffer at `device_address`, which a call
/// holds already, for `device` (see [`cella_wasm_host::Platform::dma_lend`]):
/// with an IOMMU the buffer is mapped into the domain of a device that did
/// not hold it yet. `false` if no call holds it, if `device` holds it with
/// the other access, or if the IOMMU refused the mapping.
pub fn lend(device: Option<PciAddress>, device_address: u64, size: u64, writable: bool) -> bool {
    without_interrupts(|| {
        let mut loans = LOANS.lock();
        let Some(lent) = loans.get_mut(&device_address) else {
            return false;
        };
        if lent.holds.is_empty() {
            return false;
        }
        if let Some(borrower) = device
            && Some(borrower) != lent.owner
        {
            match lent
                .mappings
                .iter()
                .find(|mapping| mapping.device == borrower)
            {
                Some(mapping) if mapping.writable != writable || mapping.length < size => {
                    return false;
                }
                Some(_) => {}
                None => {
                    if let Err(error) =
                        device_access::map_for(borrower, device_address, size, writable)
                    {
                        log::error!(
                            "DMA buffer {device_address:#x} lent to {borrower}: the IOMMU refused to map it: {error}"
                        );
                        return false;
                    }
                    lent.mappings.push(Mapping {
                        device: borrower,
                        length: size,
                        writable,
                    });
                }
            }
        }
        lent.holds.push(device);
        true
    })
}

/// Gives back one hold of `device` (none: a call's hold, or a borrower
/// without a device) on the buffer at `device_address`; the device's
/// mapping goes with its last hold, and the buffer itself, if its owner
/// freed it, with the last hold of all.
pub fn give_back(device: Option<PciAddress>, device_address: u64) {
    let freed = without_interrupts(|| {
        let mut loans = LOANS.lock();
        let lent = loans.get_mut(&device_address)?;
        let position = lent.holds.iter().position(|holder| *holder == device)?;
        lent.holds.swap_remove(position);
        if let Some(borrower) = device
            && !lent.holds.contains(&device)
            && let Some(index) = lent
                .mappings
                .iter()
                .position(|mapping| mapping.device == borrower)
        {
            let mapping = lent.mappings.swap_remove(index);
            if let Err(error) = device_access::unmap_for(borrower, device_address, mapping.length) {
                log::error!(
                    "DMA buffer {device_address:#x} lent to {borrower}: not unmapped ({error}); its memory is kept out of use"
                );
                lent.kept_out_of_use = true;
            }
        }
        if !lent.holds.is_empty() {
            return None;
        }
        match (lent.freed, lent.kept_out_of_use) {
            // Stays as a mark: the owner's free finds it and keeps the
            // memory out of use.
            (false, true) => None,
            (false, false) => {
                loans.remove(&device_address);
                None
            }
            (true, kept) => {
                let lent = loans.remove(&device_address)?;
                Some((lent.owner, kept))
            }
        }
    });
    match freed {
        Some((owner, false)) => device_access::forget_buffer(owner, device_address),
        Some((_, true)) => device_access::keep_out_of_use(device_address),
        None => {}
    }
}

/// The owner frees the buffer at `device_address`: `true` if it is on
/// loan, and is freed with its last hold instead (or, if a borrower's
/// mapping could not be removed, never).
pub(super) fn free_when_returned(device_address: u64) -> bool {
    without_interrupts(|| match LOANS.lock().get_mut(&device_address) {
        Some(lent) => {
            lent.freed = true;
            true
        }
        None => false,
    })
}

/// Buffers on loan now (for the leak checks of the test kernel).
pub fn buffers_on_loan() -> usize {
    without_interrupts(|| LOANS.lock().len())
}

/// Whether the buffer at `device_address` is on loan now (for the leak
/// checks of the test kernel's scenarios that lend buffers of their own
/// while modules lend theirs).
pub fn is_on_loan(device_address: u64) -> bool {
    without_interrupts(|| LOANS.lock().contains_key(&device_address))
}
