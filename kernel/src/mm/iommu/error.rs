//! What can go wrong when the kernel asks the IOMMU for something.

use super::device::PciAddress;
use core::fmt;

/// Why an IOMMU request was refused. Nothing is half done when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IommuError {
    /// The machine has no remapping unit the kernel drives.
    NotPresent,
    /// A device number above 31 or a function number above 7.
    BadDevice(PciAddress),
    /// The remapping unit's device scope does not list the device, so its DMA
    /// does not go through the unit.
    NotCovered(PciAddress),
    /// The device already has a domain.
    AlreadyAttached(PciAddress),
    /// The device has no domain (or the domain was detached).
    NotAttached(PciAddress),
    /// Every domain id the kernel hands out is in use.
    TooManyDomains,
    /// An address that must be page aligned is not.
    Misaligned(u64),
    /// A length of zero, not whole pages, or above the limit of one call.
    BadLength(u64),
    /// A range that overflows or lies beyond the domain's address width.
    OutOfRange { address: u64, length: u64 },
    /// The page at this address is mapped already.
    AlreadyMapped(u64),
    /// The page at this address is not mapped.
    NotMapped(u64),
    /// No frame is left for a table.
    OutOfMemory,
    /// The unit did not finish a command in time.
    Timeout(&'static str),
}

impl fmt::Display for IommuError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPresent => write!(formatter, "no IOMMU"),
            Self::BadDevice(device) => write!(formatter, "{device} is not a PCI function address"),
            Self::NotCovered(device) => write!(
                formatter,
                "{device} is not in the remapping unit's device scope"
            ),
            Self::AlreadyAttached(device) => write!(formatter, "{device} already has a DMA domain"),
            Self::NotAttached(device) => write!(formatter, "{device} has no DMA domain"),
            Self::TooManyDomains => write!(formatter, "every DMA domain id is in use"),
            Self::Misaligned(address) => write!(formatter, "{address:#x} is not page aligned"),
            Self::BadLength(length) => write!(
                formatter,
                "length {length:#x} is not a whole number of pages between 4 KiB and 1 GiB"
            ),
            Self::OutOfRange { address, length } => write!(
                formatter,
                "{length:#x} bytes at {address:#x} lie beyond the domain's addresses"
            ),
            Self::AlreadyMapped(address) => write!(formatter, "{address:#x} is mapped already"),
            Self::NotMapped(address) => write!(formatter, "{address:#x} is not mapped"),
            Self::OutOfMemory => write!(formatter, "out of memory for IOMMU tables"),
            Self::Timeout(what) => write!(formatter, "the IOMMU did not finish {what} in time"),
        }
    }
}
