//! ABI v1 DMA calls for a native process: buffers the kernel allocates from
//! the process's `dma` grant and maps into it (`dma_alloc` / `dma_free`
//! syscalls), so copies in and out are plain memory copies. Checks and
//! error codes as in `wasm-host/src/calls/dma.rs`.

use super::process::{conclude, conclude64, with};
use super::syscall::{address, syscall};
use super::table::Entry;
use cella_abi::syscalls::{DMA_ALLOC, DMA_FREE};
use cella_abi::{CapabilityKind, ErrorCode, HostFunction};

pub(crate) fn dma_alloc(pool: i32, size: i32) -> i32 {
    let result = allocate(pool, size);
    conclude(HostFunction::DmaAlloc, result)
}

fn allocate(pool: i32, size: i32) -> Result<i32, ErrorCode> {
    let (slot, entry) = with(|state| state.table.resolve(pool, CapabilityKind::DmaPool))
        .unwrap_or(Err(ErrorCode::Busy))?;
    let Entry::Dma { bytes, used } = entry else {
        return Err(ErrorCode::BadHandle);
    };
    let size = u64::try_from(size)
        .ok()
        .filter(|size| *size > 0)
        .ok_or(ErrorCode::BadArgument)?;
    let now_used = used
        .checked_add(size)
        .filter(|total| *total <= bytes)
        .ok_or(ErrorCode::Exhausted)?;
    let mut device_address = 0u64;
    let mapped = syscall(DMA_ALLOC, [size, &raw mut device_address as u64, 0, 0, 0]);
    let address = u64::try_from(mapped).map_err(|_| ErrorCode::DeviceError)?;
    let buffer = Entry::DmaBuffer {
        pool: slot as u8,
        address,
        device_address,
        size,
    };
    let inserted = with(|state| {
        let handle = state.table.insert_new(buffer)?;
        if let Some(Entry::Dma { used, .. }) = state.table.entry_mut(slot) {
            *used = now_used;
        }
        Ok(handle)
    })
    .unwrap_or(Err(ErrorCode::Busy));
    if inserted.is_err() {
        syscall(DMA_FREE, [address, 0, 0, 0, 0]);
    }
    inserted
}

/// A buffer as a handle names it: an own one or a lent one.
struct Buffer {
    slot: usize,
    /// The pool an own buffer came from (`None`: lent to this process).
    pool: Option<u8>,
    address: u64,
    device_address: u64,
    size: u64,
    writable: bool,
}

/// The buffer `handle` names.
fn buffer(handle: i32) -> Result<Buffer, ErrorCode> {
    let (slot, entry) = with(|state| state.table.resolve(handle, CapabilityKind::DmaBuffer))
        .unwrap_or(Err(ErrorCode::Busy))?;
    match entry {
        Entry::DmaBuffer {
            pool,
            address,
            device_address,
            size,
        } => Ok(Buffer {
            slot,
            pool: Some(pool),
            address,
            device_address,
            size,
            writable: true,
        }),
        Entry::LentBuffer {
            address,
            device_address,
            size,
            writable,
            ..
        } => Ok(Buffer {
            slot,
            pool: None,
            address,
            device_address,
            size,
            writable,
        }),
        _ => Err(ErrorCode::BadHandle),
    }
}

pub(crate) fn dma_free(handle: i32) -> i32 {
    let result = buffer(handle).and_then(|buffer| {
        // A lent buffer is its lender's to free.
        let pool = buffer.pool.ok_or(ErrorCode::Denied)?;
        with(|state| {
            state.table.remove(buffer.slot);
            if let Some(Entry::Dma { used, .. }) = state.table.entry_mut(usize::from(pool)) {
                *used = used.saturating_sub(buffer.size);
            }
        });
        syscall(DMA_FREE, [buffer.address, 0, 0, 0, 0]);
        Ok(0)
    });
    conclude(HostFunction::DmaFree, result)
}

pub(crate) fn dma_address(handle: i32) -> i64 {
    let result = buffer(handle).and_then(|buffer| {
        i64::try_from(buffer.device_address).map_err(|_| ErrorCode::DeviceError)
    });
    conclude64(HostFunction::DmaAddress, result)
}

pub(crate) fn dma_size(handle: i32) -> i64 {
    let result = buffer(handle)
        .and_then(|buffer| i64::try_from(buffer.size).map_err(|_| ErrorCode::DeviceError));
    conclude64(HostFunction::DmaSize, result)
}

/// The user address of `length` bytes at `offset` of buffer `handle`
/// (to be written if `into_buffer`: a buffer lent read-only refuses).
fn window(
    handle: i32,
    offset: i32,
    length: i32,
    into_buffer: bool,
) -> Result<(u64, usize), ErrorCode> {
    let buffer = buffer(handle)?;
    if into_buffer && !buffer.writable {
        return Err(ErrorCode::Denied);
    }
    let length = u32::try_from(length).map_err(|_| ErrorCode::BadArgument)?;
    let offset = u64::from(offset as u32);
    if offset + u64::from(length) > buffer.size {
        return Err(ErrorCode::Denied);
    }
    Ok((buffer.address + offset, length as usize))
}

pub(crate) fn dma_write(handle: i32, offset: i32, source: i32, length: i32) -> i32 {
    let result = window(handle, offset, length, true).map(|(at, length)| {
        if length > 0 {
            // SAFETY: `source` and `length` are a live byte slice the SDK
            // passed (`sys::pointer`, `sys::length`); `at .. at + length`
            // lies inside a buffer the kernel mapped writable into this
            // process (checked by `window`); they do not overlap (the
            // buffer is not part of the module's own memory).
            unsafe {
                core::ptr::copy_nonoverlapping(address(source) as *const u8, at as *mut u8, length);
            }
        }
        0
    });
    conclude(HostFunction::DmaWrite, result)
}

/// # Safety
/// `destination` must name `length` writable bytes (the SDK passes a live
/// `&mut [u8]`).
pub(crate) unsafe fn dma_read(handle: i32, offset: i32, destination: i32, length: i32) -> i32 {
    let result = window(handle, offset, length, false).map(|(at, length)| {
        if length > 0 {
            // SAFETY: as in `dma_write`, with the caller's guarantee for
            // the destination.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    at as *const u8,
                    address(destination) as *mut u8,
                    length,
                );
            }
        }
        0
    });
    conclude(HostFunction::DmaRead, result)
}
