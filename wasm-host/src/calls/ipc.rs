//! `ipc_send` / `ipc_receive` / `ipc_reply` / `ipc_loan`: messages through the
//! embedder's [`Outbox`] (held back while the instance is a swap's
//! successor that has not taken over; see [`crate::held`]).

use crate::access::Access;
use crate::calls::endpoint_id;
use crate::capabilities::Capability;
use crate::outbox::{Outbox, Outgoing};
use crate::platform::Platform;
use crate::state::{State, guest_length, guest_range};
use cella_abi::{ErrorCode, MAX_MESSAGE_BYTES, Rights};

/// `ipc_send(endpoint, pointer, length)`.
pub(crate) fn send<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    endpoint: i32,
    pointer: i32,
    length: i32,
) -> Result<i32, ErrorCode> {
    let id = endpoint_id(state, endpoint, Rights::SEND)?;
    let length = guest_length(length, MAX_MESSAGE_BYTES)?;
    let range = guest_range(memory.len(), pointer, length)?;
    let message = memory.get(range).ok_or(ErrorCode::BadPointer)?;
    state.pay_for_bytes(message.len())?;
    match state.held.as_mut() {
        Some(held) => held.hold(Outgoing::Send {
            module: state.module.clone(),
            endpoint: id,
            message: message.to_vec(),
        })?,
        None => state.outbox.send(&state.module, id, message)?,
    }
    state.note(Access::Send {
        endpoint: id,
        length,
    });
    Ok(0)
}

/// `ipc_receive(pointer, capacity)`: copies at most `capacity` bytes of the
/// current message and returns its full length.
pub(crate) fn receive<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    pointer: i32,
    capacity: i32,
) -> Result<i32, ErrorCode> {
    let capacity = guest_length(capacity, u32::MAX >> 1)?;
    if !state.message_present {
        return Err(ErrorCode::NoMessage);
    }
    let length = state.message.len() as u32;
    let copied = length.min(capacity);
    let range = guest_range(memory.len(), pointer, copied)?;
    state.pay_for_bytes(copied as usize)?;
    let destination = memory.get_mut(range).ok_or(ErrorCode::BadPointer)?;
    let source = state
        .message
        .get(..copied as usize)
        .ok_or(ErrorCode::BadPointer)?;
    destination.copy_from_slice(source);
    // Messages are at most MAX_MESSAGE_BYTES long.
    Ok(length as i32)
}

/// `ipc_reply(request, pointer, length)`.
pub(crate) fn reply<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    request: i32,
    pointer: i32,
    length: i32,
) -> Result<i32, ErrorCode> {
    let request = u32::try_from(request).map_err(|_| ErrorCode::BadArgument)?;
    let position = state
        .pending_requests
        .iter()
        .position(|pending| *pending == request)
        .ok_or(ErrorCode::BadArgument)?;
    let length = guest_length(length, MAX_MESSAGE_BYTES)?;
    let range = guest_range(memory.len(), pointer, length)?;
    let message = memory.get(range).ok_or(ErrorCode::BadPointer)?;
    state.pay_for_bytes(message.len())?;
    // The answer ends the loan: a buffer lent with the request goes back
    // (out of the device's reach) before the caller can see the answer.
    // A reply refused below leaves the request pending without it.
    crate::loans::give_back(state, request);
    let message = message.to_vec();
    match state.held.as_mut() {
        Some(held) => held.hold(Outgoing::Reply {
            module: state.module.clone(),
            request,
            message,
        })?,
        None => state.outbox.reply(&state.module, request, &message)?,
    }
    state.pending_requests.swap_remove(position);
    state.note(Access::Reply { request, length });
    Ok(0)
}

/// `ipc_loan(request, access)`: the handle of the buffer lent with pending
/// request `request`, if lent with at least `access`.
pub(crate) fn loan<P, O>(state: &State<P, O>, request: i32, access: i32) -> Result<i32, ErrorCode> {
    let request = u32::try_from(request).map_err(|_| ErrorCode::BadArgument)?;
    let needs_write = match access {
        cella_abi::LEND_READ_ONLY => false,
        cella_abi::LEND_READ_WRITE => true,
        _ => return Err(ErrorCode::BadArgument),
    };
    if !state.pending_requests.contains(&request) {
        return Err(ErrorCode::BadArgument);
    }
    let handle = state
        .capabilities
        .handle_of_loan(request)
        .ok_or(ErrorCode::NotFound)?;
    let slot = state
        .capabilities
        .resolve(handle, cella_abi::CapabilityKind::DmaBuffer)?;
    match state.capabilities.get(slot) {
        Some(Capability::LentBuffer { writable, .. }) if *writable || !needs_write => Ok(handle),
        _ => Err(ErrorCode::NotFound),
    }
}
