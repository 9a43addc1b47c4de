//! Device memory for the Wasm host's platform: MMIO pages mapped on first use,
//! and DMA buffers carved from physically contiguous RAM.
//!
//! The Wasm host checks every access against the module's capabilities before
//! it reaches these functions; they only translate physical addresses.

use super::layout::PAGE_SIZE;
use super::paging::{self, MapError, MmioRegion};
use super::physical::to_virtual;
use alloc::collections::BTreeMap;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Physical page -> its uncached mapping.
static MMIO_PAGES: Mutex<BTreeMap<u64, MmioRegion>> = Mutex::new(BTreeMap::new());

fn with_mmio_page<T>(
    physical: u64,
    action: impl FnOnce(&MmioRegion, u64) -> T,
) -> Result<T, MapError> {
    let page = super::layout::align_down(physical, PAGE_SIZE);
    without_interrupts(|| {
        let mut pages = MMIO_PAGES.lock();
        let region = match pages.entry(page) {
            alloc::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            alloc::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(paging::map_mmio(page, PAGE_SIZE)?)
            }
        };
        Ok(action(region, physical - page))
    })
}

/// Reads `bytes` (1, 2, 4 or 8) at physical MMIO address `physical` (aligned).
pub fn mmio_read(physical: u64, bytes: u32) -> Result<u64, MapError> {
    with_mmio_page(physical, |region, offset| match bytes {
        1 => region.read::<u8>(offset).map(u64::from),
        2 => region.read::<u16>(offset).map(u64::from),
        4 => region.read::<u32>(offset).map(u64::from),
        _ => region.read::<u64>(offset),
    })?
    .ok_or(MapError::Misaligned(physical))
}

/// Writes `bytes` (1, 2, 4 or 8) at physical MMIO address `physical` (aligned).
pub fn mmio_write(physical: u64, bytes: u32, value: u64) -> Result<(), MapError> {
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

/// A zeroed, physically contiguous buffer of at least `size` bytes; returns its physical address.
///
/// `None` if no such run of frames is free, or if taking it would leave
/// fewer than [`super::budget::KERNEL_FRAME_RESERVE`] frames for the kernel.
pub fn dma_allocate(size: u64) -> Option<u64> {
    let pages = size.div_ceil(PAGE_SIZE).max(1);
    if !paging::frame_statistics().leaves_reserve(pages, super::budget::KERNEL_FRAME_RESERVE) {
        return None;
    }
    let physical = paging::allocate_contiguous_frames(pages).ok()?;
    let length = usize::try_from(pages * PAGE_SIZE).ok()?;
    // SAFETY: the frames were just handed out, so nothing else uses them, and
    // RAM is mapped writable through the direct map.
    unsafe { core::ptr::write_bytes(to_virtual(physical) as *mut u8, 0, length) };
    Some(physical)
}

/// Returns a buffer from [`dma_allocate`] of `size` bytes.
pub fn dma_free(physical: u64, size: u64) {
    let pages = size.div_ceil(PAGE_SIZE).max(1);
    for page in 0..pages {
        if let Err(error) = paging::free_frame(physical + page * PAGE_SIZE) {
            log::error!(
                "freeing DMA frame {:#x}: {error:?}",
                physical + page * PAGE_SIZE
            );
        }
    }
}

/// Copies from a DMA buffer (the host checked the range lies inside one).
pub fn dma_read(physical: u64, destination: &mut [u8]) {
    // SAFETY: the range lies inside a DMA buffer this module allocated (checked
    // by the Wasm host), which is RAM mapped through the direct map; the
    // destination is a distinct kernel buffer.
    unsafe {
        core::ptr::copy_nonoverlapping(
            to_virtual(physical) as *const u8,
            destination.as_mut_ptr(),
            destination.len(),
        );
    }
}

/// Copies into a DMA buffer (the host checked the range lies inside one).
pub fn dma_write(physical: u64, source: &[u8]) {
    // SAFETY: as for `dma_read`, with the buffer as destination.
    unsafe {
        core::ptr::copy_nonoverlapping(
            source.as_ptr(),
            to_virtual(physical) as *mut u8,
            source.len(),
        );
    }
}
