//! The native syscall ABI: numbers, error codes and limits, shared by the kernel
//! (`kernel/src/proc`), the native runtime (`userland`) and the SDK's native
//! backend (see `docs/processes.md`).
//!
//! Number in `rax`; arguments in `rdi, rsi, rdx, r10, r8, r9`; result in `rax`,
//! negative for an error: an [`ErrorCode`], the same set host calls return.

use crate::ErrorCode;

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
/// `call(handle, request, length, reply, capacity, deadline) -> reply length`:
/// waits for the reply until `deadline` (in `r9`; monotonic nanoseconds, as
/// `time`) if it is not 0 ([`E_TIMED_OUT`] then); [`E_CLOSED`] if the server's
/// endpoint closes (it ended) before it answers.
pub const CALL: u64 = 5;
/// `send(handle, message, length)`.
pub const SEND: u64 = 6;
/// `receive(handle, buffer, capacity, token pointer, deadline) -> length`:
/// waits for a message, until `deadline` (monotonic nanoseconds, as `time`)
/// if it is not 0 ([`E_TIMED_OUT`] then). The token is 0 for a one-way
/// message, [`IRQ_TOKEN`] for an IRQ notification, else the call's reply token.
pub const RECEIVE: u64 = 7;
/// `reply(token, message, length)`: answers a call this process received
/// (the token is bound to the receiver; any other is [`E_BAD_TOKEN`]).
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
/// `irq_route(line, handle)`: IRQ `line` (granted, not held by another
/// process) arrives as IRQ notifications `[line]` on the endpoint of
/// `handle` (one this process receives on). The line stays masked until
/// [`IRQ_SET_ENABLED`].
pub const IRQ_ROUTE: u64 = 15;
/// `irq_set_enabled(line, enabled)`: unmask (1) or mask (0) a line routed to
/// this process; [`IRQ_ACK`] unmasks only an enabled line.
pub const IRQ_SET_ENABLED: u64 = 16;
/// `mmio_map_range(physical, length) -> address`: maps the granted MMIO
/// region holding `physical .. physical + length` (uncached, user RW, NX)
/// and returns the user address of `physical`.
pub const MMIO_MAP_RANGE: u64 = 17;
/// `ports_granted(first, count) -> 0`: whether one port grant of this
/// process covers `first .. first + count` ([`E_DENIED`] if not).
pub const PORTS_GRANTED: u64 = 18;
/// `pci_function(pointer, capacity) -> length`: writes the process's granted
/// PCI function (its first resolved `device` grant), encoded as
/// `cella-interfaces`' `pci::Function` record ([`E_NOT_FOUND`] without one).
pub const PCI_FUNCTION: u64 = 19;
/// `pci_config_read(offset, width) -> value`: reads that function's
/// configuration space (width 1, 2 or 4, aligned, offset below 256).
pub const PCI_CONFIG_READ: u64 = 20;
/// `pci_config_write(offset, width, value)`: writes it; a write touching a
/// BAR, the ROM address or the MSI-X capability is [`E_DENIED`].
pub const PCI_CONFIG_WRITE: u64 = 21;
/// `dma_alloc(size, device_address_pointer) -> address`: a zeroed DMA
/// buffer of `size` bytes (whole pages) from the process's `dma` grant,
/// mapped into the process (read/write, no-execute) at the returned address;
/// the address its device sees it at is stored (8 bytes) at the pointer.
pub const DMA_ALLOC: u64 = 22;
/// `dma_free(address)`: unmaps and frees the buffer mapped at `address`.
pub const DMA_FREE: u64 = 23;
/// `msix_route(entry, endpoint_handle) -> line`: a kernel vector for MSI-X
/// table entry `entry` of the process's granted function, its
/// notifications `[line]` queued on the endpoint (which the process
/// receives on); the kernel programs the entry and turns MSI-X on, the line
/// starts masked (`irq_set_enabled`, `irq_ack` as for any line). The same
/// line again for an entry the process holds. [`E_NOT_FOUND`] without
/// MSI-X, [`E_INVALID`] past the table, [`E_FULL`] while another holder
/// has the entry, [`E_NO_MEMORY`] with no vector free.
pub const MSIX_ROUTE: u64 = 24;
/// `loan(token, access, info_pointer) -> address`: maps the DMA buffer lent
/// with received call `token` (not answered yet) into the process, read-only
/// unless lent read-write, and writes `[address, device address, size,
/// writable (0 or 1)]` (four 8-byte words) at the pointer. `access` 2 asks for a buffer lent
/// read-write, 1 for either; [`E_NOT_FOUND`] when the call carries no such
/// loan. The mapping goes when the call is answered (`reply`).
pub const LOAN: u64 = 25;

/// The reply token `receive` reports for an IRQ notification (a message
/// `[line]` the kernel queued, not a client's).
pub const IRQ_TOKEN: u64 = u64::MAX;

// Syscall errors are the codes of [`ErrorCode`], the one error set of both
// guest boundaries; these names are the syscall side's spelling of them.

/// No such syscall ([`ErrorCode::NoSuchCall`]).
pub const E_NO_SYSCALL: i64 = ErrorCode::NoSuchCall.syscall_code();
/// A pointer or length names memory the process may not access that way
/// ([`ErrorCode::BadPointer`]).
pub const E_FAULT: i64 = ErrorCode::BadPointer.syscall_code();
/// An argument is out of range: a length over its limit, a bad index
/// ([`ErrorCode::BadArgument`]).
pub const E_INVALID: i64 = ErrorCode::BadArgument.syscall_code();
/// The process lacks the grant, or the handle the right
/// ([`ErrorCode::Denied`]).
pub const E_DENIED: i64 = ErrorCode::Denied.syscall_code();
/// The process's kernel-memory allowance (`kernel_memory` in its manifest
/// entry) is spent, or its handle table is full ([`ErrorCode::Exhausted`]).
pub const E_NO_MEMORY: i64 = ErrorCode::Exhausted.syscall_code();
/// The message is longer than [`crate::MAX_MESSAGE_BYTES`] ([`ErrorCode::TooLong`]).
pub const E_TOO_LONG: i64 = ErrorCode::TooLong.syscall_code();
/// The endpoint's queue is full, or the module serving it holds too many
/// requests unanswered ([`ErrorCode::Busy`]).
pub const E_FULL: i64 = ErrorCode::Busy.syscall_code();
/// The endpoint is gone, or the module serving it is not running
/// ([`ErrorCode::Closed`]).
pub const E_CLOSED: i64 = ErrorCode::Closed.syscall_code();
/// Unknown, answered or another receiver's reply token ([`ErrorCode::BadToken`]).
pub const E_BAD_TOKEN: i64 = ErrorCode::BadToken.syscall_code();
/// No endpoint has that name ([`ErrorCode::NotFound`]).
pub const E_NOT_FOUND: i64 = ErrorCode::NotFound.syscall_code();
/// The wait's deadline passed ([`ErrorCode::TimedOut`]).
pub const E_TIMED_OUT: i64 = ErrorCode::TimedOut.syscall_code();

/// Longest log line.
pub const MAX_LOG_BYTES: usize = 512;
/// Longest endpoint name.
pub const MAX_NAME_BYTES: usize = 64;
