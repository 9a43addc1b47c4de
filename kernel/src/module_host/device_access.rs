//! The hardware behind the sandboxes' `Platform`: ports through a
//! [`PortRange`], MMIO through a [`DeviceRange`] and DMA through the
//! [`DmaBuffer`]s this file keeps, by device address, for the modules.
//!
//! The Wasm host has already checked the calling module's capability for the
//! port, the MMIO range or the DMA buffer; these proofs add what the kernel
//! itself requires whatever a manifest grants: no port the kernel drives, no
//! MMIO onto RAM, and DMA copies only inside a buffer the kernel allocated.
//! A module granted such a port or range is refused at load
//! ([`refused_grant`]); the checks on each access remain as a second line.

use crate::arch::port_io::PortRange;
use crate::mm::device_memory::{DeviceRange, DmaBuffer};
use crate::mm::iommu;
use crate::mm::paging::MapError;
use crate::system_manifest::GrantLine;
use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use cella_wasm_host::abi::PciAddress;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// The first of a module's grants that the kernel refuses whatever the
/// manifest says, as the reason the module is not loaded: a port it drives
/// itself, MMIO over RAM or the kernel image, a `device` grant that no PCI
/// function on the bus matched, or DMA that no IOMMU confines
/// (`dma_confined` false) unless the grant says `dma-unconfined`.
pub fn refused_grant(grants: &[GrantLine], dma_confined: bool) -> Option<String> {
    let unconfined_allowed = grants.contains(&GrantLine::DmaUnconfined);
    grants.iter().find_map(|grant| {
        let refusal = match *grant {
            GrantLine::Port { base, count, .. } => PortRange::new(base, count).err()?.to_string(),
            GrantLine::Mmio { base, length, .. } => {
                DeviceRange::new(base, length).err()?.to_string()
            }
            GrantLine::Device { slot: None, .. } => {
                String::from("no free PCI function on this machine matches it")
            }
            GrantLine::Dma { .. } if !dma_confined && !unconfined_allowed => String::from(
                "no IOMMU confines this module's DMA (the system manifest may allow it with `dma-unconfined = true`, a risk: the device can then write all of RAM)",
            ),
            _ => return None,
        };
        Some(alloc::format!("grant `{grant}`: {refusal}"))
    })
}

/// Whether an IOMMU confines the DMA of the devices the kernel grants.
pub fn dma_confined() -> bool {
    iommu::present()
}

/// When the IOMMU's fault records were last read.
static LAST_FAULT_POLL: AtomicU64 = AtomicU64::new(0);

/// How often the fault records are read at most (each read is a device
/// register access).
const FAULT_POLL_NANOSECONDS: u64 = 1_000_000;

/// The DMA faults the IOMMU recorded since the last call, at most once a
/// millisecond: the device that issued each, and the fault in words
/// (`DMA write by 00:03.0 at 0x1000 blocked: ...`).
pub fn take_device_faults() -> Vec<(PciAddress, String)> {
    // The clock first: cheaper than the IOMMU's lock, taken every loop step.
    let now = crate::time::now_nanoseconds();
    let last = LAST_FAULT_POLL.load(Ordering::Relaxed);
    if now.saturating_sub(last) < FAULT_POLL_NANOSECONDS {
        return Vec::new();
    }
    LAST_FAULT_POLL.store(now, Ordering::Relaxed);
    if !iommu::present() {
        return Vec::new();
    }
    iommu::take_faults()
        .into_iter()
        .map(|fault| (fault.source, fault.to_string()))
        .collect()
}

/// Every module's DMA buffers, by device address.
static DMA_BUFFERS: Mutex<BTreeMap<u64, DmaBuffer>> = Mutex::new(BTreeMap::new());

/// Reads `bytes` at `port`; all ones (what an absent device reads as) if the
/// port is one the kernel keeps for itself.
pub fn port_read(port: u16, bytes: u32) -> u32 {
    match PortRange::new(port, bytes).map(|range| range.read(0, bytes)) {
        Ok(Some(value)) => value,
        Ok(None) => u32::MAX,
        Err(error) => {
            log::error!("port read refused: {error}");
            u32::MAX
        }
    }
}

