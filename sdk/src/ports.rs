//! Port I/O inside a granted range: [`Ports`] and typed single ports [`Port<T>`].

use crate::error::{Result, status, value64};
use crate::handle::{FromHandle, Handle};
use crate::sys;
use cella_abi::MAX_PORT_BYTES;
use core::marker::PhantomData;

/// A granted range of x86 I/O ports (manifest line `port BASE COUNT`).
/// Offsets are relative to the range's first port; an access past its end is
/// refused with [`crate::ErrorCode::Denied`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    handle: Handle,
}

impl FromHandle for Ports {
    fn from_handle(handle: Handle) -> Ports {
        Ports { handle }
    }
}

impl Ports {
    /// The capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The single port at `offset`, accessed as `T` (`u8`, `u16` or `u32`).
    pub fn port<T: PortValue>(&self, offset: u16) -> Port<T> {
        Port {
            handle: self.handle,
            offset,
            width: PhantomData,
        }
    }

    /// Reads a byte at `offset`.
    ///
    /// # Errors
    /// The host's refusal (outside the range, stale handle, ...).
    pub fn read8(&self, offset: u16) -> Result<u8> {
        self.port::<u8>(offset).read()
    }

    /// Writes a byte at `offset`.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write8(&self, offset: u16, value: u8) -> Result<()> {
        self.port::<u8>(offset).write(value)
    }

    /// Fills `buffer` with bytes read one after the other from the 8-bit
    /// port at `offset` (a FIFO or data port): one host call per
    /// [`MAX_PORT_BYTES`] bytes, checked once and charged far less fuel per
    /// byte than [`Ports::read8`] in a loop (docs/abi.md, "Fuel").
    ///
    /// # Errors
    /// The host's refusal (outside the range, stale handle, ...); bytes of
    /// earlier chunks are then already read.
    pub fn read_bytes(&self, offset: u16, buffer: &mut [u8]) -> Result<()> {
        for chunk in buffer.chunks_mut(MAX_PORT_BYTES as usize) {
            status(sys::port_in8_n_into(
                self.handle.raw(),
                i32::from(offset),
                chunk,
            ))?;
        }
        Ok(())
    }

    /// Writes `bytes` one after the other to the 8-bit port at `offset`:
    /// one host call per [`MAX_PORT_BYTES`] bytes (see [`Ports::read_bytes`]).
    ///
    /// # Errors
    /// The host's refusal; bytes of earlier chunks are then already written.
    pub fn write_bytes(&self, offset: u16, bytes: &[u8]) -> Result<()> {
        for chunk in bytes.chunks(MAX_PORT_BYTES as usize) {
            status(sys::port_out8_n(
                self.handle.raw(),
                i32::from(offset),
                sys::pointer(chunk),
                sys::length(chunk),
            ))?;
        }
        Ok(())
    }

    /// Reads 16 bits at `offset`.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read16(&self, offset: u16) -> Result<u16> {
        self.port::<u16>(offset).read()
    }

    /// Writes 16 bits at `offset`.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write16(&self, offset: u16, value: u16) -> Result<()> {
        self.port::<u16>(offset).write(value)
    }

    /// Reads 32 bits at `offset`.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read32(&self, offset: u16) -> Result<u32> {
        self.port::<u32>(offset).read()
    }

    /// Writes 32 bits at `offset`.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write32(&self, offset: u16, value: u32) -> Result<()> {
        self.port::<u32>(offset).write(value)
    }
}

/// One port of a granted range, read and written as `T`.
///
/// ```
/// # fn demo(com1: cella_sdk::Ports) -> cella_sdk::Result<()> {
/// let line_status = com1.port::<u8>(5);
/// let ready = line_status.read()? & 0x20 != 0;
/// # let _ = ready; Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port<T> {
    handle: Handle,
    offset: u16,
    width: PhantomData<T>,
}

impl<T: PortValue> Port<T> {
    /// Reads the port.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn read(&self) -> Result<T> {
        T::read(self.handle, self.offset)
    }

    /// Writes the port.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn write(&self, value: T) -> Result<()> {
        T::write(self.handle, self.offset, value)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
}

/// A value a port can carry: `u8`, `u16` or `u32`.
pub trait PortValue: sealed::Sealed + Copy {
    /// `port_in{8,16,32}`.
    ///
    /// # Errors
    /// The host's refusal.
    fn read(handle: Handle, offset: u16) -> Result<Self>;
    /// `port_out{8,16,32}`.
    ///
    /// # Errors
    /// The host's refusal.
    fn write(handle: Handle, offset: u16, value: Self) -> Result<()>;
}

macro_rules! port_value {
    ($type:ty, $read:ident, $write:ident) => {
        impl PortValue for $type {
            fn read(handle: Handle, offset: u16) -> Result<$type> {
                let value = value64(sys::$read(handle.raw(), i32::from(offset)))?;
                // The host returns at most the width's bits.
                Ok(value as $type)
            }

            fn write(handle: Handle, offset: u16, value: $type) -> Result<()> {
                // The host reads the low bits of the i32 as unsigned.
                status(sys::$write(handle.raw(), i32::from(offset), value as i32))
            }
        }
    };
}

port_value!(u8, port_in8, port_out8);
port_value!(u16, port_in16, port_out16);
port_value!(u32, port_in32, port_out32);
