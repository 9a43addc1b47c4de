//! `mmio_read*` / `mmio_write*`: MMIO inside a granted region, aligned.

use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::{State, guest_range};
use crate::trace::Access;
use cella_abi::{CapabilityKind, ErrorCode};

/// The physical address at `offset` in the region of `handle`.
fn address<P, O>(
    state: &State<P, O>,
    handle: i32,
    offset: i32,
    width: Width,
) -> Result<u64, ErrorCode> {
    let slot = state
        .capabilities
        .resolve(handle, CapabilityKind::MmioRegion)?;
    let Some(Capability::MmioRegion { base, length }) = state.capabilities.get(slot) else {
        return Err(ErrorCode::BadHandle);
    };
    let offset = u64::from(offset as u32);
    if offset + u64::from(width.bytes()) > *length {
        return Err(ErrorCode::Denied);
    }
    // base + length does not overflow (checked when the manifest was parsed).
    let address = base + offset;
    if address % u64::from(width.bytes()) != 0 {
        return Err(ErrorCode::Misaligned);
    }
    Ok(address)
}

/// `mmio_read{8,16,32}(handle, offset)`.
pub(crate) fn read<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    width: Width,
    handle: i32,
    offset: i32,
) -> Result<i64, ErrorCode> {
    let address = address(state, handle, offset, width)?;
    let value = width.truncate(state.platform.mmio_read(address, width));
    state.record(Access::MmioRead {
        address,
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
    let address = address(state, handle, offset, Width::Qword)?;
    let range = guest_range(memory.len(), out_pointer, 8)?;
    let value = state.platform.mmio_read(address, Width::Qword);
    let out = memory.get_mut(range).ok_or(ErrorCode::BadPointer)?;
    out.copy_from_slice(&value.to_le_bytes());
    state.record(Access::MmioRead {
        address,
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
    let address = address(state, handle, offset, width)?;
    let value = width.truncate(value);
    state.platform.mmio_write(address, width, value);
    state.record(Access::MmioWrite {
        address,
        width,
        value,
    });
    Ok(0)
}
