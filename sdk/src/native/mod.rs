//! The native backend: the same module source as a Cella native ring-3
//! process (feature `native`, target `x86_64-unknown-none`).
//!
//! Every ABI v1 host function has a counterpart here with the same name and
//! signature, implemented with the kernel's system calls (see
//! `docs/processes.md`), so nothing above `sys` changes. A module crate adds a
//! binary that calls [`native_process!`](crate::native_process), which
//! generates the process entry point: it runs the module's exported `init`,
//! registers an endpoint named after the module, then delivers each received
//! message to the exported `on_message` exactly as the Wasm host does (one
//! event at a time; `ipc_receive` copies the current message, `ipc_reply`
//! answers its caller; an unanswered request gets an empty reply).
//!
//! ABI pointers are 32-bit (wasm32). A native process's image, data and stack
//! all lie below 2 GiB (the kernel puts the stack top at `0x7fff_0000`), so
//! the conversion in `sys::pointer` is exact here too.
//!
//! Supported now: `log`, `ipc_receive`, `ipc_reply`, `time_now`. Device
//! access (ports, MMIO, IRQs, DMA), `ipc_send`, timers and capability
//! handles answer [`ErrorCode::Denied`]: the native process grants in the
//! kernel are not yet wired to the SDK's capability handles.
#![allow(unsafe_code)]

use cella_abi::ErrorCode;
use core::cell::UnsafeCell;

use cella_abi::syscalls::{EXIT, LOG, RECEIVE, REGISTER, REPLY, TIME};

fn syscall(number: u64, arguments: [u64; 5]) -> i64 {
    let result: i64;
    // SAFETY: `syscall` enters the kernel, which validates every argument
    // (pointers included); it clobbers only rax, rcx and r11.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as i64 => result,
            in("rdi") arguments[0],
            in("rsi") arguments[1],
            in("rdx") arguments[2],
            in("r10") arguments[3],
            in("r8") arguments[4],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    result
}

/// An ABI pointer back to a native address (exact below 2 GiB).
fn address(pointer: i32) -> u64 {
    u64::from(pointer as u32)
}

const MAX_MESSAGE: usize = cella_abi::MAX_MESSAGE_BYTES as usize;
const PENDING: usize = 32;

struct Current {
    bytes: [u8; MAX_MESSAGE],
    length: usize,
    /// Request id → kernel reply token (0: free slot).
    tokens: [(i32, u64); PENDING],
    next_request: i32,
}

struct Process(UnsafeCell<Current>);

// SAFETY: a native process has one thread, and the module runs one event at a
// time without re-entering the backend, so the state is never shared.
unsafe impl Sync for Process {}

static CURRENT: Process = Process(UnsafeCell::new(Current {
    bytes: [0; MAX_MESSAGE],
    length: 0,
    tokens: [(0, 0); PENDING],
    next_request: 1,
}));

fn current() -> &'static mut Current {
    // SAFETY: see `Process`: one thread, no re-entry, so this is the only
    // live reference whenever it is used (each caller uses it briefly).
    unsafe { &mut *CURRENT.0.get() }
}

fn denied() -> i32 {
    ErrorCode::Denied.code()
}

