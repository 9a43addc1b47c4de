//! Raw port I/O for the Wasm host's platform: the host has already checked that
//! the calling module holds a capability for the port.

use x86_64::instructions::port::Port;

/// Reads an 8-, 16- or 32-bit value from `port`.
pub fn read(port: u16, bytes: u32) -> u32 {
    // SAFETY: reading a port has no effect on memory the kernel owns; which
    // ports a module may read is decided by its capabilities before this call.
    unsafe {
        match bytes {
            1 => u32::from(Port::<u8>::new(port).read()),
            2 => u32::from(Port::<u16>::new(port).read()),
            _ => Port::<u32>::new(port).read(),
        }
    }
}

/// Writes an 8-, 16- or 32-bit value to `port` (truncated to the width).
pub fn write(port: u16, bytes: u32, value: u32) {
    // SAFETY: as for `read`: port writes do not touch kernel memory, and the
    // capability check happened before; devices doing DMA are only given
    // addresses from DMA buffers the kernel allocated for that module.
    unsafe {
        match bytes {
            1 => Port::<u8>::new(port).write(value as u8),
            2 => Port::<u16>::new(port).write(value as u16),
            _ => Port::<u32>::new(port).write(value),
        }
    }
}
