//! Memory-mapped I/O inside a granted region.

use crate::error::{Result, status, value64};
use crate::handle::{FromHandle, Handle};
use crate::sys;

/// A granted MMIO region (manifest line `mmio BASE LENGTH`). Offsets are
/// relative to the region's base; each access must be aligned to its width
/// ([`crate::ErrorCode::Misaligned`]) and inside the region
/// ([`crate::ErrorCode::Denied`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mmio {
    handle: Handle,
}

impl FromHandle for Mmio {
    fn from_handle(handle: Handle) -> Mmio {
        Mmio { handle }
    }
}

fn offset(offset: u32) -> i32 {
    // The host reads offsets as unsigned 32-bit numbers.
    offset as i32
}

impl Mmio {
    /// The capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Reads a byte.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read8(&self, at: u32) -> Result<u8> {
        Ok(value64(sys::mmio_read8(self.handle.raw(), offset(at)))? as u8)
    }

    /// Reads 16 bits.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read16(&self, at: u32) -> Result<u16> {
        Ok(value64(sys::mmio_read16(self.handle.raw(), offset(at)))? as u16)
    }

    /// Reads 32 bits.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read32(&self, at: u32) -> Result<u32> {
        Ok(value64(sys::mmio_read32(self.handle.raw(), offset(at)))? as u32)
    }

    /// Reads 64 bits.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read64(&self, at: u32) -> Result<u64> {
        let mut bytes = [0u8; 8];
        status(sys::mmio_read64_into(
            self.handle.raw(),
            offset(at),
            &mut bytes,
        ))?;
        Ok(u64::from_le_bytes(bytes))
    }

    /// Writes a byte.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write8(&self, at: u32, value: u8) -> Result<()> {
        status(sys::mmio_write8(
            self.handle.raw(),
            offset(at),
            i32::from(value),
        ))
    }

    /// Writes 16 bits.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write16(&self, at: u32, value: u16) -> Result<()> {
        status(sys::mmio_write16(
            self.handle.raw(),
            offset(at),
            i32::from(value),
        ))
    }

    /// Writes 32 bits.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write32(&self, at: u32, value: u32) -> Result<()> {
        status(sys::mmio_write32(
            self.handle.raw(),
            offset(at),
            value as i32,
        ))
    }

    /// Writes 64 bits.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write64(&self, at: u32, value: u64) -> Result<()> {
        status(sys::mmio_write64(
            self.handle.raw(),
            offset(at),
            value as i64,
        ))
    }
}
