//! A domain's second-level page table: which I/O virtual addresses a device
//! may reach, and where they lead.
//!
//! 4 KiB pages only, 3 or 4 levels (39- or 48-bit input addresses). Leaf
//! entries carry read (bit 0) and write (bit 1) permission and the frame
//! address; an entry with neither bit is not present, so a device's access
//! there faults. The logic is generic over [`TableMemory`], so mapping,
//! unmapping and freeing are tested on the host with a fake memory.

use super::error::IommuError;
use super::registers::AddressWidth;
use crate::mm::layout::PAGE_SIZE;

/// Entry bits.
const READ: u64 = 1;
const WRITE: u64 = 1 << 1;
/// Frame address bits of an entry (51:12).
const ADDRESS: u64 = 0x000f_ffff_ffff_f000;
/// Entries per table.
pub const ENTRIES: usize = 512;
/// Longest range one `map` or `unmap` call takes (1 GiB).
pub const MAX_RANGE: u64 = 1 << 30;

/// Where table frames come from and how their entries are reached.
pub trait TableMemory {
    /// A zeroed 4 KiB frame for a table, or `None` when memory is exhausted.
    fn allocate_table(&mut self) -> Option<u64>;
    /// The 64-bit entry `index` of the table at physical `table`.
    fn read_entry(&self, table: u64, index: usize) -> u64;
    /// Writes entry `index` of the table at `table` (visible to the unit when this returns).
    fn write_entry(&mut self, table: u64, index: usize, value: u64);
    /// Gives a table's frame back.
    fn free_table(&mut self, table: u64);
}

/// The index into the table of `level` (1 = the leaf table) for `address`.
pub fn index(address: u64, level: u8) -> usize {
    ((address >> (12 + 9 * (u32::from(level) - 1))) & 0x1ff) as usize
}

/// A leaf entry mapping the frame at `physical`.
pub fn leaf_entry(physical: u64, writable: bool) -> u64 {
    (physical & ADDRESS) | READ | if writable { WRITE } else { 0 }
}

/// An entry pointing at the next level's table.
pub fn table_entry(table: u64) -> u64 {
    (table & ADDRESS) | READ | WRITE
}

fn present(entry: u64) -> bool {
    entry & (READ | WRITE) != 0
}

/// Checks a range: page aligned, not empty, at most [`MAX_RANGE`], and within `bits`.
///
/// # Errors
/// [`IommuError::Misaligned`], [`IommuError::BadLength`] or [`IommuError::OutOfRange`].
pub fn check_range(address: u64, length: u64, bits: u32) -> Result<u64, IommuError> {
    if !address.is_multiple_of(PAGE_SIZE) {
        return Err(IommuError::Misaligned(address));
    }
    if length == 0 || length > MAX_RANGE || !length.is_multiple_of(PAGE_SIZE) {
        return Err(IommuError::BadLength(length));
    }
    match address.checked_add(length) {
        Some(end) if end <= 1u64 << bits => Ok(length / PAGE_SIZE),
        _ => Err(IommuError::OutOfRange { address, length }),
    }
}

/// One domain's page table.
#[derive(Debug)]
pub struct PageTable {
    root: u64,
    width: AddressWidth,
}

impl PageTable {
    /// An empty table: nothing is reachable.
    ///
    /// # Errors
    /// [`IommuError::OutOfMemory`] if no frame is left.
    pub fn new(memory: &mut impl TableMemory, width: AddressWidth) -> Result<Self, IommuError> {
        let root = memory.allocate_table().ok_or(IommuError::OutOfMemory)?;
        Ok(Self { root, width })
    }

    /// Physical address of the top-level table (the context entry points here).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// The input address width.
    pub fn width(&self) -> AddressWidth {
        self.width
    }

    /// The leaf table holding `address`, allocating missing tables on the way if `create`.
    fn leaf_table(
        &self,
        memory: &mut impl TableMemory,
        address: u64,
        create: bool,
    ) -> Result<Option<u64>, IommuError> {
        let mut table = self.root;
        for level in (2..=self.width.levels()).rev() {
            let slot = index(address, level);
            let entry = memory.read_entry(table, slot);
            table = if present(entry) {
                entry & ADDRESS
            } else if create {
                let next = memory.allocate_table().ok_or(IommuError::OutOfMemory)?;
                memory.write_entry(table, slot, table_entry(next));
                next
            } else {
                return Ok(None);
            };
        }
        Ok(Some(table))
    }

