//! `mmio_read*` / `mmio_write*`: MMIO inside a granted region, aligned.

use crate::access::{Access, Attempt, Place};
use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::{State, guest_range};
use cella_abi::{CapabilityKind, ErrorCode};

/// The window's base and the offset in it for an access of `width` at
/// `offset` in the region of `handle`; a refusal names the attempt.
fn address<P, O>(
    state: &mut State<P, O>,
    handle: i32,
    offset: i32,
    width: Width,
    write: bool,
) -> Result<(u64, u64), ErrorCode> {
    let attempt = |place| Attempt {
        write,
        place,
        width,
        count: 1,
    };
    let unresolved = Place::Unresolved {
        mmio: true,
        handle,
        offset: offset as u32,
    };
    let slot = match state
        .capabilities
        .resolve(handle, CapabilityKind::MmioRegion)
    {
        Ok(slot) => slot,
        Err(error) => return Err(state.refuse_attempt(attempt(unresolved), error)),
    };
    let Some(Capability::MmioRegion { base, length }) = state.capabilities.get(slot) else {
        return Err(state.refuse_attempt(attempt(unresolved), ErrorCode::BadHandle));
    };
    let (base, length) = (*base, *length);
    let offset = u64::from(offset as u32);
    let place = Place::Mmio {
        region: base,
        offset,
    };
    if offset + u64::from(width.bytes()) > length {
        return Err(state.refuse_attempt(attempt(place), ErrorCode::Denied));
    }
    // base + length does not overflow (checked when the manifest was parsed).
    if (base + offset) % u64::from(width.bytes()) != 0 {
        return Err(state.refuse_attempt(attempt(place), ErrorCode::Misaligned));
    }
    Ok((base, offset))
}

/// `mmio_read{8,16,32}(handle, offset)`.
pub(crate) fn read<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    width: Width,
    handle: i32,
    offset: i32,
) -> Result<i64, ErrorCode> {
    let (region, offset) = address(state, handle, offset, width, false)?;
    let value = width.truncate(state.platform.mmio_read(region + offset, width));
    state.record(Access::MmioRead {
        region,
        offset,
        width,
        value,
    });
    // At most 32 bits here, so the value is non-negative as i64.
    Ok(value as i64)
}

/// `mmio_read64(handle, offset, out_pointer)`: the output location is
/// checked before the device is read (reads can have side effects).
pub(crate) fn read64<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    handle: i32,
    offset: i32,
    out_pointer: i32,
) -> Result<i32, ErrorCode> {
    let (region, offset) = address(state, handle, offset, Width::Qword, false)?;
    let range = guest_range(memory.len(), out_pointer, 8)?;
    let value = state.platform.mmio_read(region + offset, Width::Qword);
    let out = memory.get_mut(range).ok_or(ErrorCode::BadPointer)?;
    out.copy_from_slice(&value.to_le_bytes());
    state.record(Access::MmioRead {
        region,
        offset,
        width: Width::Qword,
        value,
    });
    Ok(0)
}

/// `mmio_write{8,16,32,64}(handle, offset, value)`.
pub(crate) fn write<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    width: Width,
    handle: i32,
    offset: i32,
    value: u64,
) -> Result<i32, ErrorCode> {
    let (region, offset) = address(state, handle, offset, width, true)?;
    let value = width.truncate(value);
    state.platform.mmio_write(region + offset, width, value);
    state.record(Access::MmioWrite {
        region,
        offset,
        width,
        value,
    });
    Ok(0)
}
