//! A PCI function as the IOMMU sees it: its source id (bus, device, function).

use core::fmt;

/// A PCI function on segment 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PciAddress {
    pub bus: u8,
    /// 0 to 31.
    pub device: u8,
    /// 0 to 7.
    pub function: u8,
}

impl PciAddress {
    /// The requester id the device's DMA carries (bus in bits 15:8, then
    /// device and function), or `None` if device or function is out of range.
    pub fn source_id(&self) -> Option<u16> {
        (self.device < 32 && self.function < 8).then(|| {
            (u16::from(self.bus) << 8) | (u16::from(self.device) << 3) | u16::from(self.function)
        })
    }

    /// The function a requester id names.
    pub fn from_source_id(source: u16) -> Self {
        Self {
            bus: (source >> 8) as u8,
            device: ((source >> 3) & 0x1f) as u8,
            function: (source & 7) as u8,
        }
    }

    /// Device and function as one byte (the context table index).
    pub fn device_function(&self) -> u8 {
        ((self.device & 0x1f) << 3) | (self.function & 7)
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:02x}:{:02x}.{}",
            self.bus, self.device, self.function
        )
    }
}
