//! The kernel's virtual memory layout: where each kind of mapping lives.
//!
//! ```text
//! 0x0000_0000_0000_0000 .. 0x0000_7fff_ffff_ffff  lower half: empty in the kernel's
//!                                                 own tables (native processes later)
//! 0xffff_8000_0000_0000  DIRECT_MAP_BASE   all physical RAM, read/write, no-execute
//! 0xffff_a000_0000_0000  HEAP_BASE         the kernel heap, mapped at boot
//! 0xffff_b000_0000_0000  STACKS_BASE       kernel stacks, each under an unmapped guard page
//! 0xffff_d000_0000_0000  MMIO_BASE         device memory, uncached
//! 0xffff_ffff_8000_0000  KERNEL_OFFSET     the kernel image (linked here, loaded at 1 MiB)
//! ```
//! Each region starts on its own PML4 slot, so a stray pointer into one is easy
//! to recognise in a fault report.

/// Size of a normal page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Size of a large page.
pub const LARGE_PAGE_SIZE: u64 = 2 * 1024 * 1024;
/// Virtual minus physical address of the kernel image.
pub const KERNEL_OFFSET: u64 = 0xffff_ffff_8000_0000;
/// Physical address `p` is at virtual `DIRECT_MAP_BASE + p` once paging is set up.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// Start of the kernel heap.
pub const HEAP_BASE: u64 = 0xffff_a000_0000_0000;
/// Start of the kernel stack area.
pub const STACKS_BASE: u64 = 0xffff_b000_0000_0000;
/// Start of the window where MMIO regions are mapped.
pub const MMIO_BASE: u64 = 0xffff_d000_0000_0000;
/// Size of the MMIO window.
pub const MMIO_WINDOW_SIZE: u64 = 0x0000_1000_0000_0000;
/// Physical memory below this is never handed out (BIOS data, option ROMs, PVH tables).
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// Rounds `value` down to a multiple of `align` (a power of two).
pub const fn align_down(value: u64, align: u64) -> u64 {
    value & !(align - 1)
}

/// Rounds `value` up to a multiple of `align` (a power of two); `None` on overflow.
pub const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(sum) => Some(sum & !(align - 1)),
        None => None,
    }
}
