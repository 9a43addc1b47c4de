//! Device memory for code outside `mm`: MMIO through a [`DeviceRange`], which
//! is made only for physical ranges that are not RAM, and DMA through a
//! [`DmaBuffer`], which owns the frames it was carved from.
//!
//! Neither type can be made from a bare address outside this module, so no
//! code outside `mm` can read or write an arbitrary physical address. What
//! they do not guarantee: a device told to do DMA can still write anywhere in
//! RAM (only an IOMMU prevents that), and who may use which range is decided
//! by the capability checks before these types are asked for.

use super::frame_runs::FrameRuns;
use super::layout::{PAGE_SIZE, align_down, align_up};
use super::paging::{self, MapError, MmioRegion};
use super::physical::to_virtual;
use super::regions::{PhysRange, RegionList};
use crate::boot_info::MAX_REGIONS;
use alloc::collections::BTreeMap;
use spin::{Mutex, Once};
use x86_64::instructions::interrupts::without_interrupts;

/// All RAM of the boot memory map and the kernel image: never device memory.
static RAM: Once<(RegionList<MAX_REGIONS>, PhysRange)> = Once::new();

/// Physical page -> its uncached mapping.
static MMIO_PAGES: Mutex<BTreeMap<u64, MmioRegion>> = Mutex::new(BTreeMap::new());
/// Frames of freed DMA buffers, kept for the next buffers (see `frame_runs`).
static DMA_RUNS: Mutex<FrameRuns> = Mutex::new(FrameRuns::new(PAGE_SIZE));

/// Frames that freed DMA buffers left for reuse.
pub fn dma_frames_kept() -> u64 {
    without_interrupts(|| DMA_RUNS.lock().frames())
}

/// Records the boot memory map's RAM and the kernel image (memory setup calls
/// this once); until then no [`DeviceRange`] is made.
pub(super) fn remember_ram(ram: &RegionList<MAX_REGIONS>, kernel_image: PhysRange) {
    RAM.call_once(|| (ram.clone(), kernel_image));
}

/// Proof that a physical range is device memory: no byte of the whole pages
/// it lies in is RAM in the boot memory map or part of the kernel image.
///
/// Only [`DeviceRange::new`] makes one, after that check; its fields are
/// private. Mapping it (for the kernel on access, or into a process) therefore
/// never aliases memory the kernel or a process owns. It does not say which
/// device is there, nor that the device cannot reach RAM by DMA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRange {
    start: u64,
    length: u64,
}

impl DeviceRange {
    /// The `length` bytes at `physical`, if their pages hold no RAM.
    ///
    /// # Errors
    /// [`MapError::BadSize`] for an empty or overflowing range,
    /// [`MapError::NotDeviceMemory`] if a page of it is RAM or kernel image,
    /// [`MapError::NotReady`] before memory setup recorded the memory map.
    pub fn new(physical: u64, length: u64) -> Result<Self, MapError> {
        let pages = physical
            .checked_add(length)
            .filter(|_| length > 0)
            .and_then(|end| align_up(end, PAGE_SIZE))
            .map(|end| PhysRange {
                start: align_down(physical, PAGE_SIZE),
                end,
            })
            .ok_or(MapError::BadSize(length))?;
        let (ram, kernel_image) = RAM.get().ok_or(MapError::NotReady)?;
        let image_overlaps = kernel_image.start < pages.end && pages.start < kernel_image.end;
        if ram.overlaps(pages) || image_overlaps {
            return Err(MapError::NotDeviceMemory(physical));
        }
        Ok(Self {
            start: physical,
            length,
        })
    }

    /// Physical address of the first byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The first page and the number of whole pages the range lies in.
    pub fn pages(&self) -> (u64, u64) {
        let first = align_down(self.start, PAGE_SIZE);
        // `new` checked that the page-aligned end does not overflow.
        let end = (self.start + self.length).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        (first, (end - first) / PAGE_SIZE)
    }

    /// The physical address `offset` bytes in, for an access of `bytes`.
    fn address(&self, offset: u64, bytes: u32) -> Result<u64, MapError> {
        offset
            .checked_add(u64::from(bytes))
            .filter(|&end| end <= self.length)
            .map(|_| self.start + offset)
            .ok_or(MapError::BadSize(offset))
    }

    /// Reads `bytes` (1, 2, 4 or 8) at `offset` (aligned to the width),
    /// mapping the page uncached on first use.
    ///
    /// # Errors
    /// [`MapError`] if the access leaves the range, is misaligned, or the page
    /// cannot be mapped.
    pub fn read(&self, offset: u64, bytes: u32) -> Result<u64, MapError> {
        let physical = self.address(offset, bytes)?;
        with_mmio_page(physical, |region, offset| match bytes {
            1 => region.read::<u8>(offset).map(u64::from),
            2 => region.read::<u16>(offset).map(u64::from),
            4 => region.read::<u32>(offset).map(u64::from),
            _ => region.read::<u64>(offset),
        })?
        .ok_or(MapError::Misaligned(physical))
    }

