//! ABI v1 calls for logging, capability handles, messages and time, on
//! the kernel's syscalls, with the Wasm host's checks and error codes
//! (`wasm-host/src/calls/{log,ipc,time}.rs`).
//!
//! Pointers come only from the SDK's safe wrappers (`sys` is crate-private):
//! each names a live slice of the given length.

use super::process::{MESSAGE_BYTES, conclude, now, with, write_log};
use super::syscall::{address, size, syscall};
use super::table::{Entry, length as checked_length};
use cella_abi::MAX_MESSAGE_BYTES;
use cella_abi::syscalls::{E_CLOSED, E_FAULT, E_NOT_FOUND, E_TOO_LONG, LOAN, LOOKUP, REPLY, SEND};
use cella_abi::{CapabilityKind, ErrorCode, HostFunction, LogLevel, MAX_LOG_BYTES};
use cella_abi::{LEND_READ_ONLY, LEND_READ_WRITE};

fn busy() -> ErrorCode {
    ErrorCode::Busy
}

pub(crate) fn log(level: i32, pointer: i32, length: i32) -> i32 {
    let result = (|| {
        let level = LogLevel::from_code(level).ok_or(ErrorCode::BadArgument)?;
        let length = checked_length(length, MAX_LOG_BYTES)?;
        if length == 0 {
            write_log(level, "");
            return Ok(0);
        }
        // SAFETY: `sys` is crate-private and every caller passes the pointer
        // and length of a live byte slice (`sys::pointer`, `sys::length`),
        // exact below 2 GiB; `length > 0`, so the pointer is not dangling.
        let bytes = unsafe { core::slice::from_raw_parts(address(pointer) as *const u8, length) };
        let text = core::str::from_utf8(bytes).map_err(|_| ErrorCode::BadUtf8)?;
        write_log(level, text);
        Ok(0)
    })();
    conclude(HostFunction::Log, result)
}

pub(crate) fn cap_handle(index: i32) -> i32 {
    let result = with(|state| state.table.handle_for_index(index)).unwrap_or(Err(busy()));
    conclude(HostFunction::CapabilityHandle, result)
}

/// The kernel send handle of an endpoint capability, looked up now if the
/// endpoint was not registered when the process started.
fn kernel_endpoint(handle: i32) -> Result<(usize, u64), ErrorCode> {
    let (slot, entry) = with(|state| state.table.resolve(handle, CapabilityKind::Endpoint))
        .unwrap_or(Err(busy()))?;
    let Entry::Endpoint { name, kernel } = entry else {
        return Err(ErrorCode::BadHandle);
    };
    if let Some(kernel) = kernel {
        return Ok((slot, kernel));
    }
    let found = syscall(LOOKUP, [name.as_ptr() as u64, size(name.len()), 0, 0, 0]);
    let kernel = u64::try_from(found).map_err(|_| busy())?;
    remember(slot, Some(kernel));
    Ok((slot, kernel))
}

fn remember(slot: usize, handle: Option<u64>) {
    with(|state| {
        if let Some(Entry::Endpoint { kernel, .. }) = state.table.entry_mut(slot) {
            *kernel = handle;
        }
    });
}

pub(crate) fn ipc_send(endpoint: i32, pointer: i32, length: i32) -> i32 {
    let result = (|| {
        let (slot, kernel) = kernel_endpoint(endpoint)?;
        let length = checked_length(length, MAX_MESSAGE_BYTES)?;
        match syscall(SEND, [kernel, address(pointer), size(length), 0, 0]) {
            0 => Ok(0),
            E_FAULT => Err(ErrorCode::BadPointer),
            // Over the ABI's message limit (checked above; kept for safety).
            E_TOO_LONG => Err(ErrorCode::BadArgument),
            error => {
                if error == E_CLOSED || error == E_NOT_FOUND {
                    // The server ended: look the name up again next time.
                    remember(slot, None);
                }
                Err(busy())
            }
        }
    })();
    conclude(HostFunction::IpcSend, result)
}

/// # Safety
/// `pointer` must name `capacity` writable bytes (the SDK passes a live `&mut [u8]`).
pub(crate) unsafe fn ipc_receive(pointer: i32, capacity: i32) -> i32 {
    let result = checked_length(capacity, u32::MAX >> 1).and_then(|capacity| {
        with(|state| {
            if !state.present {
                return Err(ErrorCode::NoMessage);
            }
            let copied = state.length.min(capacity);
            // SAFETY: the caller guarantees `capacity` writable bytes at
            // `pointer` (exact below 2 GiB), `copied <= capacity`, and the
            // source is the backend's own buffer, not the module's.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    state.message.as_ptr(),
                    address(pointer) as *mut u8,
                    copied,
                );
            }
            Ok(state.length as i32)
        })
        .unwrap_or(Err(busy()))
    });
    conclude(HostFunction::IpcReceive, result)
}

pub(crate) fn ipc_reply(request: i32, pointer: i32, length: i32) -> i32 {
    let result = (|| {
        let token = with(|state| match state.pending.token(request) {
            Some(token) if request > 0 => Ok(token),
            _ => Err(ErrorCode::BadArgument),
        })
        .unwrap_or(Err(busy()))?;
        let length = checked_length(length, MAX_MESSAGE_BYTES)?;
        let outcome = syscall(REPLY, [token, address(pointer), size(length), 0, 0]);
        if outcome != E_FAULT && outcome != E_TOO_LONG {
            // Answered, or its caller is gone: either way no longer pending,
            // and a buffer lent with it is gone.
            with(|state| state.pending.remove(request));
            forget_loan(request);
        }
        match outcome {
            0 => Ok(0),
            E_FAULT => Err(ErrorCode::BadPointer),
            _ => Err(ErrorCode::BadArgument),
        }
    })();
    conclude(HostFunction::IpcReply, result)
}

