//! The root table and the context tables: which domain (and so which page
//! table) each PCI function's DMA goes through, in legacy translation mode.
//!
//! The root table has one 128-bit entry per bus, pointing at that bus's
//! context table; a context table has one 128-bit entry per device and
//! function. A function without a present context entry has every DMA
//! blocked (and reported as a fault) once translation is on. Context tables
//! are allocated on a bus's first attach and kept for the bus (at most 256
//! frames), so attaching and detaching again allocates nothing.

use super::device::{PciAddress, device_function, source_id};
use super::error::IommuError;
use super::page_table::TableMemory;
use super::registers::AddressWidth;

const PRESENT: u64 = 1;
const ADDRESS: u64 = 0x000f_ffff_ffff_f000;

/// The root entry's low word for a context table at `table`.
pub fn root_entry(table: u64) -> u64 {
    (table & ADDRESS) | PRESENT
}

/// A context entry (low, high): present, translation type 0 (untranslated
/// requests go through the second-level table at `page_table`), fault
/// processing on, address width `width`, domain id `domain`.
pub fn context_entry(page_table: u64, width: AddressWidth, domain: u16) -> (u64, u64) {
    (
        (page_table & ADDRESS) | PRESENT,
        width.context_code() | (u64::from(domain) << 8),
    )
}

/// The root table and the context tables under it.
#[derive(Debug)]
pub struct ContextTables {
    root: u64,
}

impl ContextTables {
    /// An empty root table: no bus has a context table, so all DMA is blocked.
    ///
    /// # Errors
    /// [`IommuError::OutOfMemory`] if no frame is left.
    pub fn new(memory: &mut impl TableMemory) -> Result<Self, IommuError> {
        let root = memory.allocate_table().ok_or(IommuError::OutOfMemory)?;
        Ok(Self { root })
    }

    /// Physical address of the root table (for the root table address register).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The context table of `bus`, if it has one.
    fn context_table(&self, memory: &impl TableMemory, bus: u8) -> Option<u64> {
        let entry = memory.read_entry(self.root, usize::from(bus) * 2);
        (entry & PRESENT != 0).then_some(entry & ADDRESS)
    }

    /// The (low, high) context entry of `device`, if its bus has a context table.
    pub fn entry(&self, memory: &impl TableMemory, device: PciAddress) -> Option<(u64, u64)> {
        let table = self.context_table(memory, device.bus)?;
        let slot = usize::from(device_function(device)) * 2;
        Some((
            memory.read_entry(table, slot),
            memory.read_entry(table, slot + 1),
        ))
    }

    /// Points `device` at `page_table` in domain `domain`.
    ///
    /// # Errors
    /// [`IommuError::BadDevice`], [`IommuError::AlreadyAttached`] if its entry
    /// is present, [`IommuError::OutOfMemory`] for a new context table.
    pub fn attach(
        &mut self,
        memory: &mut impl TableMemory,
        device: PciAddress,
        page_table: u64,
        width: AddressWidth,
        domain: u16,
    ) -> Result<(), IommuError> {
        source_id(device).ok_or(IommuError::BadDevice(device))?;
        let table = match self.context_table(memory, device.bus) {
            Some(table) => table,
            None => {
                let table = memory.allocate_table().ok_or(IommuError::OutOfMemory)?;
                memory.write_entry(self.root, usize::from(device.bus) * 2, root_entry(table));
                table
            }
        };
        let slot = usize::from(device_function(device)) * 2;
        if memory.read_entry(table, slot) & PRESENT != 0 {
            return Err(IommuError::AlreadyAttached(device));
        }
        let (low, high) = context_entry(page_table, width, domain);
        // The high half first: the entry becomes present only when it is whole.
        memory.write_entry(table, slot + 1, high);
        memory.write_entry(table, slot, low);
        Ok(())
    }

    /// Clears `device`'s context entry. The caller invalidates the context
    /// cache and the IOTLB before it frees the domain's page table.
    ///
    /// # Errors
    /// [`IommuError::NotAttached`] if it has no present entry.
    pub fn detach(
        &mut self,
        memory: &mut impl TableMemory,
        device: PciAddress,
    ) -> Result<(), IommuError> {
        source_id(device).ok_or(IommuError::BadDevice(device))?;
        let table = self
            .context_table(memory, device.bus)
            .ok_or(IommuError::NotAttached(device))?;
        let slot = usize::from(device_function(device)) * 2;
        if memory.read_entry(table, slot) & PRESENT == 0 {
            return Err(IommuError::NotAttached(device));
        }
        // Not present first, then the rest.
        memory.write_entry(table, slot, 0);
        memory.write_entry(table, slot + 1, 0);
        Ok(())
    }
}
