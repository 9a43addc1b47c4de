//! `ipc_call`: a request to the module serving a granted endpoint, answered
//! later by an [`crate::Event::Reply`] (see [`crate::outstanding`]).

use crate::calls::lookup;
use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::{State, guest_range};
use cella_abi::{CapabilityKind, ErrorCode, MAX_CALL_DEADLINE_MILLISECONDS, MAX_MESSAGE_BYTES};

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
) -> Result<i32, ErrorCode> {
    let (_, capability) = lookup(state, endpoint, CapabilityKind::Endpoint)?;
    let Capability::Endpoint { id } = capability else {
        return Err(ErrorCode::BadHandle);
    };
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
        .call(&state.module, generation, id, call, message)
    {
        state.calls.close(call);
        return Err(error);
    }
    // Call ids are below 2^31 (see `crate::outstanding`).
    Ok(call as i32)
}
