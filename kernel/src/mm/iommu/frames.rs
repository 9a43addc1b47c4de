//! Table frames for the IOMMU from the kernel's frame allocator, reached
//! through the direct map.
//!
//! Private to `iommu`: its safe methods read and write any frame they are
//! given, so only the table code's own calls may reach it, and that code
//! passes only frames it got from [`KernelTableMemory::allocate_table`].

use super::page_table::{ENTRIES, TableMemory};
use crate::mm::layout::PAGE_SIZE;
use crate::mm::paging;
use crate::mm::physical::to_virtual;

/// Bytes in a CPU cache line (the flush granule).
const CACHE_LINE: u64 = 64;

/// The kernel's frames as IOMMU table memory.
pub(super) struct KernelTableMemory {
    /// The unit snoops CPU caches on its table walks; if not, every write is
    /// flushed from the caches before the unit may read it.
    pub coherent: bool,
}

impl KernelTableMemory {
    fn flush(&self, virtual_address: u64, length: u64) {
        if self.coherent {
            return;
        }
        let mut line = virtual_address & !(CACHE_LINE - 1);
        while line < virtual_address + length {
            // SAFETY: the line lies in a table frame the IOMMU owns, mapped
            // through the direct map; flushing a cache line changes no data.
            unsafe { core::arch::x86_64::_mm_clflush(line as *const u8) };
            line += CACHE_LINE;
        }
        // SAFETY: a fence has no memory-safety preconditions.
        unsafe { core::arch::x86_64::_mm_mfence() };
    }
}

impl TableMemory for KernelTableMemory {
    fn allocate_table(&mut self) -> Option<u64> {
        let frame = paging::allocate_frame().ok()?;
        // SAFETY: the frame was just handed out, so nothing else uses it, and
        // RAM is mapped writable through the direct map.
        unsafe { core::ptr::write_bytes(to_virtual(frame) as *mut u8, 0, PAGE_SIZE as usize) };
        self.flush(to_virtual(frame), PAGE_SIZE);
        Some(frame)
    }

    fn read_entry(&self, table: u64, index: usize) -> u64 {
        if index >= ENTRIES {
            return 0;
        }
        // SAFETY: `table` is a table frame this module allocated and has not
        // freed (see the module docs), mapped through the direct map; the
        // index is inside it and the entry 8-byte aligned.
        unsafe { core::ptr::read_volatile((to_virtual(table) as *const u64).add(index)) }
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        if index >= ENTRIES {
            return;
        }
        let address = to_virtual(table) + index as u64 * 8;
        // SAFETY: as in `read_entry`: an owned, mapped table frame, an aligned
        // entry inside it.
        unsafe { core::ptr::write_volatile(address as *mut u64, value) };
        self.flush(address, 8);
    }

    fn free_table(&mut self, table: u64) {
        // SAFETY: the table code frees a table only after the unit can no
        // longer reach it (its entry is cleared and the caches invalidated),
        // and never twice.
        if unsafe { paging::free_frame(table) }.is_err() {
            log::error!("iommu: table frame {table:#x} is not page-aligned usable RAM; not freed");
        }
    }
}
