//! The interrupt descriptor table, the entry stubs for all 256 vectors, and the CPU exception reports.
//!
//! `extern "x86-interrupt"` is nightly-only, so entry is hand-written: one
//! 16-byte stub per vector (generated with `.rept`) pushes a zero where the
//! CPU pushes no error code, then the vector number, and jumps to a common
//! routine that saves every general register into a [`TrapFrame`], calls
//! [`dispatch`], restores the registers and returns with `iretq`.
//!
//! Every CPU exception is fatal to the kernel for now: it prints the vector,
//! error code, RIP, CR2 for page faults and all registers, then ends the QEMU
//! run with the failure status. A double fault runs on its own stack (see
//! `gdt`), so even a stack overflow is reported.

use super::gdt::DOUBLE_FAULT_STACK_INDEX;
use super::qemu::{self, ExitCode};
use crate::console;
use core::fmt::Write;
use spin::Once;
use x86_64::VirtAddr;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::InterruptDescriptorTable;

/// Bytes between consecutive stubs in the stub table.
const STUB_SIZE: u64 = 16;

// The stubs and the common entry. Vectors 8, 10-14, 17, 21, 29 and 30 are the
// ones where the CPU pushes an error code itself.
core::arch::global_asm!(
    ".section .text.interrupt_stubs, \"ax\"",
    ".p2align 4",
    ".global cella_interrupt_stubs",
    "cella_interrupt_stubs:",
    ".set vector, 0",
    ".rept 256",
    ".p2align 4",
    ".if (vector == 8) || (vector == 10) || (vector == 11) || (vector == 12) || (vector == 13) || (vector == 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)",
    ".else",
    "push 0",
    ".endif",
    "push vector",
    "jmp cella_interrupt_common",
    ".set vector, vector + 1",
    ".endr",
    "",
    ".p2align 4",
    "cella_interrupt_common:",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    // 5 CPU words + error code + vector + 15 registers keep RSP 16-byte aligned.
    "mov rdi, rsp",
    "cld",
    "call {dispatch}",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbx",
    "pop rax",
    "add rsp, 16",
    "iretq",
    dispatch = sym dispatch,
);

unsafe extern "C" {
    /// First of the 256 stubs; stub `n` starts `n * STUB_SIZE` bytes later.
    static cella_interrupt_stubs: u8;
}

/// The registers saved on entry, lowest address first.
#[derive(Debug)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

static TABLE: Once<InterruptDescriptorTable> = Once::new();

fn stub_address(vector: u8) -> VirtAddr {
    let base = core::ptr::addr_of!(cella_interrupt_stubs) as u64;
    VirtAddr::new(base + u64::from(vector) * STUB_SIZE)
}

/// Builds and loads the IDT. Interrupts stay disabled.
pub fn initialise() {
    let table = TABLE.call_once(|| {
        let mut table = InterruptDescriptorTable::new();
        // SAFETY: each address is the start of the matching stub, which saves
        // all registers, passes the frame to `dispatch`, restores them and
        // returns with iretq, handling the vector's error code correctly; the
        // double-fault stack index names the TSS slot `gdt` fills.
        unsafe {
            table.divide_error.set_handler_addr(stub_address(0));
            table.debug.set_handler_addr(stub_address(1));
            table
                .non_maskable_interrupt
                .set_handler_addr(stub_address(2));
            table.breakpoint.set_handler_addr(stub_address(3));
            table.overflow.set_handler_addr(stub_address(4));
            table.bound_range_exceeded.set_handler_addr(stub_address(5));
            table.invalid_opcode.set_handler_addr(stub_address(6));
            table.device_not_available.set_handler_addr(stub_address(7));
            table
                .double_fault
                .set_handler_addr(stub_address(8))
                .set_stack_index(DOUBLE_FAULT_STACK_INDEX);
            table.invalid_tss.set_handler_addr(stub_address(10));
            table.segment_not_present.set_handler_addr(stub_address(11));
            table.stack_segment_fault.set_handler_addr(stub_address(12));
            table
                .general_protection_fault
                .set_handler_addr(stub_address(13));
            table.page_fault.set_handler_addr(stub_address(14));
            table.x87_floating_point.set_handler_addr(stub_address(16));
            table.alignment_check.set_handler_addr(stub_address(17));
            table.machine_check.set_handler_addr(stub_address(18));
            table.simd_floating_point.set_handler_addr(stub_address(19));
            table.virtualization.set_handler_addr(stub_address(20));
            table
                .cp_protection_exception
                .set_handler_addr(stub_address(21));
            table
                .hv_injection_exception
                .set_handler_addr(stub_address(28));
            table
                .vmm_communication_exception
                .set_handler_addr(stub_address(29));
            table.security_exception.set_handler_addr(stub_address(30));
            for vector in 32..=255u8 {
                table[vector].set_handler_addr(stub_address(vector));
            }
        }
        table
    });
    table.load();
}

