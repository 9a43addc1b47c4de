//! Saved execution contexts of kernel threads and the switch between them.
//!
//! A thread's context is its kernel stack pointer (the callee-saved registers
//! and the return address sit on its stack), its FPU/SSE image (`fxsave`), and
//! the top of its kernel stack (loaded into the TSS and the syscall entry on
//! every switch, for ring 3). Contexts are allocated once and never freed
//! (`&'static`): a dead thread's context, with its guarded stack, is recycled
//! for the next thread, so no pointer into a context can dangle.
//!
//! Each context has a state: `Empty` (never usable), `Saved` (a valid stack
//! pointer to resume), `Running` (the CPU is on it now). [`switch`] only goes
//! from the running context to a saved one, with interrupts off; that keeps the
//! saved stack pointers valid: nothing else runs on a stack whose context is
//! `Saved`.

use crate::mm::paging::KernelStack;
use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const EMPTY: u8 = 0;
const SAVED: u8 = 1;
const RUNNING: u8 = 2;

/// The 512-byte `fxsave` image.
#[repr(C, align(16))]
struct FxArea([u8; 512]);

impl FxArea {
    /// The state after `fninit` with SSE exceptions masked: FCW 0x037f, MXCSR 0x1f80.
    const fn initial() -> Self {
        let mut bytes = [0u8; 512];
        bytes[0] = 0x7f;
        bytes[1] = 0x03;
        bytes[24] = 0x80;
        bytes[25] = 0x1f;
        FxArea(bytes)
    }
}

/// One thread's saved CPU state.
pub struct Context {
    rsp: UnsafeCell<u64>,
    state: Cell<u8>,
    fpu: UnsafeCell<FxArea>,
    stack: Option<KernelStack>,
}

// SAFETY: a context is only read or written by `switch` and the constructors,
// with interrupts off, on the one CPU the kernel runs on (see the module docs);
// there is never concurrent access.
unsafe impl Sync for Context {}

/// Top of the running thread's kernel stack, for the syscall entry.
pub(super) static KERNEL_STACK_TOP: AtomicU64 = AtomicU64::new(0);

static ADOPTED: AtomicBool = AtomicBool::new(false);

/// Words on a new thread's stack below its top: 6 callee-saved registers,
/// the return address into the trampoline, and one word of padding so the
/// trampoline starts with a 16-byte aligned stack.
const INITIAL_FRAME_WORDS: u64 = 8;

// A new thread starts here, "returning" from its first switch: r12 holds the
// argument, r13 the entry function, which never returns.
core::arch::global_asm!(
    ".section .text.cella_thread_trampoline, \"ax\"",
    ".global cella_thread_trampoline",
    "cella_thread_trampoline:",
    "mov rdi, r12",
    "call r13",
    "ud2",
);

unsafe extern "C" {
    fn cella_thread_trampoline();
}

/// Saves the callee-saved registers on the current stack, stores the stack
/// pointer at `save`, loads `next` and pops the registers the other side saved.
///
/// # Safety
/// Interrupts are off; `save` is writable; `next` is a stack pointer saved by
/// this function (or built by [`Context::new_thread`]) on a stack nothing else uses.
#[unsafe(naked)]
unsafe extern "C" fn switch_stacks(save: *mut u64, next: u64) {
    core::arch::naked_asm!(
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    );
}