    /// The frame `address` leads to and whether it is writable, if mapped.
    pub fn translate(&self, memory: &mut impl TableMemory, address: u64) -> Option<(u64, bool)> {
        let table = self.leaf_table(memory, address, false).ok()??;
        let entry = memory.read_entry(table, index(address, 1));
        present(entry).then_some((entry & ADDRESS, entry & WRITE != 0))
    }

    /// Maps `length` bytes at input `address` to `physical`; all or nothing.
    ///
    /// # Errors
    /// A bad range ([`check_range`], for both addresses), a page mapped already
    /// ([`IommuError::AlreadyMapped`]) or no frame for a table
    /// ([`IommuError::OutOfMemory`]); nothing new stays mapped then.
    pub fn map(
        &mut self,
        memory: &mut impl TableMemory,
        address: u64,
        physical: u64,
        length: u64,
        writable: bool,
    ) -> Result<(), IommuError> {
        let pages = check_range(address, length, self.width.bits())?;
        check_range(physical, length, 52)?;
        for page in 0..pages {
            let offset = page * PAGE_SIZE;
            let result = self.map_page(memory, address + offset, physical + offset, writable);
            if let Err(error) = result {
                for undone in 0..page {
                    self.clear_page(memory, address + undone * PAGE_SIZE);
                }
                return Err(error);
            }
        }
        Ok(())
    }

    fn map_page(
        &mut self,
        memory: &mut impl TableMemory,
        address: u64,
        physical: u64,
        writable: bool,
    ) -> Result<(), IommuError> {
        let table = self
            .leaf_table(memory, address, true)?
            .ok_or(IommuError::OutOfMemory)?;
        let slot = index(address, 1);
        if present(memory.read_entry(table, slot)) {
            return Err(IommuError::AlreadyMapped(address));
        }
        memory.write_entry(table, slot, leaf_entry(physical, writable));
        Ok(())
    }

    fn clear_page(&mut self, memory: &mut impl TableMemory, address: u64) {
        if let Ok(Some(table)) = self.leaf_table(memory, address, false) {
            memory.write_entry(table, index(address, 1), 0);
        }
    }

    /// Clears the entries of `length` bytes at `address`; all or nothing. The
    /// caller invalidates the unit's IOTLB before the memory is reused.
    ///
    /// # Errors
    /// A bad range, or [`IommuError::NotMapped`] for the first page that is
    /// not mapped (nothing is cleared then).
    pub fn unmap(
        &mut self,
        memory: &mut impl TableMemory,
        address: u64,
        length: u64,
    ) -> Result<(), IommuError> {
        let pages = check_range(address, length, self.width.bits())?;
        for page in 0..pages {
            let at = address + page * PAGE_SIZE;
            if self.translate(memory, at).is_none() {
                return Err(IommuError::NotMapped(at));
            }
        }
        for page in 0..pages {
            self.clear_page(memory, address + page * PAGE_SIZE);
        }
        Ok(())
    }

    /// Frees every table (intermediate tables first found, the root last);
    /// returns how many frames went back. The caller has detached the table
    /// from its context entry and invalidated the unit's caches.
    pub fn destroy(self, memory: &mut impl TableMemory) -> u64 {
        let freed = Self::free_below(memory, self.root, self.width.levels());
        memory.free_table(self.root);
        freed + 1
    }

    /// Frees the tables under `table` (a table of `level`), not `table` itself.
    fn free_below(memory: &mut impl TableMemory, table: u64, level: u8) -> u64 {
        if level <= 1 {
            return 0;
        }
        let mut freed = 0;
        for slot in 0..ENTRIES {
            let entry = memory.read_entry(table, slot);
            if present(entry) {
                let child = entry & ADDRESS;
                freed += Self::free_below(memory, child, level - 1);
                memory.free_table(child);
                freed += 1;
            }
        }
        freed
    }
}
