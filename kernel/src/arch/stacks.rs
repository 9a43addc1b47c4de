//! Statically allocated kernel stacks (boot and double fault), each with a guard page below it.
//!
//! The stacks live in `.bss`. When the kernel remaps itself, the guard page of
//! each is left unmapped, so overflowing a stack faults instead of silently
//! overwriting whatever lies below it. Stacks for threads come from the stack
//! area of the virtual memory layout instead (see `mm::paging`).

use core::cell::UnsafeCell;

const GUARD_SIZE: usize = 4096;

/// A stack of `SIZE` bytes above one guard page, page aligned.
#[repr(C, align(4096))]
pub struct GuardedStack<const SIZE: usize> {
    guard: UnsafeCell<[u8; GUARD_SIZE]>,
    stack: UnsafeCell<[u8; SIZE]>,
}

// SAFETY: the bytes are only ever touched by the CPU using them as a stack
// (one CPU, one user per stack); Rust code only takes their addresses.
unsafe impl<const SIZE: usize> Sync for GuardedStack<SIZE> {}

impl<const SIZE: usize> GuardedStack<SIZE> {
    const fn new() -> Self {
        Self {
            guard: UnsafeCell::new([0; GUARD_SIZE]),
            stack: UnsafeCell::new([0; SIZE]),
        }
    }

    /// Virtual address of the guard page (left unmapped).
    pub fn guard_page(&self) -> u64 {
        self.guard.get() as u64
    }

    /// Virtual address just above the stack, 16-byte aligned.
    pub fn top(&self) -> u64 {
        self.stack.get() as u64 + SIZE as u64
    }
}

/// Bytes of the boot stack, on which the whole boot sequence runs.
pub const BOOT_STACK_SIZE: usize = 256 * 1024;
/// Bytes of the double-fault stack (interrupt stack table entry).
pub const DOUBLE_FAULT_STACK_SIZE: usize = 32 * 1024;

/// The boot stack.
pub static BOOT_STACK: GuardedStack<BOOT_STACK_SIZE> = GuardedStack::new();
/// The stack the CPU switches to on a double fault, so a kernel stack overflow is reported.
pub static DOUBLE_FAULT_STACK: GuardedStack<DOUBLE_FAULT_STACK_SIZE> = GuardedStack::new();

/// Offset of the boot stack's top from the start of [`BOOT_STACK`] (for `pvh_entry.s`).
pub const BOOT_STACK_TOP_OFFSET: usize = GUARD_SIZE + BOOT_STACK_SIZE;

/// Guard pages the kernel remap must leave unmapped.
pub fn guard_pages() -> [u64; 2] {
    [BOOT_STACK.guard_page(), DOUBLE_FAULT_STACK.guard_page()]
}
