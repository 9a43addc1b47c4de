//! `SYSCALL`/`SYSRET`: the MSRs and the entry stub for native processes.
//!
//! `SYSCALL` loads the kernel code segment from `STAR`, jumps to `LSTAR` with
//! the user RIP in `rcx` and RFLAGS in `r11`, and clears the RFLAGS bits in
//! `SFMASK` (IF among them, so the stack switch below cannot be interrupted).
//! The stub saves the user stack pointer, switches to the running thread's
//! kernel stack (`context::KERNEL_STACK_TOP`, set on every switch), pushes a
//! [`SyscallFrame`] and calls the registered syscall handler (see `handlers`). Callee-saved registers
//! are preserved by the Rust code; the result goes back in `rax`.

use super::context::KERNEL_STACK_TOP;
use super::gdt::{KERNEL_CODE_SELECTOR, USER_DATA_SELECTOR};
use core::sync::atomic::AtomicU64;
use x86_64::registers::model_specific::{Efer, EferFlags, Msr};

/// The user stack pointer between `syscall` and the push onto the kernel
/// stack (interrupts are off in between; one CPU).
static USER_STACK_SCRATCH: AtomicU64 = AtomicU64::new(0);

/// What the stub pushed, lowest address first.
#[derive(Debug)]
#[repr(C)]
pub struct SyscallFrame {
    /// Syscall number in, result out.
    pub rax: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub r10: u64,
    pub r8: u64,
    pub r9: u64,
    /// User RIP to return to.
    pub rcx: u64,
    /// User RFLAGS.
    pub r11: u64,
    /// User stack pointer.
    pub rsp: u64,
}

#[unsafe(naked)]
extern "C" fn syscall_entry() {
    core::arch::naked_asm!(
        "mov [rip + {scratch}], rsp",
        "mov rsp, [rip + {kernel_top}]",
        "push qword ptr [rip + {scratch}]",
        "push r11",
        "push rcx",
        "push r9",
        "push r8",
        "push r10",
        "push rdx",
        "push rsi",
        "push rdi",
        "push rax",
        "mov rdi, rsp",
        "cld",
        "call {dispatch}",
        "cli",
        "pop rax",
        "pop rdi",
        "pop rsi",
        "pop rdx",
        "pop r10",
        "pop r8",
        "pop r9",
        "pop rcx",
        "pop r11",
        "pop rsp",
        "sysretq",
        scratch = sym USER_STACK_SCRATCH,
        kernel_top = sym KERNEL_STACK_TOP,
        dispatch = sym dispatch,
    );
}

extern "C" fn dispatch(frame: &mut SyscallFrame) {
    match super::handlers::registered() {
        Some(handlers) => (handlers.syscall)(frame),
        None => frame.rax = u64::MAX,
    }
}

const STAR: u32 = 0xc000_0081;
const LSTAR: u32 = 0xc000_0082;
const SFMASK: u32 = 0xc000_0084;
/// IF, TF, DF and AC are cleared on entry.
const MASKED_FLAGS: u64 = 0x200 | 0x100 | 0x400 | 0x4_0000;

/// Enables `SYSCALL` and points it at the stub. Call once at boot.
pub fn initialise() {
    // SYSRET loads CS = base + 16 and SS = base + 8 (RPL 3): user code 0x23,
    // user data 0x1b. SYSCALL loads CS = kernel code, SS = kernel code + 8.
    let sysret_base = u64::from(USER_DATA_SELECTOR) - 8;
    let star = (sysret_base << 48) | (u64::from(KERNEL_CODE_SELECTOR) << 32);
    // SAFETY: these MSRs only configure the `syscall` instruction; the GDT
    // (see `gdt`) has kernel code, kernel data, user data, user code in the
    // order they imply, and the entry stub is valid code.
    unsafe {
        Msr::new(STAR).write(star);
        Msr::new(LSTAR).write(syscall_entry as *const () as u64);
        Msr::new(SFMASK).write(MASKED_FLAGS);
        Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
}
