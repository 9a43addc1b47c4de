//! Entering ring 3 for the first time.

use super::gdt::{USER_CODE_SELECTOR, USER_DATA_SELECTOR};

/// Leaves the kernel for good on this thread's first entry into its process:
/// `iretq` to `entry` with `stack` in ring 3, interrupts on, every general
/// register zeroed (nothing of the kernel leaks). Later returns to user mode
/// go through `sysretq` or `iretq` from the saved frames.
pub fn enter(entry: u64, stack: u64) -> ! {
    x86_64::instructions::interrupts::disable();
    // SAFETY: the caller's address space is active and maps `entry` (user,
    // executable) and `stack` (user, writable); the selectors are the GDT's
    // user segments; RFLAGS 0x202 = IF plus the reserved bit. `iretq` never
    // returns here: the thread continues in ring 3 and re-enters the kernel
    // only through syscalls and interrupts on its own kernel stack.
    unsafe {
        core::arch::asm!(
            "push {ss}",
            "push {stack}",
            "push 0x202",
            "push {cs}",
            "push {entry}",
            "xor eax, eax",
            "xor ebx, ebx",
            "xor ecx, ecx",
            "xor edx, edx",
            "xor esi, esi",
            "xor edi, edi",
            "xor ebp, ebp",
            "xor r8d, r8d",
            "xor r9d, r9d",
            "xor r10d, r10d",
            "xor r11d, r11d",
            "xor r12d, r12d",
            "xor r13d, r13d",
            "xor r14d, r14d",
            "xor r15d, r15d",
            "iretq",
            ss = in(reg) u64::from(USER_DATA_SELECTOR),
            stack = in(reg) stack,
            cs = in(reg) u64::from(USER_CODE_SELECTOR),
            entry = in(reg) entry,
            options(noreturn)
        );
    }
}
