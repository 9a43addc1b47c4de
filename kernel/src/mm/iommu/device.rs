//! A PCI function as the IOMMU sees it: `cella-abi`'s address, whose packed
//! form (bus, device, function) is the source id its DMA carries.

pub use cella_abi::PciAddress;

/// The requester id `device`'s DMA carries (bus in bits 15:8, then device
/// and function), or `None` if device or function is out of range.
pub fn source_id(device: PciAddress) -> Option<u16> {
    PciAddress::new(device.bus, device.device, device.function).map(PciAddress::packed)
}

/// Device and function as one byte (the context table index).
pub fn device_function(device: PciAddress) -> u8 {
    (device.packed() & 0xff) as u8
}