pub(crate) fn log(_level: i32, pointer: i32, length: i32) -> i32 {
    match syscall(LOG, [address(pointer), length as u32 as u64, 0, 0, 0]) {
        0 => 0,
        _ => ErrorCode::BadPointer.code(),
    }
}
pub(crate) fn cap_handle(_index: i32) -> i32 {
    denied()
}
pub(crate) fn port_in8(_handle: i32, _offset: i32) -> i64 {
    i64::from(denied())
}
pub(crate) fn port_in16(_handle: i32, _offset: i32) -> i64 {
    i64::from(denied())
}
pub(crate) fn port_in32(_handle: i32, _offset: i32) -> i64 {
    i64::from(denied())
}
pub(crate) fn port_out8(_handle: i32, _offset: i32, _value: i32) -> i32 {
    denied()
}
pub(crate) fn port_out16(_handle: i32, _offset: i32, _value: i32) -> i32 {
    denied()
}
pub(crate) fn port_out32(_handle: i32, _offset: i32, _value: i32) -> i32 {
    denied()
}
pub(crate) fn mmio_read8(_handle: i32, _offset: i32) -> i64 {
    i64::from(denied())
}
pub(crate) fn mmio_read16(_handle: i32, _offset: i32) -> i64 {
    i64::from(denied())
}
pub(crate) fn mmio_read32(_handle: i32, _offset: i32) -> i64 {
    i64::from(denied())
}
/// # Safety
/// None needed: nothing is written.
pub(crate) unsafe fn mmio_read64(_handle: i32, _offset: i32, _out_pointer: i32) -> i32 {
    denied()
}
pub(crate) fn mmio_write8(_handle: i32, _offset: i32, _value: i32) -> i32 {
    denied()
}
pub(crate) fn mmio_write16(_handle: i32, _offset: i32, _value: i32) -> i32 {
    denied()
}
pub(crate) fn mmio_write32(_handle: i32, _offset: i32, _value: i32) -> i32 {
    denied()
}
pub(crate) fn mmio_write64(_handle: i32, _offset: i32, _value: i64) -> i32 {
    denied()
}
pub(crate) fn irq_enable(_handle: i32) -> i32 {
    denied()
}
pub(crate) fn irq_disable(_handle: i32) -> i32 {
    denied()
}
pub(crate) fn irq_ack(_handle: i32) -> i32 {
    denied()
}
pub(crate) fn dma_alloc(_pool: i32, _size: i32) -> i32 {
    denied()
}
pub(crate) fn dma_free(_buffer: i32) -> i32 {
    denied()
}
pub(crate) fn dma_address(_buffer: i32) -> i64 {
    i64::from(denied())
}
pub(crate) fn dma_write(_buffer: i32, _offset: i32, _source: i32, _length: i32) -> i32 {
    denied()
}
/// # Safety
/// None needed: nothing is written.
pub(crate) unsafe fn dma_read(_buffer: i32, _offset: i32, _destination: i32, _length: i32) -> i32 {
    denied()
}
pub(crate) fn ipc_send(_endpoint: i32, _pointer: i32, _length: i32) -> i32 {
    denied()
}
/// # Safety
/// `pointer` must name `capacity` writable bytes (the SDK passes a live `&mut [u8]`).
pub(crate) unsafe fn ipc_receive(pointer: i32, capacity: i32) -> i32 {
    let state = current();
    let Ok(capacity) = usize::try_from(capacity) else {
        return ErrorCode::BadArgument.code();
    };
    let length = state.length.min(capacity);
    // SAFETY: the caller guarantees `capacity` writable bytes at `pointer`
    // (an exact address below 2 GiB); `length <= capacity`.
    unsafe {
        core::ptr::copy_nonoverlapping(state.bytes.as_ptr(), address(pointer) as *mut u8, length);
    }
    state.length as i32
}
pub(crate) fn ipc_reply(request: i32, pointer: i32, length: i32) -> i32 {
    let state = current();
    let Some(slot) = state
        .tokens
        .iter_mut()
        .find(|(id, token)| *id == request && *token != 0)
    else {
        return ErrorCode::BadArgument.code();
    };
    let token = core::mem::take(&mut slot.1);
    if syscall(REPLY, [token, address(pointer), length as u32 as u64, 0, 0]) < 0 {
        return ErrorCode::BadPointer.code();
    }
    0
}
pub(crate) fn time_now() -> i64 {
    syscall(TIME, [0; 5])
}
pub(crate) fn timer_set(_timer: i32, _deadline: i64) -> i32 {
    denied()
}
pub(crate) fn timer_cancel(_timer: i32) -> i32 {
    denied()
}

fn exit(code: i64) -> ! {
    syscall(EXIT, [code as u64, 0, 0, 0, 0]);
    loop {
        core::hint::spin_loop();
    }
}

/// The process's life: `init`, register `name`, then one message event at a time.
pub fn run(name: &str, init: extern "C" fn() -> i32, on_message: extern "C" fn(i32, i32)) -> ! {
    let status = init();
    if status != 0 {
        exit(i64::from(status));
    }
    let handle = syscall(REGISTER, [name.as_ptr() as u64, name.len() as u64, 0, 0, 0]);
    if handle < 0 {
        exit(handle);
    }
    loop {
        let mut token = 0u64;
        let state = current();
        let received = syscall(
            RECEIVE,
            [
                handle as u64,
                state.bytes.as_mut_ptr() as u64,
                MAX_MESSAGE as u64,
                &raw mut token as u64,
                0,
            ],
        );
        if received < 0 {
            exit(received);
        }
        state.length = (received as usize).min(MAX_MESSAGE);
        let request = if token == 0 {
            0
        } else {
            let request = state.next_request;
            state.next_request = if request >= i32::MAX - 1 {
                1
            } else {
                request + 1
            };
            if let Some(slot) = state.tokens.iter_mut().find(|(_, token)| *token == 0) {
                *slot = (request, token);
            }
            request
        };
        on_message(request, state.length as i32);
        // A request the module did not answer must not keep its caller waiting.
        let state = current();
        if let Some(slot) = state
            .tokens
            .iter_mut()
            .find(|(id, _)| *id == request && request != 0)
        {
            let token = core::mem::take(&mut slot.1);
            slot.0 = 0;
            if token != 0 {
                syscall(REPLY, [token, 0, 0, 0, 0]);
            }
        }
    }
}

#[cfg(feature = "panic-handler")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let mut text = crate::TextBuffer::<512>::new();
    let _ = write!(text, "panic: {}", info.message());
    crate::log::write(crate::LogLevel::Error, text.as_str());
    exit(101)
}

/// Generates a native process's `_start` for a module crate: its exported
/// `init` and `on_message` run as the Wasm host would run them.
///
/// ```ignore
/// // src/bin/native.rs of a module crate (built with `--features native`)
/// #![no_std]
/// #![no_main]
/// cella_sdk::native_process!(name: "checksum", module: cella_checksum);
/// ```
#[macro_export]
macro_rules! native_process {
    (name: $name:literal, module: $crate_name:ident $(,)?) => {
        /// The process entry point (generated by `cella_sdk::native_process!`).
        #[unsafe(no_mangle)]
        #[unsafe(link_section = ".text._start")]
        pub extern "C" fn _start() -> ! {
            $crate::native::run($name, $crate_name::init, $crate_name::on_message)
        }
    };
}