/// Writes `bytes` of `value` at `port`, unless the kernel keeps it for itself.
pub fn port_write(port: u16, bytes: u32, value: u32) {
    match PortRange::new(port, bytes) {
        Ok(range) => {
            range.write(0, bytes, value);
        }
        Err(error) => log::error!("port write refused: {error}"),
    }
}

/// Reads `bytes` of device memory at `physical`.
///
/// # Errors
/// [`MapError`] if the address is RAM, misaligned or cannot be mapped.
pub fn mmio_read(physical: u64, bytes: u32) -> Result<u64, MapError> {
    DeviceRange::new(physical, u64::from(bytes))?.read(0, bytes)
}

/// Writes `bytes` of `value` to device memory at `physical`.
///
/// # Errors
/// As for [`mmio_read`].
pub fn mmio_write(physical: u64, bytes: u32, value: u64) -> Result<(), MapError> {
    DeviceRange::new(physical, u64::from(bytes))?.write(0, bytes, value)
}

/// Each granted device's IOMMU domain, made on its first DMA buffer and
/// kept (empty once every buffer is freed) for the next holder.
static DOMAINS: Mutex<BTreeMap<PciAddress, iommu::Domain>> = Mutex::new(BTreeMap::new());

/// Runs `action` on `device`'s domain, attaching the device first if it
/// has none.
fn with_domain<T>(
    device: PciAddress,
    action: impl FnOnce(&iommu::Domain) -> Result<T, iommu::IommuError>,
) -> Result<T, iommu::IommuError> {
    without_interrupts(|| {
        let mut domains = DOMAINS.lock();
        let domain = match domains.entry(device) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(place) => place.insert(iommu::attach(device)?),
        };
        action(domain)
    })
}

/// A new zeroed DMA buffer of at least `size` bytes that `device` (the
/// holder's granted PCI function, if any) may reach: the one way modules
/// and processes get DMA memory. With an IOMMU the buffer is mapped into
/// `device`'s domain, at its physical address, and nothing else is; a
/// buffer of no device is mapped nowhere.
pub fn allocate_for(device: Option<PciAddress>, size: u64) -> Option<DmaBuffer> {
    let buffer = DmaBuffer::allocate(size)?;
    if let (true, Some(device)) = (iommu::present(), device) {
        let address = buffer.device_address();
        let mapped = with_domain(device, |domain| {
            iommu::map(domain, address, address, buffer.size(), true)
        });
        if let Err(error) = mapped {
            log::error!("DMA buffer for {device}: the IOMMU refused to map it: {error}");
            return None;
        }
    }
    Some(buffer)
}

/// Takes `device`'s access to `buffer` away, then frees it: the memory is
/// reused only after the device can no longer reach it (with an IOMMU,
/// after the unit confirmed the invalidation of its cached translations; a
/// buffer whose invalidation was not confirmed is never reused).
pub fn release_for(device: Option<PciAddress>, buffer: DmaBuffer) {
    if let (true, Some(device)) = (iommu::present(), device) {
        let address = buffer.device_address();
        let unmapped = with_domain(device, |domain| {
            iommu::unmap(domain, address, buffer.size())
        });
        if let Err(error) = unmapped {
            log::error!(
                "DMA buffer {address:#x} of {device}: not unmapped ({error}); its memory is kept out of use"
            );
            core::mem::forget(buffer);
            return;
        }
    }
    drop(buffer);
}

/// A new zeroed DMA buffer of at least `size` bytes for `device` (the
/// module's granted PCI function, if any); its device address.
pub fn dma_allocate(device: Option<PciAddress>, size: u64) -> Option<u64> {
    let buffer = allocate_for(device, size)?;
    let address = buffer.device_address();
    without_interrupts(|| DMA_BUFFERS.lock().insert(address, buffer));
    Some(address)
}

