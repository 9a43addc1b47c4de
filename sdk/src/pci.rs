//! PCI functions: the one a driver was granted ([`PciDevice`]) and the
//! read-only view of the whole bus an enumerator holds ([`PciBus`]).

use crate::error::{ErrorCode, Result, status, value32, value64};
use crate::handle::{FromHandle, Handle};
use crate::{Irq, Mmio, Ports, sys};
use cella_interfaces::pci::Function;
use cella_interfaces::wire::decode;

/// The PCI function a driver was granted (manifest line `pci VENDOR
/// DEVICE`; the system manifest's `devices` list says which function that
/// is). It reaches that function's configuration space, its memory BARs and
/// its interrupt (INTx, or MSI-X vectors the kernel programs), nothing of
/// any other function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciDevice {
    handle: Handle,
}

impl FromHandle for PciDevice {
    fn from_handle(handle: Handle) -> PciDevice {
        PciDevice { handle }
    }
}

impl PciDevice {
    /// The capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    fn read(&self, offset: u8, width: i32) -> Result<u32> {
        let value = value64(sys::pci_config_read(
            self.handle.raw(),
            i32::from(offset),
            width,
        ))?;
        u32::try_from(value).map_err(|_| ErrorCode::DeviceError)
    }

    fn write(&self, offset: u8, width: i32, value: u32) -> Result<()> {
        status(sys::pci_config_write(
            self.handle.raw(),
            i32::from(offset),
            width,
            value as i32,
        ))
    }

    /// Reads the configuration byte at `offset`.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn config_read8(&self, offset: u8) -> Result<u8> {
        Ok(self.read(offset, 1)? as u8)
    }

    /// Reads the 16 bits at `offset` (aligned to 2).
    ///
    /// # Errors
    /// [`ErrorCode::Misaligned`], or another refusal.
    pub fn config_read16(&self, offset: u8) -> Result<u16> {
        Ok(self.read(offset, 2)? as u16)
    }

    /// Reads the 32 bits at `offset` (aligned to 4).
    ///
    /// # Errors
    /// [`ErrorCode::Misaligned`], or another refusal.
    pub fn config_read32(&self, offset: u8) -> Result<u32> {
        self.read(offset, 4)
    }

    /// Writes the configuration byte at `offset`.
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] for a BAR or the ROM address, or another refusal.
    pub fn config_write8(&self, offset: u8, value: u8) -> Result<()> {
        self.write(offset, 1, u32::from(value))
    }

    /// Writes the 16 bits at `offset` (aligned to 2): the command register
    /// (offset 4) is where a driver turns on memory decoding and bus mastering.
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] for a BAR or the ROM address, or another refusal.
    pub fn config_write16(&self, offset: u8, value: u16) -> Result<()> {
        self.write(offset, 2, u32::from(value))
    }

    /// Writes the 32 bits at `offset` (aligned to 4).
    ///
    /// # Errors
    /// [`ErrorCode::Denied`] for a BAR or the ROM address, or another refusal.
    pub fn config_write32(&self, offset: u8, value: u32) -> Result<()> {
        self.write(offset, 4, value)
    }

    /// Memory BAR `index` (0-5) as an MMIO region over the whole BAR
    /// (offsets relative to its base).
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when BAR `index` is absent or an I/O BAR.
    pub fn memory_bar(&self, index: u8) -> Result<Mmio> {
        let raw = value32(sys::pci_bar(self.handle.raw(), i32::from(index)))?;
        // `raw` came from a non-negative i32.
        Ok(Mmio::from_handle(Handle::from_raw(raw as i32)))
    }

    /// I/O BAR `index` (0-5) as a port range over all its ports (offsets
    /// relative to the BAR's first port).
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when BAR `index` is absent or a memory BAR.
    pub fn io_bar(&self, index: u8) -> Result<Ports> {
        let raw = value32(sys::pci_io_bar(self.handle.raw(), i32::from(index)))?;
        // `raw` came from a non-negative i32.
        Ok(Ports::from_handle(Handle::from_raw(raw as i32)))
    }

    /// The function's interrupt line; its interrupts arrive as
    /// [`crate::Module::on_irq`] with this capability's handle.
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when the function has no interrupt line.
    pub fn irq(&self) -> Result<Irq> {
        let raw = value32(sys::pci_irq(self.handle.raw()))?;
        // `raw` came from a non-negative i32.
        Ok(Irq::from_handle(Handle::from_raw(raw as i32)))
    }

    /// A kernel vector for MSI-X table entry `entry`: the kernel programs
    /// the entry and turns MSI-X on (the function stops signalling INTx);
    /// the driver points the device's interrupt sources at `entry`. Its
    /// interrupts arrive as [`crate::Module::on_irq`] with this handle, and
    /// it is enabled and acknowledged as any [`Irq`].
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when the function has no MSI-X (use
    /// [`PciDevice::irq`]), [`ErrorCode::BadArgument`] for an entry past its
    /// table, [`ErrorCode::Busy`] while another instance holds the entry,
    /// [`ErrorCode::Exhausted`] when the kernel has no vector free.
    pub fn msix(&self, entry: u16) -> Result<Irq> {
        let raw = value32(sys::pci_msix(self.handle.raw(), i32::from(entry)))?;
        // `raw` came from a non-negative i32.
        Ok(Irq::from_handle(Handle::from_raw(raw as i32)))
    }
}

/// The PCI functions the kernel found at boot, read-only (manifest line
/// `pci-bus`): what a server publishing the bus (the `pci` module) needs. It
/// reaches no configuration space, so it can move no BAR and enable no device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciBus {
    handle: Handle,
}

impl FromHandle for PciBus {
    fn from_handle(handle: Handle) -> PciBus {
        PciBus { handle }
    }
}

/// Room for one encoded [`Function`] record.
const FUNCTION_RECORD_BYTES: usize = 256;

impl PciBus {
    /// The capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The `index`-th function found (bus order), or `None` past the last.
    ///
    /// # Errors
    /// The host's refusal, or [`ErrorCode::DeviceError`] for a record that
    /// does not decode.
    pub fn function(&self, index: u32) -> Result<Option<Function>> {
        let mut record = [0u8; FUNCTION_RECORD_BYTES];
        let index = i32::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
        let written = sys::pci_bus_function_into(self.handle.raw(), index, &mut record);
        let length = match value32(written) {
            Ok(length) => length as usize,
            Err(ErrorCode::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let bytes = record.get(..length).ok_or(ErrorCode::DeviceError)?;
        decode(bytes).map(Some).map_err(|_| ErrorCode::DeviceError)
    }
}
