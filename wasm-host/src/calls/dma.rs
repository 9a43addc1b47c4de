//! `dma_alloc` / `dma_free` / `dma_address` / `dma_size` / `dma_write` / `dma_read`:
//! buffers from a granted pool, copied to and from linear memory.

use crate::access::Access;
use crate::calls::lookup;
use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::{State, guest_range};
use cella_abi::{CapabilityKind, ErrorCode};

/// `dma_alloc(pool, size)`: a new buffer handle.
pub(crate) fn allocate<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    pool: i32,
    size: i32,
) -> Result<i32, ErrorCode> {
    let (pool_slot, capability) = lookup(state, pool, CapabilityKind::DmaPool)?;
    let Capability::DmaPool { budget, used } = capability else {
        return Err(ErrorCode::BadHandle);
    };
    let size = u64::try_from(size)
        .ok()
        .filter(|size| *size > 0)
        .ok_or(ErrorCode::BadArgument)?;
    let now_used = used
        .checked_add(size)
        .filter(|total| *total <= budget)
        .ok_or(ErrorCode::Exhausted)?;
    // During a hot swap the predecessor's buffers still exist: both
    // instances together stay inside the grant.
    state
        .capabilities
        .dma_used()
        .checked_add(state.dma_held_by_predecessor)
        .and_then(|total| total.checked_add(size))
        .filter(|total| *total <= state.dma_grant)
        .ok_or(ErrorCode::Exhausted)?;
    let device = state.capabilities.pci_function();
    let device_address = state
        .platform
        .dma_allocate(device, size)
        .ok_or(ErrorCode::DeviceError)?;
    let buffer = Capability::DmaBuffer {
        pool: pool_slot,
        device_address,
        size,
        device,
        lent_for: None,
    };
    match state.capabilities.insert(buffer) {
        Ok(handle) => {
            if let Some(Capability::DmaPool { used, .. }) = state.capabilities.get_mut(pool_slot) {
                *used = now_used;
            }
            state.record(Access::DmaAllocate {
                device_address,
                size,
            });
            Ok(handle)
        }
        Err(error) => {
            state.platform.dma_free(device, device_address, size);
            Err(error)
        }
    }
}

/// `dma_free(buffer)`.
pub(crate) fn free<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    buffer: i32,
) -> Result<i32, ErrorCode> {
    let slot = state
        .capabilities
        .resolve(buffer, CapabilityKind::DmaBuffer)?;
    match state.capabilities.get(slot) {
        // A lent buffer is its lender's to free; it goes with the request.
        Some(Capability::LentBuffer { .. }) => return Err(ErrorCode::Denied),
        // Lent out: it stays this module's (and on its pool) until the
        // call's answer comes.
        Some(Capability::DmaBuffer {
            lent_for: Some(_), ..
        }) => return Err(ErrorCode::Busy),
        _ => {}
    }
    let Some(Capability::DmaBuffer {
        pool,
        device_address,
        size,
        device,
        ..
    }) = state.capabilities.remove(slot)
    else {
        return Err(ErrorCode::BadHandle);
    };
    state.platform.dma_free(device, device_address, size);
    if let Some(Capability::DmaPool { used, .. }) = state.capabilities.get_mut(pool) {
        *used = used.saturating_sub(size);
    }
    state.record(Access::DmaFree { device_address });
    Ok(0)
}

/// `dma_address(buffer)`.
pub(crate) fn address<P, O>(state: &State<P, O>, buffer: i32) -> Result<i64, ErrorCode> {
    let (_, capability) = lookup(state, buffer, CapabilityKind::DmaBuffer)?;
    let (Capability::DmaBuffer { device_address, .. }
    | Capability::LentBuffer { device_address, .. }) = capability
    else {
        return Err(ErrorCode::BadHandle);
    };
    i64::try_from(device_address).map_err(|_| ErrorCode::DeviceError)
}

/// `dma_size(buffer)`.
pub(crate) fn size<P, O>(state: &State<P, O>, buffer: i32) -> Result<i64, ErrorCode> {
    let (_, capability) = lookup(state, buffer, CapabilityKind::DmaBuffer)?;
    let (Capability::DmaBuffer { size, .. } | Capability::LentBuffer { size, .. }) = capability
    else {
        return Err(ErrorCode::BadHandle);
    };
    i64::try_from(size).map_err(|_| ErrorCode::DeviceError)
}

/// Checks a copy of `length` bytes at `offset` in `buffer` (into it if
/// `into_buffer`: a buffer lent read-only refuses that); returns the device
/// address of the first byte and the linear-memory range.
fn copy_window<P, O>(
    state: &State<P, O>,
    memory_length: usize,
    buffer: i32,
    offset: i32,
    pointer: i32,
    length: i32,
    into_buffer: bool,
) -> Result<(u64, core::ops::Range<usize>), ErrorCode> {
    let (_, capability) = lookup(state, buffer, CapabilityKind::DmaBuffer)?;
    let (device_address, size) = match capability {
        Capability::DmaBuffer {
            device_address,
            size,
            ..
        } => (device_address, size),
        Capability::LentBuffer {
            device_address,
            size,
            writable,
            ..
        } if writable || !into_buffer => (device_address, size),
        Capability::LentBuffer { .. } => return Err(ErrorCode::Denied),
        _ => return Err(ErrorCode::BadHandle),
    };
    let length = u32::try_from(length).map_err(|_| ErrorCode::BadArgument)?;
    let offset = u64::from(offset as u32);
    if offset + u64::from(length) > size {
        return Err(ErrorCode::Denied);
    }
    let range = guest_range(memory_length, pointer, length)?;
    let first = device_address
        .checked_add(offset)
        .ok_or(ErrorCode::DeviceError)?;
    Ok((first, range))
}

/// `dma_write(buffer, offset, source, length)`: linear memory to buffer.
pub(crate) fn write<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    buffer: i32,
    offset: i32,
    source: i32,
    length: i32,
) -> Result<i32, ErrorCode> {
    let (device_address, range) =
        copy_window(state, memory.len(), buffer, offset, source, length, true)?;
    let bytes = memory.get(range).ok_or(ErrorCode::BadPointer)?;
    state.pay_for_bytes(bytes.len())?;
    state.platform.dma_write(device_address, bytes);
    let length = bytes.len() as u32;
    state.record(Access::DmaCopy {
        device_address,
        length,
        to_device: true,
    });
    Ok(0)
}

/// `dma_read(buffer, offset, destination, length)`: buffer to linear memory.
pub(crate) fn read<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    buffer: i32,
    offset: i32,
    destination: i32,
    length: i32,
) -> Result<i32, ErrorCode> {
    let (device_address, range) = copy_window(
        state,
        memory.len(),
        buffer,
        offset,
        destination,
        length,
        false,
    )?;
    let bytes = memory.get_mut(range).ok_or(ErrorCode::BadPointer)?;
    state.pay_for_bytes(bytes.len())?;
    state.platform.dma_read(device_address, bytes);
    let length = bytes.len() as u32;
    state.record(Access::DmaCopy {
        device_address,
        length,
        to_device: false,
    });
    Ok(0)
}