    /// Writes `bytes` (1, 2, 4 or 8) at `offset` (aligned to the width),
    /// mapping the page uncached on first use.
    ///
    /// # Errors
    /// As for [`DeviceRange::read`].
    pub fn write(&self, offset: u64, bytes: u32, value: u64) -> Result<(), MapError> {
        let physical = self.address(offset, bytes)?;
        let written = with_mmio_page(physical, |region, offset| match bytes {
            1 => region.write::<u8>(offset, value as u8),
            2 => region.write::<u16>(offset, value as u16),
            4 => region.write::<u32>(offset, value as u32),
            _ => region.write::<u64>(offset, value),
        })?;
        if written {
            Ok(())
        } else {
            Err(MapError::Misaligned(physical))
        }
    }
}

/// Runs `action` on the kernel's uncached mapping of the page holding
/// `physical` (a byte of a [`DeviceRange`]), mapping it on first use.
fn with_mmio_page<T>(
    physical: u64,
    action: impl FnOnce(&MmioRegion, u64) -> T,
) -> Result<T, MapError> {
    let page = align_down(physical, PAGE_SIZE);
    without_interrupts(|| {
        let mut pages = MMIO_PAGES.lock();
        let region = match pages.entry(page) {
            alloc::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            alloc::collections::btree_map::Entry::Vacant(entry) => {
                let device = DeviceRange::new(page, PAGE_SIZE)?;
                entry.insert(paging::map_mmio(&device)?)
            }
        };
        Ok(action(region, physical - page))
    })
}

/// A zeroed, physically contiguous buffer for a device to read and write by
/// DMA: it owns its frames, which go back to the pool of DMA runs when it is
/// dropped (the next buffers are carved from there first).
///
/// Only [`DmaBuffer::allocate`] makes one, so reads and writes through it stay
/// inside frames the kernel handed out for this buffer. The device address a
/// driver gives its device is [`DmaBuffer::device_address`]; nothing stops a
/// device from being given another address (that is the IOMMU's job).
#[derive(Debug)]
pub struct DmaBuffer {
    physical: u64,
    pages: u64,
}

impl DmaBuffer {
    /// A zeroed buffer of at least `size` bytes (whole pages), or `None` if no
    /// contiguous run of frames is free, or if taking it would leave fewer
    /// than [`super::budget::KERNEL_FRAME_RESERVE`] frames for the kernel.
    pub fn allocate(size: u64) -> Option<Self> {
        let pages = size.div_ceil(PAGE_SIZE).max(1);
        let length = usize::try_from(pages.checked_mul(PAGE_SIZE)?).ok()?;
        let reused = without_interrupts(|| DMA_RUNS.lock().take(pages));
        let physical = match reused {
            Some(physical) => physical,
            None => {
                if !paging::frame_statistics()
                    .leaves_reserve(pages, super::budget::KERNEL_FRAME_RESERVE)
                {
                    return None;
                }
                paging::allocate_contiguous_frames(pages).ok()?
            }
        };
        // SAFETY: the frames were just handed out, so nothing else uses them, and
        // RAM is mapped writable through the direct map.
        unsafe { core::ptr::write_bytes(to_virtual(physical) as *mut u8, 0, length) };
        Some(Self { physical, pages })
    }

    /// The physical address of the first byte, as a device sees it.
    pub fn device_address(&self) -> u64 {
        self.physical
    }

    /// Size in bytes (whole pages).
    pub fn size(&self) -> u64 {
        self.pages * PAGE_SIZE
    }

    /// Whether `length` bytes at `offset` lie inside the buffer.
    fn holds(&self, offset: u64, length: usize) -> bool {
        u64::try_from(length)
            .ok()
            .and_then(|length| offset.checked_add(length))
            .is_some_and(|end| end <= self.size())
    }

    /// Copies `destination.len()` bytes from `offset`; `false` (and nothing
    /// copied) if they do not lie inside the buffer.
    pub fn read(&self, offset: u64, destination: &mut [u8]) -> bool {
        if !self.holds(offset, destination.len()) {
            return false;
        }
        // SAFETY: the range lies inside this buffer's frames, which it owns
        // and which are RAM mapped through the direct map; the destination is
        // a distinct kernel buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(
                to_virtual(self.physical + offset) as *const u8,
                destination.as_mut_ptr(),
                destination.len(),
            );
        }
        true
    }

    /// Copies `source` to `offset`; `false` (and nothing copied) if it does
    /// not fit inside the buffer.
    pub fn write(&mut self, offset: u64, source: &[u8]) -> bool {
        if !self.holds(offset, source.len()) {
            return false;
        }
        // SAFETY: as in `read`, with the buffer as destination.
        unsafe {
            core::ptr::copy_nonoverlapping(
                source.as_ptr(),
                to_virtual(self.physical + offset) as *mut u8,
                source.len(),
            );
        }
        true
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // The frames stay the kernel's, kept as one run for the next buffer.
        without_interrupts(|| DMA_RUNS.lock().give(self.physical, self.pages));
    }
}
