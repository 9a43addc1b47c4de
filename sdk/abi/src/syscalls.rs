//! The native syscall ABI: numbers, error codes and limits, shared by the kernel
//! (`kernel/src/proc`), the native runtime (`userland`) and the SDK's native
//! backend (see `docs/processes.md`).
//!
//! Number in `rax`; arguments in `rdi, rsi, rdx, r10, r8`; result in `rax`,
//! negative for an error. IPC errors use `ipc::IpcError::code` (-10 .. -21).

/// `exit(code)`: ends the process.
pub const EXIT: u64 = 0;
/// `log(pointer, length)`: one line to the kernel log (at most [`MAX_LOG_BYTES`]).
pub const LOG: u64 = 1;
/// `yield()`.
pub const YIELD: u64 = 2;
/// `sleep(nanoseconds)` (at most 10 s per call).
pub const SLEEP: u64 = 3;
/// `lookup(name, length) -> handle`: a send handle to a named endpoint.
pub const LOOKUP: u64 = 4;
/// `call(handle, request, length, reply, capacity) -> reply length`.
pub const CALL: u64 = 5;
/// `send(handle, message, length)`.
pub const SEND: u64 = 6;
/// `receive(handle, buffer, capacity, token pointer) -> length`: waits.
pub const RECEIVE: u64 = 7;
/// `reply(token, message, length)`.
pub const REPLY: u64 = 8;
/// `register(name, length) -> handle`: a new endpoint with receive rights.
pub const REGISTER: u64 = 9;
/// `mmio_map(grant index) -> address`: maps a granted MMIO region.
pub const MMIO_MAP: u64 = 10;
/// `time() -> nanoseconds`.
pub const TIME: u64 = 11;
/// `null() -> 0`: the cheapest round trip into the kernel.
pub const NULL: u64 = 12;
/// `irq_attach(line) -> handle`: IRQ `line` (granted) arrives as one-byte
/// messages `[line]` on the returned receive handle; the line is unmasked.
pub const IRQ_ATTACH: u64 = 13;
/// `irq_ack(line)`: the device was serviced; unmask the line again.
pub const IRQ_ACK: u64 = 14;

/// No such syscall.
pub const E_NO_SYSCALL: i64 = -1;
/// A pointer or length names memory the process may not access that way.
pub const E_FAULT: i64 = -2;
/// An argument is out of range (a length over its limit, a bad index).
pub const E_INVALID: i64 = -3;
/// The process lacks the grant.
pub const E_DENIED: i64 = -4;

/// Longest log line.
pub const MAX_LOG_BYTES: usize = 512;
/// Longest endpoint name.
pub const MAX_NAME_BYTES: usize = 64;