/// `ipc_call` is not available to native processes yet: their event loop
/// has no reply events. Refused with [`ErrorCode::NoSuchCall`] without
/// counting it as a bad call (a native module calls its server with the
/// kernel's blocking `call` syscall instead; see `docs/processes.md`).
pub(crate) fn ipc_call(_endpoint: i32, _pointer: i32, _length: i32, _deadline: i32) -> i32 {
    ErrorCode::NoSuchCall.code()
}

/// `ipc_wait`: a native process makes no `ipc_call`, so it has no call to
/// wait for ([`ErrorCode::NoSuchCall`]); its `Endpoint::call_and_wait` is
/// [`call_and_wait`], the kernel's blocking `call`.
///
/// # Safety
/// None needed: nothing is written.
// The import table names every host function; the SDK's native
// `call_and_wait` goes straight to `call_and_wait` below instead.
#[allow(dead_code)]
pub(crate) unsafe fn ipc_wait(_call: i32, _pointer: i32, _capacity: i32) -> i32 {
    ErrorCode::NoSuchCall.code()
}

/// `Endpoint::call_and_wait` in a native process: the kernel's `call`
/// syscall, which blocks the thread until the answer or the deadline.
pub(crate) fn call_and_wait(
    endpoint: i32,
    request: &[u8],
    deadline_milliseconds: u32,
    reply: &mut [u8],
) -> Result<usize, ErrorCode> {
    if request.len() > MAX_MESSAGE_BYTES as usize {
        return Err(ErrorCode::TooLong);
    }
    let milliseconds = deadline_milliseconds.clamp(1, cella_abi::MAX_CALL_DEADLINE_MILLISECONDS);
    let (_, kernel) = kernel_endpoint(endpoint)?;
    let deadline = now().saturating_add(u64::from(milliseconds) * 1_000_000);
    let answered = super::syscall::syscall6(
        cella_abi::syscalls::CALL,
        [
            kernel,
            request.as_ptr() as u64,
            size(request.len()),
            reply.as_mut_ptr() as u64,
            size(reply.len()),
            deadline,
        ],
    );
    usize::try_from(answered)
        .map_err(|_| ErrorCode::from_syscall_code(answered).unwrap_or(ErrorCode::DeviceError))
}

/// `ipc_call_lending`: refused like `ipc_call` (see there).
pub(crate) fn ipc_call_lending(
    _endpoint: i32,
    _pointer: i32,
    _length: i32,
    _deadline: i32,
    _buffer: i32,
    _access: i32,
) -> i32 {
    ErrorCode::NoSuchCall.code()
}

/// `ipc_loan(request, access)`: the buffer lent with pending request
/// `request`, mapped by the kernel (`loan` syscall) on first asking.
pub(crate) fn ipc_loan(request: i32, access: i32) -> i32 {
    let result = (|| {
        if access != LEND_READ_ONLY && access != LEND_READ_WRITE {
            return Err(ErrorCode::BadArgument);
        }
        let token = with(|state| match state.pending.token(request) {
            Some(token) if request > 0 => Ok(token),
            _ => Err(ErrorCode::BadArgument),
        })
        .unwrap_or(Err(busy()))?;
        let held = with(|state| {
            state.table.entries().find_map(|(slot, entry)| match entry {
                Entry::LentBuffer {
                    request: lent,
                    writable,
                    ..
                } if lent == request => Some((slot, writable)),
                _ => None,
            })
        })
        .flatten();
        if let Some((slot, writable)) = held {
            if access == LEND_READ_WRITE && !writable {
                return Err(ErrorCode::NotFound);
            }
            return Ok(super::table::handle_of_slot(slot));
        }
        // `[address, device address, size, writable]`, as the kernel writes it.
        let mut info = [0u64; 4];
        let mapped = syscall(LOAN, [token, access as u64, info.as_mut_ptr() as u64, 0, 0]);
        let address = u64::try_from(mapped)
            .map_err(|_| ErrorCode::from_syscall_code(mapped).unwrap_or(ErrorCode::DeviceError))?;
        let entry = Entry::LentBuffer {
            request,
            address,
            device_address: info[1],
            size: info[2],
            writable: info[3] == 1,
        };
        with(|state| state.table.insert_new(entry)).unwrap_or(Err(busy()))
    })();
    conclude(HostFunction::IpcLoan, result)
}

/// Forgets the buffer lent with `request` (answered: the kernel unmapped it).
fn forget_loan(request: i32) {
    with(|state| {
        let slot = state.table.entries().find_map(|(slot, entry)| match entry {
            Entry::LentBuffer { request: lent, .. } if lent == request => Some(slot),
            _ => None,
        });
        if let Some(slot) = slot {
            state.table.remove(slot);
        }
    });
}

pub(crate) fn time_now() -> i64 {
    i64::try_from(now()).unwrap_or(i64::MAX)
}

pub(crate) fn timer_set(timer: i32, deadline: i64) -> i32 {
    let result = with(|state| state.table.set_timer(timer, Some(deadline)).map(|()| 0))
        .unwrap_or(Err(busy()));
    conclude(HostFunction::TimerSet, result)
}

pub(crate) fn timer_cancel(timer: i32) -> i32 {
    let result =
        with(|state| state.table.set_timer(timer, None).map(|()| 0)).unwrap_or(Err(busy()));
    conclude(HostFunction::TimerCancel, result)
}

const _: () = assert!(MESSAGE_BYTES == MAX_MESSAGE_BYTES as usize);
