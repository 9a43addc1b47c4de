//! `ipc_call` and `ipc_call_lending`: a request to the module serving a
//! granted endpoint, answered later by an [`crate::Event::Reply`] (see
//! [`crate::outstanding`]), with one of the caller's DMA buffers lent to
//! the server for the call in the second.

use crate::calls::{endpoint_id, lookup};
use crate::capabilities::Capability;
use crate::outbox::{Loan, Outbox};
use crate::platform::Platform;
use crate::state::{State, guest_range};
use cella_abi::{
    CapabilityKind, ErrorCode, LEND_READ_ONLY, LEND_READ_WRITE, MAX_CALL_DEADLINE_MILLISECONDS,
    MAX_MESSAGE_BYTES, Rights,
};

/// `ipc_call(endpoint, pointer, length, deadline_milliseconds)`: checks
/// everything, pays for the bytes, opens the call and hands the request to
/// the outbox; returns the call id.
pub(crate) fn call<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    endpoint: i32,
    pointer: i32,
    length: i32,
    deadline_milliseconds: i32,
    loan: Option<Loan>,
) -> Result<i32, ErrorCode> {
    let id = endpoint_id(state, endpoint, Rights::SEND)?;
    let length = u32::try_from(length).map_err(|_| ErrorCode::BadArgument)?;
    if length > MAX_MESSAGE_BYTES {
        return Err(ErrorCode::TooLong);
    }
    let milliseconds = u32::try_from(deadline_milliseconds).map_err(|_| ErrorCode::BadArgument)?;
    if milliseconds == 0 {
        return Err(ErrorCode::BadArgument);
    }
    let milliseconds = milliseconds.min(MAX_CALL_DEADLINE_MILLISECONDS);
    let range = guest_range(memory.len(), pointer, length)?;
    let message = memory.get(range).ok_or(ErrorCode::BadPointer)?;
    // A swap's successor that has not taken over makes no calls: a reply
    // could reach it only if the swap commits.
    if state.held.is_some() {
        return Err(ErrorCode::Busy);
    }
    let now = state.platform.now_nanoseconds();
    let deadline = now.saturating_add(u64::from(milliseconds) * 1_000_000);
    let generation = state.capabilities.generation();
    let limit = state.limits.max_outstanding_calls;
    let call = state.calls.open(generation, deadline, limit)?;
    state.pay_for_bytes(message.len())?;
    if let Err(error) = state
        .outbox
        .call(&state.module, generation, id, call, message, loan)
    {
        state.calls.close(call);
        return Err(error);
    }
    let operation = crate::access::OperationName::of(message);
    state.note(crate::access::Access::Call {
        endpoint: id,
        call,
        length,
        operation,
    });
    // Call ids are below 2^31 (see `crate::outstanding`).
    Ok(call as i32)
}

/// `ipc_call_lending(endpoint, pointer, length, deadline_milliseconds,
/// buffer, access)`: [`call`] lending `buffer`, one of this instance's own
/// DMA buffers (a buffer lent to it is not its to lend: `Denied`), read-only
/// or read-write as `access` says.
#[allow(clippy::too_many_arguments)]
pub(crate) fn call_lending<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    endpoint: i32,
    pointer: i32,
    length: i32,
    deadline_milliseconds: i32,
    buffer: i32,
    access: i32,
) -> Result<i32, ErrorCode> {
    let writable = match access {
        LEND_READ_ONLY => false,
        LEND_READ_WRITE => true,
        _ => return Err(ErrorCode::BadArgument),
    };
    // The endpoint first: a handle that may not call holds no buffer.
    endpoint_id(state, endpoint, Rights::SEND)?;
    let (slot, capability) = lookup(state, buffer, CapabilityKind::DmaBuffer)?;
    let Capability::DmaBuffer {
        device_address,
        size,
        device,
        lent_for,
        ..
    } = capability
    else {
        return Err(ErrorCode::Denied);
    };
    // One call at a time: a buffer lent out stays lent until its answer.
    if lent_for.is_some() {
        return Err(ErrorCode::Busy);
    }
    let loan = Loan {
        device_address,
        size,
        writable,
    };
    // The call holds the buffer from now on (see [`Outbox::call`]), so
    // that this instance's end cannot let its memory be reused before the
    // request ends.
    if !state.platform.dma_hold(device, device_address, size) {
        return Err(ErrorCode::DeviceError);
    }
    let called = call(
        memory,
        state,
        endpoint,
        pointer,
        length,
        deadline_milliseconds,
        Some(loan),
    );
    match called {
        Ok(call) => {
            if let Some(Capability::DmaBuffer { lent_for, .. }) = state.capabilities.get_mut(slot) {
                *lent_for = u32::try_from(call).ok();
            }
        }
        Err(_) => state.platform.dma_return(None, device_address, size),
    }
    called
}
