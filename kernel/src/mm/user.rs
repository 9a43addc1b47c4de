//! Address spaces of native processes.
//!
//! Each process has its own level-4 table. The upper half (entries 256-511) is
//! copied from the kernel's table when the space is created, so the kernel is
//! mapped in every process, supervisor-only (no `USER_ACCESSIBLE` bit on any
//! kernel entry). The lower half holds only the process's pages, all with
//! `USER_ACCESSIBLE`, no-execute unless the ELF segment is executable, and
//! read-only unless it is writable.
//!
//! Every kernel window gets its level-4 entry at boot ([`remember_kernel_table`]),
//! before the first process, and tables are re-synced with the kernel's upper
//! half whenever they are loaded, so a process's table always maps the whole
//! kernel. Kernel threads therefore keep whatever table is loaded (no CR3
//! write: under TCG that flushes the whole software TLB); a process's table is
//! only freed on its own thread, after switching to the kernel's table.
//!
//! Syscalls never dereference user pointers: [`AddressSpace::read`] and
//! [`AddressSpace::write`] walk the process's tables, check every page is
//! present, user-accessible (and writable for writes), and copy through the
//! direct map. A bad pointer is an error code, never a kernel fault.

use super::device_memory::{DeviceRange, DmaBuffer};
use super::layout::{DIRECT_MAP_BASE, PAGE_SIZE};
use super::paging::{self, MapError};
use super::physical::to_virtual;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// One past the highest user address (the lower half).
pub const USER_END: u64 = 0x0000_8000_0000_0000;

static KERNEL_TABLE: AtomicU64 = AtomicU64::new(0);

/// A user pointer that does not name user memory with the needed access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadAddress(pub u64);

struct Frames;

// SAFETY: every frame comes from the kernel's frame allocator, unused and
// reachable through the direct map; the mapper zeroes it before use as a table.
unsafe impl FrameAllocator<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let physical = paging::allocate_frame().ok()?;
        Some(PhysFrame::containing_address(PhysAddr::new(physical)))
    }
}

/// A process's page tables and the frames it owns.
pub struct AddressSpace {
    table: u64,
    owned: Vec<u64>,
}

fn kernel_table() -> u64 {
    let known = KERNEL_TABLE.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let current = Cr3::read().0.start_address().as_u64();
    KERNEL_TABLE.store(current, Ordering::Relaxed);
    current
}

/// Records the kernel's own table and gives every kernel window (kernel
/// stacks, the scratch slot, the MMIO window) its level-4 entry now, so the
/// kernel's upper half never gains a level-4 entry once processes exist. Call
/// once, from a kernel thread, at boot, before the first process.
pub fn remember_kernel_table() {
    use super::layout::{MMIO_BASE, MMIO_WINDOW_SIZE, STACKS_BASE};
    let kernel = kernel_table();
    let slot = |address: u64| ((address >> 39) & 0x1ff) as usize;
    let mut slots: Vec<usize> =
        (slot(MMIO_BASE)..slot(MMIO_BASE + MMIO_WINDOW_SIZE - 1) + 1).collect();
    slots.push(slot(STACKS_BASE));
    slots.push(slot(0xffff_c000_0000_0000));
    x86_64::instructions::interrupts::without_interrupts(|| {
        let top = table_at(kernel);
        for index in slots {
            if !top[index].is_unused() {
                continue;
            }
            let Ok(frame) = paging::allocate_frame() else {
                return;
            };
            // SAFETY: the frame was just allocated; nothing else uses it.
            unsafe {
                core::ptr::write_bytes(to_virtual(frame) as *mut u8, 0, PAGE_SIZE as usize);
            }
            top[index].set_addr(
                PhysAddr::new(frame),
                PageTableFlags::PRESENT | PageTableFlags::WRITABLE,
            );
        }
    });
}

/// Loads the kernel's own table (if another is loaded).
pub fn activate_kernel() {
    load_table(TableRoot(kernel_table()));
}

/// Proof that a physical address is a level-4 table this module made: the
/// kernel's, or an [`AddressSpace`]'s (from [`AddressSpace::root`]), so
/// [`load_table`] never takes an arbitrary frame for a page table.
///
/// It does not keep the space alive: the space must outlive every load of its
/// root (a process's space is dropped only after its one thread has left it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRoot(u64);

/// For a kernel thread: keep whatever table is loaded (every table maps the
/// kernel's upper half, so no CR3 write, which under TCG flushes the whole
/// software TLB), after copying in upper-half entries the kernel added since
/// that table was made. Entries are only ever added to the kernel's upper
/// half, never removed, so adding them here is all a sync needs.
pub fn keep_for_kernel_thread() {
    let current = Cr3::read().0.start_address().as_u64();
    let kernel = kernel_table();
    if current != kernel {
        sync_kernel_half(current, kernel);
    }
}

