//! x86_64 machine code: boot entry, serial port, segments, interrupts, QEMU exit.
//!
//! This is one of the two places (with `mm`) where `unsafe` is allowed; every
//! block says which invariant makes it sound. Only `port_io`'s range checks
//! are built on the host too, for their tests.

#[cfg(target_os = "none")]
pub mod context;
#[cfg(target_os = "none")]
pub mod deliberate;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod handlers;
#[cfg(target_os = "none")]
pub mod interrupts;
#[cfg(target_os = "none")]
pub mod pic;
#[cfg(target_os = "none")]
pub mod pit;
pub mod port_io;
#[cfg(target_os = "none")]
pub mod qemu;
#[cfg(target_os = "none")]
pub mod serial;
#[cfg(target_os = "none")]
pub mod stacks;
#[cfg(target_os = "none")]
pub mod syscall;
#[cfg(target_os = "none")]
pub mod tsc;
#[cfg(target_os = "none")]
pub mod user;

/// Emits the PVH note and the 32-bit entry code (see `pvh_entry.s`), which
/// ends by calling `$entry`, an `extern "C" fn(u64) -> !` that takes the
/// physical address of `hvm_start_info`, on the boot stack.
///
/// The crate root invokes it once with the boot sequence's entry, so `arch`
/// names no part of the kernel above it (the path of `pvh_entry.s` is
/// relative to the crate root, where the macro is invoked).
#[macro_export]
macro_rules! pvh_entry {
    ($entry:path) => {
        core::arch::global_asm!(
            include_str!("arch/pvh_entry.s"),
            kernel_entry = sym $entry,
            boot_stack = sym $crate::arch::stacks::BOOT_STACK,
            boot_stack_top_offset = const $crate::arch::stacks::BOOT_STACK_TOP_OFFSET,
            options(att_syntax)
        );
    };
}

#[cfg(target_os = "none")]
/// Stops this CPU for good: interrupts off, then `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