/// Called by the common entry with the saved registers.
extern "C" fn dispatch(frame: &mut TrapFrame) {
    let handlers = super::handlers::registered();
    match (frame.vector, handlers) {
        // A fault in ring 3 kills only the process (reported); never returns.
        (0..=31, Some(handlers)) if frame.cs & 3 == 3 => (handlers.user_fault)(frame),
        (0..=31, _) => report_exception_and_exit(frame),
        (vector @ 32..=79, Some(handlers)) => (handlers.irq)((vector - 32) as u8),
        (255, _) => {}
        (vector, _) => log::warn!("unexpected interrupt on vector {vector}, ignored"),
    }
}

/// The CPU's name for an exception vector.
pub fn exception_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "divide error",
        "debug",
        "non-maskable interrupt",
        "breakpoint",
        "overflow",
        "bound range exceeded",
        "invalid opcode",
        "device not available",
        "double fault",
        "coprocessor segment overrun",
        "invalid TSS",
        "segment not present",
        "stack-segment fault",
        "general protection fault",
        "page fault",
        "reserved",
        "x87 floating-point error",
        "alignment check",
        "machine check",
        "SIMD floating-point error",
        "virtualization exception",
        "control protection exception",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "hypervisor injection exception",
        "VMM communication exception",
        "security exception",
        "reserved",
    ];
    usize::try_from(vector)
        .ok()
        .and_then(|index| NAMES.get(index))
        .copied()
        .unwrap_or("interrupt")
}

fn report_exception_and_exit(frame: &TrapFrame) -> ! {
    // The console lock may be held by the code that faulted: write around it.
    let mut out = console::emergency_writer();
    let _ = write!(
        out,
        "\nEXCEPTION: {} (vector {}) error_code={:#x} rip={:#018x}",
        exception_name(frame.vector),
        frame.vector,
        frame.error_code,
        frame.rip
    );
    if frame.vector == 14 {
        let address = Cr2::read_raw();
        let _ = write!(out, " cr2={address:#018x}");
        let _ = write!(out, "\n  {}", describe_page_fault(frame.error_code));
        if hits_guard_page(address) {
            let _ = write!(
                out,
                "\n  the address is a kernel stack's guard page: stack overflow"
            );
        }
    }
    if frame.vector == 8 && hits_guard_page(frame.rsp.wrapping_sub(8)) {
        let _ = write!(
            out,
            "\n  the stack pointer reached a kernel stack's guard page: stack overflow"
        );
    }
    let _ = write!(
        out,
        "\n  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}\
         \n  rsi={:#018x} rdi={:#018x} rbp={:#018x} rsp={:#018x}\
         \n  r8 ={:#018x} r9 ={:#018x} r10={:#018x} r11={:#018x}\
         \n  r12={:#018x} r13={:#018x} r14={:#018x} r15={:#018x}\
         \n  cs={:#x} ss={:#x} rflags={:#x}\n",
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx,
        frame.rsi,
        frame.rdi,
        frame.rbp,
        frame.rsp,
        frame.r8,
        frame.r9,
        frame.r10,
        frame.r11,
        frame.r12,
        frame.r13,
        frame.r14,
        frame.r15,
        frame.cs,
        frame.ss,
        frame.rflags,
    );
    qemu::exit(ExitCode::Failure)
}

/// Whether `address` lies in the guard page under one of the static kernel stacks.
fn hits_guard_page(address: u64) -> bool {
    super::stacks::guard_pages()
        .iter()
        .any(|&guard| (guard..guard + 4096).contains(&address))
}

/// Reads a page-fault error code as a sentence.
pub fn describe_page_fault(error_code: u64) -> &'static str {
    let present = error_code & 0x1 != 0;
    let write = error_code & 0x2 != 0;
    let user = error_code & 0x4 != 0;
    let fetch = error_code & 0x10 != 0;
    match (present, write, user, fetch) {
        (_, _, _, true) if present => "instruction fetch from a no-execute page",
        (_, _, _, true) => "instruction fetch from a non-present page",
        (true, true, false, _) => "kernel write to a read-only page",
        (true, false, false, _) => "kernel read denied on a present page",
        (false, true, false, _) => "kernel write to a non-present page",
        (false, false, false, _) => "kernel read from a non-present page",
        (true, _, true, _) => "user access denied on a present page",
        (false, _, true, _) => "user access to a non-present page",
    }
}