fn sync_kernel_half(table: u64, kernel: u64) {
    let kernel = table_at(kernel);
    let table = table_at(table);
    for index in 256..512 {
        if table[index].is_unused() && !kernel[index].is_unused() {
            table[index] = kernel[index].clone();
        }
    }
}

/// Loads a level-4 table made by [`AddressSpace::new`] (or the kernel's).
pub fn load_table(root: TableRoot) {
    let TableRoot(table) = root;
    let kernel = kernel_table();
    if table != kernel {
        sync_kernel_half(table, kernel);
    }
    if Cr3::read().0.start_address().as_u64() == table {
        return;
    }
    // SAFETY: `table` is the kernel's table or a process table whose upper
    // half is a copy of it (a `TableRoot` comes from nowhere else), so the
    // code and stack running now stay mapped.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(table)),
            Cr3Flags::empty(),
        );
    }
}

fn table_at(physical: u64) -> &'static mut PageTable {
    // SAFETY: `physical` is a page-table frame (the caller walked to it or
    // allocated it), mapped writable in the direct map; tables are only
    // touched with interrupts off or by their one owning process's thread.
    unsafe { &mut *(to_virtual(physical) as *mut PageTable) }
}

impl AddressSpace {
    /// A fresh space: the kernel's upper half, an empty lower half.
    ///
    /// # Errors
    /// [`MapError::OutOfFrames`].
    pub fn new() -> Result<Self, MapError> {
        let table = paging::allocate_frame()?;
        let kernel = table_at(kernel_table());
        let fresh = table_at(table);
        for index in 0..512 {
            fresh[index] = if index >= 256 {
                kernel[index].clone()
            } else {
                x86_64::structures::paging::page_table::PageTableEntry::new()
            };
        }
        Ok(AddressSpace {
            table,
            owned: Vec::new(),
        })
    }

    /// The level-4 table, for [`load_table`].
    pub fn root(&self) -> TableRoot {
        TableRoot(self.table)
    }

    /// Loads this space.
    pub fn activate(&self) {
        load_table(self.root());
    }