impl Context {
    /// The context of the code running now (the boot thread, on the boot
    /// stack). Only the first call succeeds.
    pub fn adopt_current() -> Option<&'static Context> {
        if ADOPTED.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(alloc::boxed::Box::leak(alloc::boxed::Box::new(Context {
            rsp: UnsafeCell::new(0),
            state: Cell::new(RUNNING),
            fpu: UnsafeCell::new(FxArea::initial()),
            stack: None,
        })))
    }

    /// A context that starts `entry(argument)` on `stack` when first switched to.
    pub fn new_thread(
        stack: KernelStack,
        entry: extern "C" fn(usize) -> !,
        argument: usize,
    ) -> &'static Context {
        let context = alloc::boxed::Box::leak(alloc::boxed::Box::new(Context {
            rsp: UnsafeCell::new(0),
            state: Cell::new(EMPTY),
            fpu: UnsafeCell::new(FxArea::initial()),
            stack: Some(stack),
        }));
        context.prepare(entry, argument);
        context
    }

    /// Makes a context that is not running start `entry(argument)` afresh on
    /// its own stack (recycling a dead thread's context). Returns `false` for
    /// the running context or one without a stack of its own.
    pub fn restart(&self, entry: extern "C" fn(usize) -> !, argument: usize) -> bool {
        if self.state.get() == RUNNING || self.stack.is_none() {
            return false;
        }
        self.prepare(entry, argument);
        true
    }

    fn prepare(&self, entry: extern "C" fn(usize) -> !, argument: usize) {
        let Some(stack) = self.stack else {
            return;
        };
        let frame = stack.top - INITIAL_FRAME_WORDS * 8;
        // r15, r14, r13 (entry), r12 (argument), rbx, rbp, return address, padding.
        let words: [u64; INITIAL_FRAME_WORDS as usize] = [
            0,
            0,
            entry as usize as u64,
            argument as u64,
            0,
            0,
            cella_thread_trampoline as *const () as u64,
            0,
        ];
        // SAFETY: the stack's pages are mapped writable kernel memory owned by
        // this context; it is not running (checked by the callers), so no code
        // executes on it; `frame` lies 64 bytes below its 16-byte aligned top.
        unsafe {
            core::ptr::copy_nonoverlapping(words.as_ptr(), frame as *mut u64, words.len());
            *self.fpu.get() = FxArea::initial();
            *self.rsp.get() = frame;
        }
        self.state.set(SAVED);
    }

    /// Top of this context's own kernel stack (`None` for the boot thread).
    pub fn stack_top(&self) -> Option<u64> {
        self.stack.map(|stack| stack.top)
    }

    /// The guard page under this context's stack.
    pub fn guard_page(&self) -> Option<u64> {
        self.stack.map(|stack| stack.guard_page)
    }
}

/// Why a switch was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchError {
    /// `from` is not the running context.
    NotRunning,
    /// `to` holds no saved state (it is running, or was never prepared).
    NotSaved,
    /// Interrupts were on.
    InterruptsOn,
}

/// Suspends the running context `from` and resumes `to`; returns when
/// something switches back to `from`. Interrupts must be off (they stay off;
/// the resumed side restores its own flag). The FPU/SSE registers travel with
/// their context.
///
/// # Errors
/// [`SwitchError`] if the states do not allow the switch; nothing changed then.
pub fn switch(from: &'static Context, to: &'static Context) -> Result<(), SwitchError> {
    if x86_64::instructions::interrupts::are_enabled() {
        return Err(SwitchError::InterruptsOn);
    }
    if from.state.get() != RUNNING {
        return Err(SwitchError::NotRunning);
    }
    if to.state.get() != SAVED {
        return Err(SwitchError::NotSaved);
    }
    if let Some(top) = to.stack_top() {
        KERNEL_STACK_TOP.store(top, Ordering::Relaxed);
        super::gdt::set_kernel_stack(top);
    }
    from.state.set(SAVED);
    to.state.set(RUNNING);
    // SAFETY: interrupts are off and this is the only CPU, so nothing else
    // touches either context; `from` is running, so its FPU area and stack
    // pointer slot are ours to write; `to` is saved, so its stack pointer is
    // one `switch_stacks` stored (or `prepare` built) on a stack nothing else
    // runs on, and its FPU area holds a valid `fxsave` image. The kernel
    // itself is soft-float, so FPU registers hold only thread state.
    unsafe {
        core::arch::asm!("fxsave64 [{}]", in(reg) from.fpu.get(), options(nostack, preserves_flags));
        core::arch::asm!("fxrstor64 [{}]", in(reg) to.fpu.get(), options(nostack, preserves_flags));
        switch_stacks(from.rsp.get(), *to.rsp.get());
    }
    Ok(())
}

/// Lets the CPU run `fxsave`/`fxrstor` and SSE: CR0.EM off, CR0.MP and
/// CR0.TS as needed, CR4.OSFXSR and CR4.OSXMMEXCPT on. Call once at boot.
pub fn enable_fpu() {
    use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
    // SAFETY: these bits only change how the CPU treats FPU/SSE instructions;
    // the kernel is compiled soft-float and does not depend on them faulting.
    unsafe {
        Cr0::update(|flags| {
            flags.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
            flags.insert(Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR);
        });
        Cr4::update(|flags| {
            flags.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
        });
        core::arch::asm!("fninit", options(nostack));
    }
}
