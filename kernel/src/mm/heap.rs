//! The kernel heap: `alloc` (Box, Vec, BTreeMap) on a region mapped at boot.
//!
//! A first-fit linked-list allocator behind a spin lock taken with interrupts
//! off. When a request cannot be met, the allocator logs the request and the
//! heap's state, and returns null; Rust then reports "memory allocation of N
//! bytes failed" through the panic handler, which ends the run with a report.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use linked_list_allocator::Heap;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// The global allocator type.
pub struct KernelHeap {
    heap: Mutex<Heap>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: Mutex::new(Heap::empty()),
};

/// Heap usage figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeapStatistics {
    pub size: usize,
    pub used: usize,
}

/// Hands the mapped region `[start, start + size)` to the allocator.
///
/// # Safety
/// The region must be mapped writable, unused by anything else, and stay so
/// for the kernel's lifetime; call once.
pub(super) unsafe fn initialise(start: u64, size: usize) {
    without_interrupts(|| {
        // SAFETY: the caller guarantees the region is mapped, exclusive and permanent.
        unsafe { HEAP.heap.lock().init(start as *mut u8, size) }
    });
    READY.store(true, core::sync::atomic::Ordering::Release);
}

/// Whether the heap has been given its memory.
pub fn ready() -> bool {
    READY.load(core::sync::atomic::Ordering::Acquire)
}

static READY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Current size and use of the heap.
pub fn statistics() -> HeapStatistics {
    without_interrupts(|| {
        let heap = HEAP.heap.lock();
        HeapStatistics {
            size: heap.size(),
            used: heap.used(),
        }
    })
}

// SAFETY: allocations come from a region given to the allocator exclusively;
// `linked_list_allocator` returns blocks that satisfy the layout and never
// overlap live blocks; the lock serialises every access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let result = without_interrupts(|| self.heap.lock().allocate_first_fit(layout));
        match result {
            Ok(block) => block.as_ptr(),
            Err(()) => {
                let statistics = statistics();
                log::error!(
                    "heap exhausted: cannot allocate {} bytes (align {}); heap {} KiB, {} KiB in use",
                    layout.size(),
                    layout.align(),
                    statistics.size / 1024,
                    statistics.used / 1024
                );
                ptr::null_mut()
            }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(block) = NonNull::new(block) else {
            return;
        };
        // SAFETY: the caller (Rust's alloc machinery) passes a block this
        // allocator returned for the same layout, not yet freed.
        without_interrupts(|| unsafe { self.heap.lock().deallocate(block, layout) });
    }
}
