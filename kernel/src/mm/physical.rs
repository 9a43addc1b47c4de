//! Reaching physical memory: through the boot identity map at first, then the direct map.
//!
//! The boot page tables map the first 4 GiB of physical memory at virtual
//! address = physical address. Once the kernel's own tables are live, all RAM
//! is at `DIRECT_MAP_BASE + physical`. [`to_virtual`] knows which holds.

use super::frame_allocator::FrameLinks;
use super::layout::DIRECT_MAP_BASE;
use crate::boot_info::PhysicalReader;
use core::sync::atomic::{AtomicU64, Ordering};

/// Physical memory the boot identity map reaches.
pub const BOOT_IDENTITY_LIMIT: u64 = 4 << 30;

/// Virtual minus physical address for RAM: 0 during boot, then `DIRECT_MAP_BASE`.
static PHYSICAL_OFFSET: AtomicU64 = AtomicU64::new(0);

/// Whether the kernel's direct map is live.
pub fn direct_map_live() -> bool {
    PHYSICAL_OFFSET.load(Ordering::Relaxed) == DIRECT_MAP_BASE
}

/// Marks the direct map live; called right after loading the kernel's tables.
pub(super) fn switch_to_direct_map() {
    PHYSICAL_OFFSET.store(DIRECT_MAP_BASE, Ordering::Relaxed);
}

/// The virtual address where physical address `physical` can be reached now.
pub fn to_virtual(physical: u64) -> u64 {
    physical + PHYSICAL_OFFSET.load(Ordering::Relaxed)
}

/// Reads the loader's tables during boot, refusing anything outside the identity map.
pub struct EarlyReader;

impl PhysicalReader for EarlyReader {
    fn read(&self, address: u64, buffer: &mut [u8]) -> bool {
        let Some(end) = address.checked_add(buffer.len() as u64) else {
            return false;
        };
        if address == 0 || end > BOOT_IDENTITY_LIMIT || direct_map_live() {
            return false;
        }
        // SAFETY: [address, end) lies below 4 GiB, which the boot page tables
        // map readable at the same virtual address; the destination is a
        // distinct Rust buffer of exactly that length.
        unsafe {
            core::ptr::copy_nonoverlapping(address as *const u8, buffer.as_mut_ptr(), buffer.len());
        }
        true
    }
}

/// Free-list links stored in free frames, reached through [`to_virtual`].
/// Private to `mm`: its safe `write_link` writes any frame it is given, so
/// only the frame allocator's own calls may reach it.
pub(super) struct FrameLinksInRam;

impl FrameLinks for FrameLinksInRam {
    fn read_link(&mut self, frame: u64) -> u64 {
        // SAFETY: the frame allocator only passes frames of usable RAM that it
        // owns (free), which are mapped writable at `to_virtual`, 8-aligned.
        unsafe { core::ptr::read_volatile(to_virtual(frame) as *const u64) }
    }

    fn write_link(&mut self, frame: u64, next: u64) {
        // SAFETY: as in `read_link`: a free, owned, mapped, aligned frame.
        unsafe { core::ptr::write_volatile(to_virtual(frame) as *mut u64, next) }
    }
}

/// The boot archive's bytes, if the loader passed one that lies in RAM.
///
/// The range was excluded from the frame allocator, so nothing writes it
/// for the kernel's lifetime.
pub fn boot_archive_bytes(info: &crate::boot_info::BootInfo) -> Option<&'static [u8]> {
    let range = info.archive?;
    let in_ram = info
        .ram
        .as_slice()
        .iter()
        .any(|ram| ram.start <= range.start && range.end <= ram.end);
    if !direct_map_live() || !in_ram {
        return None;
    }
    let length = usize::try_from(range.len()).ok()?;
    // SAFETY: the range lies inside one RAM range, which the direct map maps
    // readable; it is excluded from the frame allocator (see `setup`), so it
    // is never handed out or written while this shared slice lives.
    Some(unsafe { core::slice::from_raw_parts(to_virtual(range.start) as *const u8, length) })
}
