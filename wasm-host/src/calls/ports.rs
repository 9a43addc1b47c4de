//! `port_in*` / `port_out*`: port I/O inside a granted range, one access at
//! a time or (`port_in8_n` / `port_out8_n`) a run of bytes through one 8-bit
//! port, checked once per call.

use crate::access::{Access, Attempt, Place};
use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::{State, guest_range};
use cella_abi::{CapabilityKind, ErrorCode, MAX_PORT_BYTES};

/// The port at `offset` in the range of `handle`, for `count` accesses of
/// `width` at that one port; a refusal names the attempt.
#[inline]
fn port<P, O>(
    state: &mut State<P, O>,
    handle: i32,
    offset: i32,
    width: Width,
    write: bool,
    count: u32,
) -> Result<u16, ErrorCode> {
    let offset = offset as u32;
    let attempt = |place| Attempt {
        write,
        place,
        width,
        count,
    };
    let unresolved = Place::Unresolved {
        mmio: false,
        handle,
        offset,
    };
    let (base, ports) = match state.capabilities.find(handle, CapabilityKind::PortRange) {
        Ok((_, Capability::PortRange { base, count })) => (*base, *count),
        Ok(_) => return Err(state.refuse_attempt(attempt(unresolved), ErrorCode::BadHandle)),
        Err(error) => return Err(state.refuse_attempt(attempt(unresolved), error)),
    };
    let place = Place::Port(u64::from(base) + u64::from(offset));
    let inside = offset
        .checked_add(width.bytes())
        .is_some_and(|end| end <= ports);
    if !inside {
        return Err(state.refuse_attempt(attempt(place), ErrorCode::Denied));
    }
    // base + count <= 0x10000 (checked when the manifest was parsed).
    u16::try_from(u32::from(base) + offset)
        .map_err(|_| state.refuse_attempt(attempt(place), ErrorCode::Denied))
}

/// `port_in{8,16,32}(handle, offset)`.
#[inline]
pub(crate) fn port_in<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    width: Width,
    handle: i32,
    offset: i32,
) -> Result<i64, ErrorCode> {
    let port = port(state, handle, offset, width, false, 1)?;
    let value = width.truncate(u64::from(state.platform.port_read(port, width))) as u32;
    state.record(Access::PortRead { port, width, value });
    Ok(i64::from(value))
}

/// `port_out{8,16,32}(handle, offset, value)`.
#[inline]
pub(crate) fn port_out<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    width: Width,
    handle: i32,
    offset: i32,
    value: i32,
) -> Result<i32, ErrorCode> {
    let port = port(state, handle, offset, width, true, 1)?;
    let value = width.truncate(u64::from(value as u32)) as u32;
    state.platform.port_write(port, width, value);
    state.record(Access::PortWrite { port, width, value });
    Ok(0)
}

/// Checks a bulk call: the count (at most [`MAX_PORT_BYTES`]), the port and
/// the linear-memory range; then pays [`crate::fuel::PORT_BYTE_FUEL`] per byte. Returns
/// the port and the range.
fn bulk<P: Platform, O: Outbox>(
    memory_length: usize,
    state: &mut State<P, O>,
    write: bool,
    arguments: [i32; 4],
) -> Result<(u16, core::ops::Range<usize>), ErrorCode> {
    let [handle, offset, pointer, count] = arguments;
    let count = u32::try_from(count)
        .ok()
        .filter(|count| *count <= MAX_PORT_BYTES)
        .ok_or(ErrorCode::BadArgument)?;
    let port = port(state, handle, offset, Width::Byte, write, count)?;
    let range = guest_range(memory_length, pointer, count)?;
    state.pay_for_port_bytes(range.len())?;
    Ok((port, range))
}

/// `port_in8_n(handle, offset, pointer, count)`: reads `count` bytes from
/// one 8-bit port into linear memory at `pointer`.
pub(crate) fn port_in_bytes<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    arguments: [i32; 4],
) -> Result<i32, ErrorCode> {
    let (port, range) = bulk(memory.len(), state, false, arguments)?;
    let destination = memory.get_mut(range).ok_or(ErrorCode::BadPointer)?;
    state.platform.port_read_bytes(port, destination);
    let count = destination.len() as u32;
    state.record(Access::PortReadBytes { port, count });
    Ok(0)
}

/// `port_out8_n(handle, offset, pointer, count)`: writes `count` bytes from
/// linear memory at `pointer` to one 8-bit port.
pub(crate) fn port_out_bytes<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    arguments: [i32; 4],
) -> Result<i32, ErrorCode> {
    let (port, range) = bulk(memory.len(), state, true, arguments)?;
    let source = memory.get(range).ok_or(ErrorCode::BadPointer)?;
    state.platform.port_write_bytes(port, source);
    let count = source.len() as u32;
    state.record(Access::PortWriteBytes { port, count });
    Ok(0)
}
