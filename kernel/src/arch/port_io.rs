//! Port I/O for code outside `arch`: only through a [`PortRange`], which
//! `arch` hands out for ports the kernel does not use itself.
//!
//! The kernel's own ports (the two PICs, the PIT and its speaker gate, COM2
//! for the push channel, QEMU's exit port, PCI configuration mechanism #1)
//! are driven only by the code in
//! `arch` that owns them; a module's or a process's port grant that names one
//! of them is refused here, whatever the manifest says. COM1 is the exception
//! by design: the kernel writes its early and emergency console there, and
//! the UART driver module is granted it to take the console over.

use x86_64::instructions::port::Port;

/// The ports the kernel drives itself, `(first, count, what)`: one list for
/// the system description's check and these proofs.
use cella_system::validate::KERNEL_PORTS;

/// Why a [`PortRange`] was not handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortError {
    /// No ports, or the range runs past port 0xffff.
    BadRange { first: u16, count: u32 },
    /// The range includes a port the kernel drives itself.
    KernelPort { port: u16 },
}

impl core::fmt::Display for PortError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadRange { first, count } => {
                write!(formatter, "ports {first:#x}+{count}: not a port range")
            }
            Self::KernelPort { port } => {
                write!(formatter, "port {port:#x} belongs to the kernel")
            }
        }
    }
}

/// Proof that a range of I/O ports may be read and written from outside
/// `arch`: none of them is a port the kernel drives itself.
///
/// Only [`PortRange::new`] makes one, after that check, and its fields are
/// private, so holding one is the permission to use exactly those ports.
/// It does not say who else may use them (the system manifest's validation
/// keeps grants apart), nor what the device behind them does: a device
/// granted ports can still be told to write memory by DMA anywhere, which
/// only an IOMMU can prevent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    count: u32,
}

impl PortRange {
    /// The `count` ports from `first`, unless the range is empty, runs past
    /// 0xffff or includes one of the kernel's own ports.
    ///
    /// # Errors
    /// [`PortError`] says which.
    pub fn new(first: u16, count: u32) -> Result<Self, PortError> {
        let end = u32::from(first)
            .checked_add(count)
            .filter(|&end| count > 0 && end <= 0x1_0000)
            .ok_or(PortError::BadRange { first, count })?;
        for (kernel_first, kernel_count, _) in KERNEL_PORTS {
            let kernel_end = u32::from(kernel_first) + u32::from(kernel_count);
            if u32::from(first) < kernel_end && u32::from(kernel_first) < end {
                let port = first.max(kernel_first);
                return Err(PortError::KernelPort { port });
            }
        }
        Ok(Self { first, count })
    }

    /// The first port.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// How many ports.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The port at `offset` if an access of `bytes` there stays in the range.
    fn port(&self, offset: u32, bytes: u32) -> Option<u16> {
        let end = offset.checked_add(bytes)?;
        (end <= self.count).then(|| self.first + offset as u16)
    }

    /// Reads an 8-, 16- or 32-bit value (`bytes` 1, 2, else 4) at `offset`;
    /// `None` if the access does not lie inside the range.
    pub fn read(&self, offset: u32, bytes: u32) -> Option<u32> {
        let bytes = access_width(bytes);
        let port = self.port(offset, bytes)?;
        // SAFETY: reading a port touches no memory the kernel owns, and
        // `new` checked the port is none of the kernel's own.
        let value = unsafe {
            match bytes {
                1 => u32::from(Port::<u8>::new(port).read()),
                2 => u32::from(Port::<u16>::new(port).read()),
                _ => Port::<u32>::new(port).read(),
            }
        };
        Some(value)
    }

    /// Writes an 8-, 16- or 32-bit value (`bytes` 1, 2, else 4; truncated to
    /// the width) at `offset`; `false` if the access does not lie inside the range.
    pub fn write(&self, offset: u32, bytes: u32, value: u32) -> bool {
        let bytes = access_width(bytes);
        let Some(port) = self.port(offset, bytes) else {
            return false;
        };
        // SAFETY: as in `read`: the port is none of the kernel's own, and a
        // port write does not touch kernel memory (what a device then does
        // by DMA is outside what this type guarantees, see its docs).
        unsafe {
            match bytes {
                1 => Port::<u8>::new(port).write(value as u8),
                2 => Port::<u16>::new(port).write(value as u16),
                _ => Port::<u32>::new(port).write(value),
            }
        }
        true
    }
}

/// 1 and 2 stay; every other width is a 32-bit access.
fn access_width(bytes: u32) -> u32 {
    match bytes {
        1 | 2 => bytes,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ports_are_handed_out() {
        for (first, count) in [
            (0x3f8, 8),
            (0x60, 1),
            (0x64, 1),
            (0x70, 2),
            (0xc000, 0x40),
            (0x80, 1),
        ] {
            let range = PortRange::new(first, count).unwrap();
            assert_eq!((range.first(), range.count()), (first, count));
        }
        assert!(PortRange::new(0xffff, 1).is_ok());
    }

    #[test]
    fn every_kernel_port_is_refused_alone_and_inside_a_wider_range() {
        for (first, count, _) in KERNEL_PORTS {
            for port in first..first + count {
                assert_eq!(PortRange::new(port, 1), Err(PortError::KernelPort { port }));
            }
            assert_eq!(
                PortRange::new(first - 1, u32::from(count) + 2),
                Err(PortError::KernelPort { port: first })
            );
        }
        // The keyboard controller's data port and command port, as one range,
        // span the PIT gate at 0x61.
        assert_eq!(
            PortRange::new(0x60, 5),
            Err(PortError::KernelPort { port: 0x61 })
        );
        // Ranges that end just before or start just after a kernel range.
        assert!(PortRange::new(0x1e, 2).is_ok());
        assert!(PortRange::new(0x22, 2).is_ok());
    }

    #[test]
    fn empty_and_overflowing_ranges_are_refused() {
        assert!(matches!(
            PortRange::new(0x3f8, 0),
            Err(PortError::BadRange { .. })
        ));
        assert!(matches!(
            PortRange::new(0xffff, 2),
            Err(PortError::BadRange { .. })
        ));
        assert!(matches!(
            PortRange::new(0x1000, u32::MAX),
            Err(PortError::BadRange { .. })
        ));
    }

    #[test]
    fn accesses_must_lie_inside_the_range() {
        let range = PortRange::new(0xc000, 8).unwrap();
        assert_eq!(range.port(0, 4), Some(0xc000));
        assert_eq!(range.port(4, 4), Some(0xc004));
        assert_eq!(range.port(7, 1), Some(0xc007));
        assert_eq!(range.port(5, 4), None);
        assert_eq!(range.port(8, 1), None);
        assert_eq!(range.port(u32::MAX, 4), None);
    }
}