    fn mapper(&self) -> OffsetPageTable<'static> {
        // SAFETY: the table is this space's level-4 table and the direct map
        // covers all RAM at DIRECT_MAP_BASE.
        unsafe { OffsetPageTable::new(table_at(self.table), VirtAddr::new(DIRECT_MAP_BASE)) }
    }

    fn map_one(
        &mut self,
        address: u64,
        physical: u64,
        flags: PageTableFlags,
    ) -> Result<(), MapError> {
        if address >= USER_END || !address.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned(address));
        }
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(address));
        let frame = PhysFrame::containing_address(PhysAddr::new(physical));
        let parents =
            PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::USER_ACCESSIBLE;
        // SAFETY: the page is in this space's lower half, which only this
        // process uses; the frame is fresh RAM it owns or a granted device page.
        let flush = unsafe {
            self.mapper()
                .map_to_with_table_flags(page, frame, flags, parents, &mut Frames)
        }
        .map_err(|_| MapError::AlreadyMapped(address))?;
        // Not necessarily the active space: the entry was not cached.
        flush.ignore();
        if Cr3::read().0.start_address().as_u64() == self.table {
            x86_64::instructions::tlb::flush(VirtAddr::new(address));
        }
        Ok(())
    }

    fn flags(writable: bool, executable: bool) -> PageTableFlags {
        let mut flags = PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
        if writable {
            flags |= PageTableFlags::WRITABLE;
        }
        if !executable {
            flags |= PageTableFlags::NO_EXECUTE;
        }
        flags
    }

    /// Maps `pages` zeroed pages at `address`.
    ///
    /// # Errors
    /// [`MapError`]; pages mapped before the failure stay owned and are freed with the space.
    pub fn map_fresh(
        &mut self,
        address: u64,
        pages: u64,
        writable: bool,
        executable: bool,
    ) -> Result<(), MapError> {
        for index in 0..pages {
            let physical = paging::allocate_frame()?;
            // SAFETY: the frame was just allocated; nothing else uses it.
            unsafe {
                core::ptr::write_bytes(to_virtual(physical) as *mut u8, 0, PAGE_SIZE as usize);
            }
            self.owned.push(physical);
            self.map_one(
                address + index * PAGE_SIZE,
                physical,
                Self::flags(writable, executable),
            )?;
        }
        Ok(())
    }

    /// Maps the whole pages of a device range at `address`, uncached, user
    /// read/write, no-execute. The frames are not owned.
    ///
    /// # Errors
    /// [`MapError`].
    pub fn map_device(&mut self, address: u64, device: &DeviceRange) -> Result<(), MapError> {
        let (physical, pages) = device.pages();
        let flags =
            Self::flags(true, false) | PageTableFlags::NO_CACHE | PageTableFlags::WRITE_THROUGH;
        for index in 0..pages {
            self.map_one(
                address + index * PAGE_SIZE,
                physical + index * PAGE_SIZE,
                flags,
            )?;
        }
        Ok(())
    }

    /// Maps the frames of `buffer` at `address`, user read/write,
    /// no-execute, cached (DMA is cache-coherent on x86). The frames are not
    /// owned: the caller keeps the buffer alive while it is mapped and
    /// unmaps it ([`AddressSpace::unmap_dma`]) before freeing it, or drops
    /// the space first.
    ///
    /// # Errors
    /// [`MapError`]; pages mapped before the failure are unmapped again.
    pub fn map_dma(&mut self, address: u64, buffer: &DmaBuffer) -> Result<(), MapError> {
        let pages = buffer.size() / PAGE_SIZE;
        for index in 0..pages {
            let mapped = self.map_one(
                address + index * PAGE_SIZE,
                buffer.device_address() + index * PAGE_SIZE,
                Self::flags(true, false),
            );
            if let Err(error) = mapped {
                self.unmap_pages(address, index);
                return Err(error);
            }
        }
        Ok(())
    }

    /// Unmaps the buffer [`AddressSpace::map_dma`] mapped at `address`, so
    /// that it may be freed.
    pub fn unmap_dma(&mut self, address: u64, buffer: &DmaBuffer) {
        self.unmap_pages(address, buffer.size() / PAGE_SIZE);
    }

    /// Maps `pages` pages of another holder's DMA buffer at `physical` (a
    /// buffer lent with a call) at `address`, user read (and write if
    /// `writable`), no-execute. The frames are not owned: the lender's
    /// buffer outlives the mapping (see `module_host::dma_loans`), which
    /// the caller removes with [`AddressSpace::unmap_lent`] or by dropping
    /// the space.
    ///
    /// # Errors
    /// [`MapError`]; pages mapped before the failure are unmapped again.
    pub fn map_lent(
        &mut self,
        address: u64,
        physical: u64,
        pages: u64,
        writable: bool,
    ) -> Result<(), MapError> {
        for index in 0..pages {
            let mapped = self.map_one(
                address + index * PAGE_SIZE,
                physical + index * PAGE_SIZE,
                Self::flags(writable, false),
            );
            if let Err(error) = mapped {
                self.unmap_pages(address, index);
                return Err(error);
            }
        }
        Ok(())
    }

    /// Unmaps a lent buffer of `pages` pages mapped at `address`.
    pub fn unmap_lent(&mut self, address: u64, pages: u64) {
        self.unmap_pages(address, pages);
    }

    /// Unmaps `pages` pages from `address` (those not mapped are skipped)
    /// and drops their translations. The frames are not freed.
    fn unmap_pages(&mut self, address: u64, pages: u64) {
        let active = Cr3::read().0.start_address().as_u64() == self.table;
        for index in 0..pages {
            let at = address + index * PAGE_SIZE;
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(at));
            if let Ok((_, flush)) = self.mapper().unmap(page) {
                flush.ignore();
                if active {
                    x86_64::instructions::tlb::flush(VirtAddr::new(at));
                }
            }
        }
    }

    /// The leaf entry's frame and flags for a user address, if mapped for users.
    fn leaf(&self, address: u64) -> Option<(u64, PageTableFlags)> {
        if address >= USER_END {
            return None;
        }
        let indexes = [
            (address >> 39) & 0x1ff,
            (address >> 30) & 0x1ff,
            (address >> 21) & 0x1ff,
            (address >> 12) & 0x1ff,
        ];
        let mut table = self.table;
        for (level, &index) in indexes.iter().enumerate() {
            let entry = &table_at(table)[index as usize];
            let flags = entry.flags();
            if !flags.contains(PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE)
                || flags.contains(PageTableFlags::HUGE_PAGE)
            {
                return None;
            }
            if level == 3 {
                return Some((entry.addr().as_u64(), flags));
            }
            table = entry.addr().as_u64();
        }
        None
    }

    /// Walks `[address, address + length)` page by page, giving each piece's
    /// direct-map address; fails before copying anything if any page lacks access.
    fn pieces(
        &self,
        address: u64,
        length: usize,
        need_write: bool,
        ignore_write: bool,
    ) -> Result<Vec<(u64, usize)>, BadAddress> {
        let end = address
            .checked_add(length as u64)
            .filter(|&end| end <= USER_END)
            .ok_or(BadAddress(address))?;
        let mut pieces = Vec::new();
        let mut cursor = address;
        while cursor < end {
            let (frame, flags) = self.leaf(cursor).ok_or(BadAddress(cursor))?;
            // Device pages (granted MMIO) are not RAM: the direct map does not
            // cover them, and a syscall buffer has no business there.
            if flags.contains(PageTableFlags::NO_CACHE) {
                return Err(BadAddress(cursor));
            }
            if need_write && !ignore_write && !flags.contains(PageTableFlags::WRITABLE) {
                return Err(BadAddress(cursor));
            }
            let offset = cursor % PAGE_SIZE;
            let take = (PAGE_SIZE - offset).min(end - cursor);
            pieces.push((to_virtual(frame) + offset, take as usize));
            cursor += take;
        }
        Ok(pieces)
    }

    /// Copies `length` bytes from user memory.
    ///
    /// # Errors
    /// [`BadAddress`] if any byte is not readable user memory.
    pub fn read(&self, address: u64, length: usize) -> Result<Vec<u8>, BadAddress> {
        let pieces = self.pieces(address, length, false, false)?;
        let mut bytes = Vec::with_capacity(length);
        for (virtual_address, take) in pieces {
            // SAFETY: the piece lies in a user frame mapped in the direct map
            // (checked by `pieces`); reading it has no side effect (device
            // pages are RAM-backed only if granted, and reads are bounded).
            bytes.extend_from_slice(unsafe {
                core::slice::from_raw_parts(virtual_address as *const u8, take)
            });
        }
        Ok(bytes)
    }

    /// Copies `bytes` into user memory that is writable for the process.
    ///
    /// # Errors
    /// [`BadAddress`] if any byte is not writable user memory; nothing is written then.
    pub fn write(&self, address: u64, bytes: &[u8]) -> Result<(), BadAddress> {
        self.copy_in(address, bytes, false)
    }

    /// Like [`write`](Self::write) but also into read-only pages (loading an ELF).
    ///
    /// # Errors
    /// [`BadAddress`] if any byte is not mapped user memory.
    pub fn load(&self, address: u64, bytes: &[u8]) -> Result<(), BadAddress> {
        self.copy_in(address, bytes, true)
    }

    fn copy_in(&self, address: u64, bytes: &[u8], ignore_write: bool) -> Result<(), BadAddress> {
        let pieces = self.pieces(address, bytes.len(), true, ignore_write)?;
        let mut offset = 0;
        for (virtual_address, take) in pieces {
            // SAFETY: the piece lies in a user frame owned by this space,
            // reachable through the direct map (checked by `pieces`).
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes[offset..].as_ptr(),
                    virtual_address as *mut u8,
                    take,
                );
            }
            offset += take;
        }
        Ok(())
    }

    /// Frames this space owns (data pages, not tables).
    pub fn owned_frames(&self) -> usize {
        self.owned.len()
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        if Cr3::read().0.start_address().as_u64() == self.table {
            activate_kernel();
        }
        for &frame in &self.owned {
            // SAFETY: the space owns its frames, and it is going away with
            // its tables (no longer loaded, see above).
            let _ = unsafe { paging::free_frame(frame) };
        }
        // Free the lower half's tables (levels 3, 2, 1), then the top table.
        let top = table_at(self.table);
        for entry in top.iter().take(256) {
            if !entry.flags().contains(PageTableFlags::PRESENT) {
                continue;
            }
            let level3 = entry.addr().as_u64();
            for entry in table_at(level3).iter() {
                if !entry.flags().contains(PageTableFlags::PRESENT) {
                    continue;
                }
                let level2 = entry.addr().as_u64();
                for entry in table_at(level2).iter() {
                    if entry.flags().contains(PageTableFlags::PRESENT) {
                        // SAFETY: a level-1 table of this space's lower half,
                        // allocated for it alone and unused once it is gone.
                        let _ = unsafe { paging::free_frame(entry.addr().as_u64()) };
                    }
                }
                // SAFETY: as above, a level-2 table of this space.
                let _ = unsafe { paging::free_frame(level2) };
            }
            // SAFETY: as above, a level-3 table of this space.
            let _ = unsafe { paging::free_frame(level3) };
        }
        // SAFETY: the space's own top table, no longer loaded (see above).
        let _ = unsafe { paging::free_frame(self.table) };
    }
}
