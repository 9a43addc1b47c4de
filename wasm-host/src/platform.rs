//! The one door to hardware: everything a sandbox touches goes through
//! [`Platform`]. The kernel implements it with real port I/O and MMIO; tests use
//! [`crate::SimulatedPlatform`].

use cella_abi::{ErrorCode, LogLevel, PciAddress};

/// Width of a port or MMIO access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 8 bits.
    Byte,
    /// 16 bits.
    Word,
    /// 32 bits.
    Dword,
    /// 64 bits (MMIO only).
    Qword,
}

impl Width {
    /// Size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Width::Byte => 1,
            Width::Word => 2,
            Width::Dword => 4,
            Width::Qword => 8,
        }
    }

    /// Keeps only the bits this width carries.
    pub const fn truncate(self, value: u64) -> u64 {
        match self {
            Width::Byte => value & 0xff,
            Width::Word => value & 0xffff,
            Width::Dword => value & 0xffff_ffff,
            Width::Qword => value,
        }
    }
}

/// Hardware as a sandbox sees it, after the host has checked the capability.
///
/// The host guarantees to every call: ports lie in a granted range, MMIO
/// accesses lie in a granted region and are aligned to their width, DMA copies
/// lie inside a buffer this platform allocated. An implementation is a cheap
/// handle: cloning it must reach the same hardware (the kernel's is a unit
/// struct; the simulated one shares its state).
pub trait Platform {
    /// Reads a port.
    fn port_read(&mut self, port: u16, width: Width) -> u32;
    /// Writes a port (`value` already truncated to `width`).
    fn port_write(&mut self, port: u16, width: Width, value: u32);
    /// Reads `destination.len()` bytes from 8-bit port `port`, one after the
    /// other (the bulk call `port_in8_n`). The default reads them one
    /// [`Platform::port_read`] at a time; a kernel may use a string
    /// instruction.
    fn port_read_bytes(&mut self, port: u16, destination: &mut [u8]) {
        for byte in destination {
            *byte = self.port_read(port, Width::Byte) as u8;
        }
    }
    /// Writes the bytes of `source` to 8-bit port `port`, one after the
    /// other (the bulk call `port_out8_n`). The default writes them one
    /// [`Platform::port_write`] at a time.
    fn port_write_bytes(&mut self, port: u16, source: &[u8]) {
        for byte in source {
            self.port_write(port, Width::Byte, u32::from(*byte));
        }
    }
    /// Reads physical MMIO.
    fn mmio_read(&mut self, address: u64, width: Width) -> u64;
    /// Writes physical MMIO (`value` already truncated to `width`).
    fn mmio_write(&mut self, address: u64, width: Width, value: u64);
    /// Masks or unmasks an IRQ line.
    fn irq_set_enabled(&mut self, line: u8, enabled: bool);
    /// Signals end of interrupt for a line.
    fn irq_acknowledge(&mut self, line: u8);
    /// A vector for MSI-X table entry `entry` of the PCI function at
    /// `function` (the module's granted one): the kernel programs the entry
    /// (masked) and returns the IRQ line its interrupts arrive on, masked
    /// and unmasked with [`Platform::irq_set_enabled`] like any line. The
    /// default has no MSI-X.
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] (no MSI-X), [`ErrorCode::BadArgument`] (an
    /// entry past the table), [`ErrorCode::Busy`] (the entry is another
    /// holder's), [`ErrorCode::Exhausted`] (no vector free), or
    /// [`ErrorCode::DeviceError`].
    fn msix_attach(&mut self, function: PciAddress, entry: u16) -> Result<u8, ErrorCode> {
        let _ = (function, entry);
        Err(ErrorCode::NotFound)
    }
    /// Gives a line from [`Platform::msix_attach`] back: the kernel masks
    /// its entry and frees the vector.
    fn msix_release(&mut self, line: u8) {
        let _ = line;
    }
    /// Reads `width` bytes at `offset` of the configuration space of the
    /// PCI function at `address` (all ones where no function answers).
    fn pci_config_read(&mut self, address: PciAddress, offset: u8, width: Width) -> u32;
    /// Writes the configuration space of the PCI function at `address` (the
    /// host refused writes to BARs and the ROM address before).
    fn pci_config_write(&mut self, address: PciAddress, offset: u8, width: Width, value: u32);
    /// Allocates `size` bytes of DMA-able memory that `device` (the module's
    /// granted PCI function, if it has one) may reach; returns the address
    /// the device sees it at. With an IOMMU the buffer is mapped into that
    /// device's domain and no other.
    fn dma_allocate(&mut self, device: Option<PciAddress>, size: u64) -> Option<u64>;
    /// Frees a buffer from [`Platform::dma_allocate`]: with an IOMMU it is
    /// unmapped from `device`'s domain (and the device's cached translations
    /// dropped) before its memory is reused.
    fn dma_free(&mut self, device: Option<PciAddress>, device_address: u64, size: u64);
    /// Takes the first hold on the buffer at `device_address` (`size`
    /// bytes, allocated for `owner`'s device): a call lends it. Until every
    /// hold is given back with [`Platform::dma_return`] (this one with no
    /// device), freeing the buffer only marks it: its memory is reused
    /// after the last hold ends. `false` if no such buffer exists. The
    /// default refuses: a platform lends only if it keeps lent memory
    /// alive.
    fn dma_hold(&mut self, owner: Option<PciAddress>, device_address: u64, size: u64) -> bool {
        let _ = (owner, device_address, size);
        false
    }
    /// Lends the buffer at `device_address` (`size` bytes), which a call
    /// holds ([`Platform::dma_hold`]), to a borrower whose granted PCI
    /// function is `device`: with an IOMMU it is mapped into that device's
    /// domain too (writable only if `writable`). `false` refuses the loan
    /// (no hold on the buffer, a device that holds it with the other
    /// access, or the IOMMU could not map it). The default refuses.
    fn dma_lend(
        &mut self,
        device: Option<PciAddress>,
        device_address: u64,
        size: u64,
        writable: bool,
    ) -> bool {
        let _ = (device, device_address, size, writable);
        false
    }
    /// Ends one loan of [`Platform::dma_lend`]: unmapped from `device`'s
    /// domain (its cached translations dropped); a buffer its owner freed
    /// meanwhile is freed with its last loan.
    fn dma_return(&mut self, device: Option<PciAddress>, device_address: u64, size: u64) {
        let _ = (device, device_address, size);
    }
    /// Copies from DMA memory.
    fn dma_read(&mut self, device_address: u64, destination: &mut [u8]);
    /// Copies into DMA memory.
    fn dma_write(&mut self, device_address: u64, source: &[u8]);
    /// Monotonic nanoseconds since boot.
    fn now_nanoseconds(&mut self) -> u64;
    /// Writes a log line on behalf of a module.
    fn log(&mut self, module: &str, level: LogLevel, message: &str);
    /// Whether the module may take `additional_bytes` more memory for its
    /// linear memory (asked before a memory is created or grown, after the
    /// sandbox's own page limit allowed it). A kernel answers from the
    /// module's memory budget; `false` makes `memory.grow` return -1.
    fn memory_may_grow(&mut self, additional_bytes: usize) -> bool {
        let _ = additional_bytes;
        true
    }
}
