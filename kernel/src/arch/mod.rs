//! x86_64 machine code: boot entry, serial port, segments, interrupts, QEMU exit.
//!
//! This is one of the two places (with `mm`) where `unsafe` is allowed; every
//! block says which invariant makes it sound.

pub mod context;
pub mod deliberate;
pub mod gdt;
pub mod interrupts;
pub mod pic;
pub mod pit;
pub mod port_io;
pub mod qemu;
pub mod serial;
pub mod stacks;
pub mod syscall;
pub mod tsc;
pub mod user;

/// The PVH note and the 32-bit entry code (see `pvh_entry.s`).
mod pvh_entry {
    core::arch::global_asm!(
        include_str!("pvh_entry.s"),
        kernel_entry = sym crate::boot::kernel_entry,
        boot_stack = sym super::stacks::BOOT_STACK,
        boot_stack_top_offset = const super::stacks::BOOT_STACK_TOP_OFFSET,
        options(att_syntax)
    );
}

/// Stops this CPU for good: interrupts off, then `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
