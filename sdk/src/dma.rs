//! DMA memory: a granted pool and the buffers allocated from it.

use crate::error::{ErrorCode, Result, status, value32, value64};
use crate::handle::{FromHandle, Handle};
use crate::sys;

/// A granted DMA budget (manifest line `dma BYTES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaPool {
    handle: Handle,
}

impl FromHandle for DmaPool {
    fn from_handle(handle: Handle) -> DmaPool {
        DmaPool { handle }
    }
}

impl DmaPool {
    /// The capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Allocates a physically contiguous buffer of `size` bytes.
    ///
    /// # Errors
    /// [`ErrorCode::Exhausted`] past the pool's budget, or another refusal.
    pub fn allocate(&self, size: u32) -> Result<DmaBuffer> {
        let size_argument = i32::try_from(size).map_err(|_| ErrorCode::BadArgument)?;
        let raw = value32(sys::dma_alloc(self.handle.raw(), size_argument))?;
        Ok(DmaBuffer {
            // `raw` came from a non-negative i32.
            handle: Handle::from_raw(raw as i32),
            size,
        })
    }
}

/// A DMA buffer. The device sees it at [`DmaBuffer::device_address`]; the
/// module reaches its bytes only by copying ([`DmaBuffer::write`],
/// [`DmaBuffer::read`]). Free it with [`DmaBuffer::free`]; the host frees
/// whatever is left when the instance ends.
#[derive(Debug, PartialEq, Eq)]
pub struct DmaBuffer {
    handle: Handle,
    size: u32,
}

impl DmaBuffer {
    /// The buffer's capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The address to program into the device.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn device_address(&self) -> Result<u64> {
        value64(sys::dma_address(self.handle.raw()))
    }

    /// Copies `bytes` into the buffer at `offset`.
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] past the buffer's end, or another refusal.
    pub fn write(&self, offset: u32, bytes: &[u8]) -> Result<()> {
        write(self.handle, offset, bytes)
    }

    /// Copies `destination.len()` bytes from the buffer at `offset`.
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] past the buffer's end, or another refusal.
    pub fn read(&self, offset: u32, destination: &mut [u8]) -> Result<()> {
        read(self.handle, offset, destination)
    }

    /// Frees the buffer.
    ///
    /// # Errors
    /// The refusal, with the buffer back: [`ErrorCode::Busy`] while it is
    /// lent with a call whose answer has not come (free it later), or
    /// another refusal.
    pub fn free(self) -> core::result::Result<(), (ErrorCode, DmaBuffer)> {
        status(sys::dma_free(self.handle.raw())).map_err(|error| (error, self))
    }
}

/// Another module's DMA buffer, lent with the request being served
/// ([`crate::Message::loan`]): programmed into the device like an own
/// buffer, read and (if lent read-write) written by copying; it is not
/// this module's to free, and it goes back when the request is answered.
#[derive(Debug, PartialEq, Eq)]
pub struct LentBuffer {
    handle: Handle,
    size: u64,
}

impl LentBuffer {
    /// The lent buffer `handle` names, with its size.
    ///
    /// # Errors
    /// The host's refusal of `dma_size`.
    pub(crate) fn from_handle(handle: Handle) -> Result<LentBuffer> {
        let size = value64(sys::dma_size(handle.raw()))?;
        Ok(LentBuffer { handle, size })
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The address to program into the device.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn device_address(&self) -> Result<u64> {
        value64(sys::dma_address(self.handle.raw()))
    }

    /// Copies `destination.len()` bytes from the buffer at `offset`.
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] past the buffer's end, or another refusal.
    pub fn read(&self, offset: u32, destination: &mut [u8]) -> Result<()> {
        read(self.handle, offset, destination)
    }

    /// Copies `bytes` into the buffer at `offset`.
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] for a buffer lent read-only or past its end.
    pub fn write(&self, offset: u32, bytes: &[u8]) -> Result<()> {
        write(self.handle, offset, bytes)
    }
}

/// `dma_write` of `bytes` at `offset` of buffer `handle`.
fn write(handle: Handle, offset: u32, bytes: &[u8]) -> Result<()> {
    status(sys::dma_write(
        handle.raw(),
        offset as i32,
        sys::pointer(bytes),
        sys::length(bytes),
    ))
}

/// `dma_read` of `destination.len()` bytes at `offset` of buffer `handle`.
fn read(handle: Handle, offset: u32, destination: &mut [u8]) -> Result<()> {
    status(sys::dma_read_into(handle.raw(), offset as i32, destination))
}
