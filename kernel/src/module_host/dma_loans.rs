//! Module DMA buffers on loan (`ipc_call_lending`): who holds each, and
//! the rule that keeps lent memory alive.
//!
//! A loan is a hold on one of the modules' buffers ([`super::device_access`]).
//! The call holds it from the moment it is made until its request ends
//! (a hold with no device, given back by the router); the server's
//! instance holds it while the request is pending in it, and with an IOMMU
//! the buffer is mapped into the domain of the server's device for as long
//! as that device holds it (read-only unless lent read-write). The owner
//! may free the buffer, or die, at any time: its memory goes back to the
//! kernel only with the last hold, after the last borrower's device lost
//! its mapping, so no device ever reaches memory that was reused.
#![forbid(unsafe_code)]

use super::device_access;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use cella_wasm_host::abi::PciAddress;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// One buffer on loan.
struct Lent {
    /// Each hold: the borrower's device (none for the call's own hold or a
    /// borrower without a device) and whether it may write.
    holds: Vec<(Option<PciAddress>, bool)>,
    /// The owner freed the buffer (naming its own device): it is freed
    /// with the last hold.
    freed_by: Option<Option<PciAddress>>,
    /// A borrower's mapping could not be removed: the memory is never
    /// reused.
    kept_out_of_use: bool,
}

/// Buffers on loan, by device address.
static LOANS: Mutex<BTreeMap<u64, Lent>> = Mutex::new(BTreeMap::new());

/// Takes one hold on the module buffer at `device_address` for `device`
/// (see [`cella_wasm_host::Platform::dma_lend`]): with an IOMMU the buffer
/// is mapped into the domain of a device that did not hold it yet. `false`
/// if no buffer of at least `size` bytes starts there, if `device` holds
/// it read-only and asks to write, or if the IOMMU refused the mapping.
pub fn lend(device: Option<PciAddress>, device_address: u64, size: u64, writable: bool) -> bool {
    if !device_access::buffer_holds(device_address, size) {
        return false;
    }
    without_interrupts(|| {
        let mut loans = LOANS.lock();
        let lent = loans.entry(device_address).or_insert_with(|| Lent {
            holds: Vec::new(),
            freed_by: None,
            kept_out_of_use: false,
        });
        let mut held = lent
            .holds
            .iter()
            .filter(|(holder, _)| device.is_some() && *holder == device);
        match held.next() {
            Some((_, held_writable)) if writable && !held_writable => return false,
            Some(_) => {}
            None => {
                if let Some(borrower) = device
                    && let Err(error) =
                        device_access::map_for(borrower, device_address, size, writable)
                {
                    log::error!(
                        "DMA buffer {device_address:#x} lent to {borrower}: the IOMMU refused to map it: {error}"
                    );
                    if lent.holds.is_empty() {
                        loans.remove(&device_address);
                    }
                    return false;
                }
            }
        }
        lent.holds.push((device, writable));
        true
    })
}

/// Gives back one hold of `device` on the buffer at `device_address`; the
/// device's mapping goes with its last hold, and the buffer itself, if its
/// owner freed it, with the last hold of all.
pub fn give_back(device: Option<PciAddress>, device_address: u64, size: u64) {
    let freed = without_interrupts(|| {
        let mut loans = LOANS.lock();
        let lent = loans.get_mut(&device_address)?;
        let position = lent
            .holds
            .iter()
            .position(|(holder, _)| *holder == device)?;
        lent.holds.swap_remove(position);
        if let Some(borrower) = device
            && !lent.holds.iter().any(|(holder, _)| *holder == device)
            && let Err(error) = device_access::unmap_for(borrower, device_address, size)
        {
            log::error!(
                "DMA buffer {device_address:#x} lent to {borrower}: not unmapped ({error}); its memory is kept out of use"
            );
            lent.kept_out_of_use = true;
        }
        if !lent.holds.is_empty() {
            return None;
        }
        match (lent.freed_by, lent.kept_out_of_use) {
            // Stays as a mark: the owner's free finds it and keeps the
            // memory out of use.
            (None, true) => None,
            (None, false) => {
                loans.remove(&device_address);
                None
            }
            (Some(owner), kept) => {
                loans.remove(&device_address);
                Some((owner, kept))
            }
        }
    });
    match freed {
        Some((owner, false)) => device_access::forget_buffer(owner, device_address),
        Some((_, true)) => device_access::keep_out_of_use(device_address),
        None => {}
    }
}

/// The owner (of device `device`) frees the buffer at `device_address`:
/// `true` if it is on loan, and is freed with its last hold instead (or,
/// if a borrower's mapping could not be removed, never).
pub(super) fn free_when_returned(device: Option<PciAddress>, device_address: u64) -> bool {
    without_interrupts(|| match LOANS.lock().get_mut(&device_address) {
        Some(lent) => {
            lent.freed_by = Some(device);
            true
        }
        None => false,
    })
}

/// Buffers on loan now (for the leak checks of the test kernel).
pub fn buffers_on_loan() -> usize {
    without_interrupts(|| LOANS.lock().len())
}