/// Frees the DMA buffer at `device_address` of `device` (its frames go
/// back to the kernel); a buffer on loan is freed when its last loan ends
/// (see [`super::dma_loans`]).
pub fn dma_free(device: Option<PciAddress>, device_address: u64) {
    if super::dma_loans::free_when_returned(device_address) {
        return;
    }
    forget_buffer(device, device_address);
}

/// Whether a module buffer starts at `device_address` and holds at least
/// `size` bytes.
pub(super) fn buffer_holds(device_address: u64, size: u64) -> bool {
    without_interrupts(|| {
        DMA_BUFFERS
            .lock()
            .get(&device_address)
            .is_some_and(|buffer| buffer.size() >= size)
    })
}

/// Maps `size` bytes at `device_address` into `device`'s domain (IOVA =
/// physical), writable if `writable`; `Ok` without an IOMMU.
pub(super) fn map_for(
    device: PciAddress,
    device_address: u64,
    size: u64,
    writable: bool,
) -> Result<(), iommu::IommuError> {
    if !iommu::present() {
        return Ok(());
    }
    let pages = size.div_ceil(PAGE_BYTES) * PAGE_BYTES;
    with_domain(device, |domain| {
        iommu::map(domain, device_address, device_address, pages, writable)
    })
}

/// The IOMMU maps whole pages; buffers are whole pages.
const PAGE_BYTES: u64 = 4096;

/// Unmaps `size` bytes at `device_address` from `device`'s domain, waiting
/// for the invalidation of its cached translations.
pub(super) fn unmap_for(
    device: PciAddress,
    device_address: u64,
    size: u64,
) -> Result<(), iommu::IommuError> {
    if !iommu::present() {
        return Ok(());
    }
    let pages = size.div_ceil(PAGE_BYTES) * PAGE_BYTES;
    with_domain(device, |domain| iommu::unmap(domain, device_address, pages))
}

/// Takes the buffer at `device_address` out of the modules' buffers for
/// good: a device may still reach it, so its memory is never reused.
pub(super) fn keep_out_of_use(device_address: u64) {
    if let Some(buffer) = without_interrupts(|| DMA_BUFFERS.lock().remove(&device_address)) {
        core::mem::forget(buffer);
    }
}

/// Takes the buffer at `device_address` out of the modules' buffers and
/// releases it from `device` (its owner's device).
pub(super) fn forget_buffer(device: Option<PciAddress>, device_address: u64) {
    let buffer = without_interrupts(|| DMA_BUFFERS.lock().remove(&device_address));
    match buffer {
        // Released here, outside the lock.
        Some(buffer) => release_for(device, buffer),
        None => log::error!("DMA free at {device_address:#x}: no buffer starts there"),
    }
}

/// Runs `action` on the buffer holding `device_address` and the offset into
/// it; `None` if no buffer holds it.
fn with_buffer<T>(device_address: u64, action: impl FnOnce(&mut DmaBuffer, u64) -> T) -> Option<T> {
    without_interrupts(|| {
        let mut buffers = DMA_BUFFERS.lock();
        let (&start, buffer) = buffers.range_mut(..=device_address).next_back()?;
        Some(action(buffer, device_address - start))
    })
}

/// Copies from the DMA buffer holding `device_address`; leaves `destination`
/// unchanged if the range does not lie inside one buffer.
pub fn dma_read(device_address: u64, destination: &mut [u8]) {
    let read = with_buffer(device_address, |buffer, offset| {
        buffer.read(offset, destination)
    });
    if read != Some(true) {
        log::error!(
            "DMA read of {} bytes at {device_address:#x}: not inside one buffer",
            destination.len()
        );
    }
}

/// Copies into the DMA buffer holding `device_address`; copies nothing if
/// the range does not lie inside one buffer.
pub fn dma_write(device_address: u64, source: &[u8]) {
    let written = with_buffer(device_address, |buffer, offset| {
        buffer.write(offset, source)
    });
    if written != Some(true) {
        log::error!(
            "DMA write of {} bytes at {device_address:#x}: not inside one buffer",
            source.len()
        );
    }
}
