//! The IOMMU: Intel VT-d DMA remapping, so that a device can reach by DMA
//! only the memory granted to its driver.
//!
//! The boot finds the remapping unit in the ACPI DMAR table ([`dmar`]) and,
//! if there is one, brings it up ([`initialise`]) in legacy translation mode
//! with an empty root table: from then on every device's DMA is blocked (and
//! recorded as a fault) until the kernel attaches the device to a domain and
//! maps pages into it.
//!
//! - [`attach`] gives a device a domain with its own empty second-level page
//!   table (39- or 48-bit, as the unit supports), one device per domain.
//! - [`map`] lets the device reach pages; the kernel's convention is
//!   IOVA == physical address (identity, for the granted pages only): the
//!   address a driver already gives its device (`DmaBuffer::device_address`)
//!   stays valid, and nothing else of RAM is reachable.
//! - [`unmap`] clears the entries and invalidates the domain's IOTLB entries,
//!   waiting for completion, before it returns: the memory may then be reused.
//! - [`detach`] clears the device's context entry, invalidates the context
//!   cache and the IOTLB, and frees the domain's tables.
//! - [`take_faults`] reads and clears the fault records (polled, no interrupt).
//!
//! The pure parts (ACPI parsing, register fields, table entries and walks,
//! fault records) are tested on the host; the rest drives the hardware.

pub mod context;
pub mod device;
pub mod dmar;
pub mod error;
pub mod faults;
pub mod page_table;
pub mod registers;

#[cfg(target_os = "none")]
mod api;
#[cfg(target_os = "none")]
mod frames;
#[cfg(target_os = "none")]
mod hardware;
#[cfg(test)]
mod tests;

#[cfg(target_os = "none")]
pub use api::{Started, attach, detach, initialise, map, present, take_faults, unmap};
pub use device::PciAddress;
pub use error::IommuError;
pub use faults::DmaFault;
#[cfg(target_os = "none")]
pub use hardware::StartError;

/// A device's DMA domain, from [`attach`]: the handle [`map`] and [`unmap`]
/// take. It names the device and the domain id; after [`detach`] every use
/// of it is refused with [`IommuError::NotAttached`].
#[derive(Debug, PartialEq, Eq)]
pub struct Domain {
    id: u16,
    device: PciAddress,
}

impl Domain {
    /// The domain id the unit tags the device's translations with.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The device the domain belongs to.
    pub fn device(&self) -> PciAddress {
        self.device
    }
}
