//! `port_in*` / `port_out*`: port I/O inside a granted range.

use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::State;
use crate::trace::Access;
use cella_abi::{CapabilityKind, ErrorCode};

/// The port at `offset` in the range of `handle`, for an access of `width`.
#[inline]
fn port<P, O>(
    state: &State<P, O>,
    handle: i32,
    offset: i32,
    width: Width,
) -> Result<u16, ErrorCode> {
    let slot = state
        .capabilities
        .resolve(handle, CapabilityKind::PortRange)?;
    let Some(Capability::PortRange { base, count }) = state.capabilities.get(slot) else {
        return Err(ErrorCode::BadHandle);
    };
    let offset = offset as u32;
    let end = offset.checked_add(width.bytes()).ok_or(ErrorCode::Denied)?;
    if end > *count {
        return Err(ErrorCode::Denied);
    }
    // base + count <= 0x10000 (checked when the manifest was parsed).
    u16::try_from(u32::from(*base) + offset).map_err(|_| ErrorCode::Denied)
}

/// `port_in{8,16,32}(handle, offset)`.
#[inline]
pub(crate) fn port_in<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    width: Width,
    handle: i32,
    offset: i32,
) -> Result<i64, ErrorCode> {
    let port = port(state, handle, offset, width)?;
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
    let port = port(state, handle, offset, width)?;
    let value = width.truncate(u64::from(value as u32)) as u32;
    state.platform.port_write(port, width, value);
    state.record(Access::PortWrite { port, width, value });
    Ok(0)
}
