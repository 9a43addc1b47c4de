//! The kernel heap: `alloc` (Box, Vec, BTreeMap) on a region mapped at boot.
//!
//! A first-fit linked-list allocator behind a spin lock taken with interrupts
//! off. When a request cannot be met, the allocator logs the request and the
//! heap's state, and returns null: fallible allocations (`try_reserve`, which
//! Wasm linear memory uses) fail; an infallible one ends the run with Rust's
//! "memory allocation of N bytes failed" report. Modules never get that far:
//! `crate::mm::budget` keeps a reserve for the kernel and admits module work
//! only within the module's limit.
//!
//! Every block is charged to an account: the account of the thread that
//! allocated it (0 is the kernel; module slots have their own, see
//! [`charge_to`](crate::sched::charge_to)). The account is written in a
//! header before the block, so freeing credits the account that was charged,
//! whichever thread frees it.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
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

pub use super::accounts::{ACCOUNTS, KERNEL_ACCOUNT};

/// Bytes charged to each account (headers included).
static CHARGED: [AtomicUsize; ACCOUNTS] = [const { AtomicUsize::new(0) }; ACCOUNTS];

/// The account of the running thread (the scheduler sets it at each switch).
static CURRENT_ACCOUNT: AtomicU32 = AtomicU32::new(KERNEL_ACCOUNT);

/// Bytes of header before each block, holding its account: at least 8 (the
/// allocator's own granule), and the block's alignment so the block stays
/// aligned. (Asking the allocator for 16-byte alignment on every block made
/// its first-fit search skip holes: a module restart took 1.2 ms, not 0.38.)
fn header_bytes(layout: Layout) -> usize {
    layout.align().max(8)
}

/// The block's layout with room for its header; `None` if it would overflow.
fn with_header(layout: Layout) -> Option<Layout> {
    let header = header_bytes(layout);
    Layout::from_size_align(layout.size().checked_add(header)?, header).ok()
}

/// The account allocations of the running thread are charged to.
pub fn current_account() -> u32 {
    CURRENT_ACCOUNT.load(Ordering::Relaxed)
}

/// Makes `account` the running thread's account (the scheduler, at a switch).
pub(crate) fn set_current_account(account: u32) {
    CURRENT_ACCOUNT.store(account, Ordering::Relaxed);
}

/// Bytes currently charged to `account` (0 for an account out of range).
pub fn charged(account: u32) -> usize {
    CHARGED
        .get(account as usize)
        .map_or(0, |bytes| bytes.load(Ordering::Relaxed))
}

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

/// Bytes free in the heap (not necessarily in one piece).
pub fn free_bytes() -> usize {
    let statistics = statistics();
    statistics.size.saturating_sub(statistics.used)
}

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
// overlap live blocks; the lock serialises every access. Each block handed
// out starts `header_bytes(layout)` into a block allocated with that much
// more room and at least the requested alignment, so it is aligned, lies
// inside its block, and its header lies before it inside the same block.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = with_header(layout) else {
            return ptr::null_mut();
        };
        let result = without_interrupts(|| self.heap.lock().allocate_first_fit(outer));
        match result {
            Ok(block) => {
                let header = header_bytes(layout);
                let account = current_account().min(ACCOUNTS as u32 - 1);
                // SAFETY: the block is `layout.size() + header` bytes long, so
                // `header` bytes in is still inside it (or one past its end
                // for a zero-size request, which is never dereferenced).
                let user = unsafe { block.as_ptr().add(header) };
                // SAFETY: `header >= 8`, so the 4 bytes at `user - 8` lie in
                // the block's header; `user` is aligned to at least 8, so
                // `user - 8` is 8-aligned and fit for a `u32`.
                unsafe { user.sub(8).cast::<u32>().write(account) };
                CHARGED[account as usize].fetch_add(outer.size(), Ordering::Relaxed);
                user
            }
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

    unsafe fn dealloc(&self, user: *mut u8, layout: Layout) {
        let Some(outer) = with_header(layout) else {
            return;
        };
        if user.is_null() {
            return;
        }
        let header = header_bytes(layout);
        // SAFETY: the caller passes a pointer `alloc` returned for this
        // layout, which wrote the account 8 bytes before it, inside the
        // block's header.
        let account = unsafe { user.sub(8).cast::<u32>().read() };
        if let Some(charged) = CHARGED.get(account as usize) {
            charged.fetch_sub(outer.size(), Ordering::Relaxed);
        }
        // SAFETY: `alloc` returned `user` as `header` bytes into the block it
        // got for `outer`, so this is that block's start.
        let Some(block) = NonNull::new(unsafe { user.sub(header) }) else {
            return;
        };
        // SAFETY: the block was allocated by this allocator with layout
        // `outer` and is not yet freed (the caller frees `user` once).
        without_interrupts(|| unsafe { self.heap.lock().deallocate(block, outer) });
    }
}
