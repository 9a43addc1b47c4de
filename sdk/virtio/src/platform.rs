//! What the transport needs from the platform: a PCI function's
//! configuration space, register windows (its memory BARs) and DMA memory.
//! The SDK's types implement these (`sdk.rs`); the host tests implement them
//! with a device model.

use cella_abi::ErrorCode;

/// A host call's result.
pub type PlatformResult<T> = core::result::Result<T, ErrorCode>;

/// One PCI function's configuration space, and its memory BARs.
pub trait ConfigSpace {
    /// A register window onto one memory BAR.
    type Window: RegisterWindow;

    /// Reads the byte at `offset`.
    ///
    /// # Errors
    /// The platform's refusal.
    fn read8(&self, offset: u8) -> PlatformResult<u8>;

    /// Reads 16 bits at `offset` (a multiple of 2).
    ///
    /// # Errors
    /// The platform's refusal.
    fn read16(&self, offset: u8) -> PlatformResult<u16>;

    /// Reads 32 bits at `offset` (a multiple of 4).
    ///
    /// # Errors
    /// The platform's refusal.
    fn read32(&self, offset: u8) -> PlatformResult<u32>;

    /// Writes 16 bits at `offset` (a multiple of 2).
    ///
    /// # Errors
    /// The platform's refusal.
    fn write16(&self, offset: u8, value: u16) -> PlatformResult<()>;

    /// The memory BAR `index` (0 to 5) as a window whose offsets start at
    /// the BAR's base.
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when that BAR is not a memory BAR, or another
    /// refusal.
    fn memory_bar(&self, index: u8) -> PlatformResult<Self::Window>;
}

/// Registers reached at offsets inside a window (a memory BAR).
pub trait RegisterWindow {
    /// Reads a byte.
    ///
    /// # Errors
    /// The platform's refusal.
    fn read8(&self, offset: u32) -> PlatformResult<u8>;
    /// Reads 16 bits.
    ///
    /// # Errors
    /// The platform's refusal.
    fn read16(&self, offset: u32) -> PlatformResult<u16>;
    /// Reads 32 bits.
    ///
    /// # Errors
    /// The platform's refusal.
    fn read32(&self, offset: u32) -> PlatformResult<u32>;
    /// Reads 64 bits.
    ///
    /// # Errors
    /// The platform's refusal.
    fn read64(&self, offset: u32) -> PlatformResult<u64>;
    /// Writes a byte.
    ///
    /// # Errors
    /// The platform's refusal.
    fn write8(&self, offset: u32, value: u8) -> PlatformResult<()>;
    /// Writes 16 bits.
    ///
    /// # Errors
    /// The platform's refusal.
    fn write16(&self, offset: u32, value: u16) -> PlatformResult<()>;
    /// Writes 32 bits.
    ///
    /// # Errors
    /// The platform's refusal.
    fn write32(&self, offset: u32, value: u32) -> PlatformResult<()>;
    /// Writes 64 bits.
    ///
    /// # Errors
    /// The platform's refusal.
    fn write64(&self, offset: u32, value: u64) -> PlatformResult<()>;
}

/// Where DMA buffers come from.
pub trait DmaMemory {
    /// One buffer.
    type Buffer: DmaRegion;

    /// Allocates a buffer of `size` bytes, contiguous as the device sees it.
    ///
    /// # Errors
    /// The platform's refusal ([`ErrorCode::Exhausted`] past its budget).
    fn allocate(&self, size: u32) -> PlatformResult<Self::Buffer>;
}

/// A DMA buffer: the device reaches it at its device address, the driver
/// only by copying in and out.
pub trait DmaRegion {
    /// Its size in bytes.
    fn size(&self) -> u32;

    /// The address the device sees it at.
    ///
    /// # Errors
    /// The platform's refusal.
    fn device_address(&self) -> PlatformResult<u64>;

    /// Copies `bytes` in at `offset`.
    ///
    /// # Errors
    /// The platform's refusal (past the buffer's end).
    fn write(&self, offset: u32, bytes: &[u8]) -> PlatformResult<()>;

    /// Copies `destination.len()` bytes out from `offset`.
    ///
    /// # Errors
    /// The platform's refusal (past the buffer's end).
    fn read(&self, offset: u32, destination: &mut [u8]) -> PlatformResult<()>;
}
