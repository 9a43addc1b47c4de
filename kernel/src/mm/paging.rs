//! The kernel's page tables and the mapping API the rest of the kernel uses.
//!
//! [`KernelMemory`] owns the active level-4 table (through the `x86_64`
//! crate's `OffsetPageTable`, which walks tables via the direct map), the
//! frame allocator, and the bump pointers of the MMIO and stack windows. It
//! lives behind a lock; the free functions below take it with interrupts off.

use super::device_memory::DeviceRange;
use super::frame_allocator::{FrameAllocator, FrameStatistics, FreeError};
use super::layout::{MMIO_BASE, MMIO_WINDOW_SIZE, PAGE_SIZE, STACKS_BASE};
use super::physical::{FrameLinksInRam, to_virtual};
use crate::boot_info::MAX_REGIONS;
use core::fmt;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::structures::paging::mapper::{MapToError, TranslateResult, UnmapError};
use x86_64::structures::paging::{
    self, Mapper, OffsetPageTable, Page, PageSize, PageTableFlags, PhysFrame, Size2MiB, Size4KiB,
    Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Why a mapping request failed. Kernel callers decide what to do; nothing is half-done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No physical frame is left for the page or a page table.
    OutOfFrames,
    /// The virtual page is already mapped.
    AlreadyMapped(u64),
    /// The virtual page is not mapped.
    NotMapped(u64),
    /// An address that must be page aligned is not.
    Misaligned(u64),
    /// The address lies inside a large page, which this call does not split.
    InsideLargePage(u64),
    /// A size of zero, or one that overflows the address space.
    BadSize(u64),
    /// The MMIO or stack window has no room left.
    WindowExhausted,
    /// The memory manager is not initialised yet.
    NotReady,
    /// A device range that includes RAM or the kernel image.
    NotDeviceMemory(u64),
}

impl fmt::Display for MapError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfFrames => write!(formatter, "out of physical memory"),
            Self::AlreadyMapped(address) => write!(formatter, "{address:#x} is already mapped"),
            Self::NotMapped(address) => write!(formatter, "{address:#x} is not mapped"),
            Self::Misaligned(address) => write!(formatter, "{address:#x} is not page aligned"),
            Self::InsideLargePage(address) => {
                write!(formatter, "{address:#x} lies inside a large page")
            }
            Self::BadSize(size) => write!(formatter, "bad size {size:#x}"),
            Self::WindowExhausted => write!(formatter, "virtual window exhausted"),
            Self::NotReady => write!(formatter, "memory manager not initialised"),
            Self::NotDeviceMemory(address) => {
                write!(formatter, "{address:#x} is RAM, not device memory")
            }
        }
    }
}

impl<S: PageSize> From<MapToError<S>> for MapError {
    fn from(error: MapToError<S>) -> Self {
        match error {
            MapToError::FrameAllocationFailed => Self::OutOfFrames,
            MapToError::PageAlreadyMapped(frame) => {
                Self::AlreadyMapped(frame.start_address().as_u64())
            }
            MapToError::ParentEntryHugePage => Self::InsideLargePage(0),
        }
    }
}

/// The frame allocator for the kernel's RAM.
pub type KernelFrames = FrameAllocator<MAX_REGIONS>;

/// Hands frames to the `x86_64` mapper, optionally only below a physical limit.
pub(super) struct FrameSource<'a> {
    pub frames: &'a mut KernelFrames,
    pub limit: u64,
}

// SAFETY: every frame returned is unused usable RAM, handed out once by the
// frame allocator, and (below `limit`) reachable through `to_virtual`.
unsafe impl paging::FrameAllocator<Size4KiB> for FrameSource<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let frame = self
            .frames
            .allocate_below(self.limit, &mut FrameLinksInRam)?;
        Some(PhysFrame::containing_address(PhysAddr::new(frame)))
    }
}

/// The active address space, the frames, and the virtual windows.
pub struct KernelMemory {
    pub(super) tables: OffsetPageTable<'static>,
    pub(super) frames: KernelFrames,
    pub(super) next_mmio: u64,
    pub(super) next_stack: u64,
}

static MEMORY: Mutex<Option<KernelMemory>> = Mutex::new(None);

/// Installs the memory manager once the kernel's tables are active.
pub(super) fn install(memory: KernelMemory) {
    without_interrupts(|| *MEMORY.lock() = Some(memory));
}

fn with_memory<T>(
    action: impl FnOnce(&mut KernelMemory) -> Result<T, MapError>,
) -> Result<T, MapError> {
    without_interrupts(|| match MEMORY.lock().as_mut() {
        Some(memory) => action(memory),
        None => Err(MapError::NotReady),
    })
}

fn page(address: u64) -> Result<Page<Size4KiB>, MapError> {
    Page::from_start_address(VirtAddr::try_new(address).map_err(|_| MapError::Misaligned(address))?)
        .map_err(|_| MapError::Misaligned(address))
}

fn frame(address: u64) -> Result<PhysFrame<Size4KiB>, MapError> {
    PhysFrame::from_start_address(
        PhysAddr::try_new(address).map_err(|_| MapError::Misaligned(address))?,
    )
    .map_err(|_| MapError::Misaligned(address))
}

impl KernelMemory {
    /// Maps one 4 KiB page; page tables come from any frame.
    pub(super) fn map(
        &mut self,
        virtual_address: u64,
        physical: u64,
        flags: PageTableFlags,
    ) -> Result<(), MapError> {
        let mut source = FrameSource {
            frames: &mut self.frames,
            limit: u64::MAX,
        };
        // SAFETY: callers map either fresh frames they own, MMIO, or the
        // kernel's own image and RAM at their layout addresses; no existing
        // mapping is replaced (the mapper refuses mapped pages).
        let flush = unsafe {
            self.tables
                .map_to(page(virtual_address)?, frame(physical)?, flags, &mut source)
        }
        .map_err(|error| match error {
            MapToError::PageAlreadyMapped(_) => MapError::AlreadyMapped(virtual_address),
            MapToError::ParentEntryHugePage => MapError::InsideLargePage(virtual_address),
            MapToError::FrameAllocationFailed => MapError::OutOfFrames,
        })?;
        flush.flush();
        Ok(())
    }

    fn unmap(&mut self, virtual_address: u64) -> Result<u64, MapError> {
        let (frame, flush) =
            self.tables
                .unmap(page(virtual_address)?)
                .map_err(|error| match error {
                    UnmapError::ParentEntryHugePage => MapError::InsideLargePage(virtual_address),
                    UnmapError::PageNotMapped | UnmapError::InvalidFrameAddress(_) => {
                        MapError::NotMapped(virtual_address)
                    }
                })?;
        flush.flush();
        Ok(frame.start_address().as_u64())
    }

    fn allocate_frame(&mut self) -> Result<u64, MapError> {
        self.frames
            .allocate(&mut FrameLinksInRam)
            .ok_or(MapError::OutOfFrames)
    }

    /// Takes `pages` pages of a bump window, or fails without moving it.
    fn take_window(next: &mut u64, end: u64, pages: u64) -> Result<u64, MapError> {
        let bytes = pages
            .checked_mul(PAGE_SIZE)
            .ok_or(MapError::BadSize(pages))?;
        let start = *next;
        let new_next = start.checked_add(bytes).filter(|&value| value <= end);
        *next = new_next.ok_or(MapError::WindowExhausted)?;
        Ok(start)
    }

    /// Maps `pages` fresh frames at `virtual_address`, zeroed if asked; undoes
    /// everything on failure.
    pub(super) fn map_fresh(
        &mut self,
        virtual_address: u64,
        pages: u64,
        flags: PageTableFlags,
        zeroed: bool,
    ) -> Result<(), MapError> {
        for index in 0..pages {
            let address = virtual_address + index * PAGE_SIZE;
            let result = self.allocate_frame().and_then(|physical| {
                if zeroed {
                    zero_frame(physical);
                }
                self.map(address, physical, flags).inspect_err(|_| {
                    let _ = self.frames.free(physical, &mut FrameLinksInRam);
                })
            });
            if let Err(error) = result {
                for mapped in 0..index {
                    if let Ok(physical) = self.unmap(virtual_address + mapped * PAGE_SIZE) {
                        let _ = self.frames.free(physical, &mut FrameLinksInRam);
                    }
                }
                return Err(error);
            }
        }
        Ok(())
    }
}

fn zero_frame(physical: u64) {
    // SAFETY: `physical` was just handed out by the frame allocator, so nothing
    // else uses it, and it is RAM mapped writable at `to_virtual`.
    unsafe { core::ptr::write_bytes(to_virtual(physical) as *mut u8, 0, PAGE_SIZE as usize) };
}

/// Flags for kernel data pages: present, writable, not executable.
pub const KERNEL_DATA: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::NO_EXECUTE)
    .union(PageTableFlags::GLOBAL);

/// Flags for device memory: like data, and uncached.
pub const DEVICE_MEMORY: PageTableFlags = KERNEL_DATA
    .union(PageTableFlags::NO_CACHE)
    .union(PageTableFlags::WRITE_THROUGH);

/// Maps `physical` at `virtual_address` (both page aligned).
///
/// # Errors
/// [`MapError`] if the page is mapped, misaligned, or no frame is left for a table.
///
/// # Safety
/// The caller owns the frame at `physical` (or it is device memory the caller
/// may use) and the virtual page is in no one else's use: with `flags`
/// allowing writes, the page becomes a writable alias of that frame.
pub unsafe fn map_page(
    virtual_address: u64,
    physical: u64,
    flags: PageTableFlags,
) -> Result<(), MapError> {
    with_memory(|memory| memory.map(virtual_address, physical, flags))
}

/// Unmaps the page at `virtual_address` and returns the frame it mapped (not freed).
///
/// # Errors
/// [`MapError::NotMapped`] if nothing is mapped there.
///
/// # Safety
/// The caller mapped the page and no reference into it remains.
pub unsafe fn unmap_page(virtual_address: u64) -> Result<u64, MapError> {
    with_memory(|memory| memory.unmap(virtual_address))
}

/// The physical address `virtual_address` maps to, if any (any page size).
pub fn translate(virtual_address: u64) -> Option<u64> {
    let address = VirtAddr::try_new(virtual_address).ok()?;
    with_memory(|memory| match memory.tables.translate(address) {
        TranslateResult::Mapped { frame, offset, .. } => {
            Ok(frame.start_address().as_u64() + offset)
        }
        _ => Err(MapError::NotMapped(virtual_address)),
    })
    .ok()
}

/// One free physical frame (contents arbitrary).
///
/// # Errors
/// [`MapError::OutOfFrames`] when RAM is exhausted.
pub fn allocate_frame() -> Result<u64, MapError> {
    with_memory(KernelMemory::allocate_frame)
}

/// Returns a frame to the allocator.
///
/// # Errors
/// [`FreeError`] for a frame that is not page-aligned usable RAM.
///
/// # Safety
/// The caller owns `physical` (it was handed out for the caller and is not
/// freed yet) and nothing uses it any more: the allocator writes its free
/// list link into the frame.
pub unsafe fn free_frame(physical: u64) -> Result<(), FreeError> {
    without_interrupts(|| match MEMORY.lock().as_mut() {
        Some(memory) => memory.frames.free(physical, &mut FrameLinksInRam),
        None => Err(FreeError::NotUsableRam(physical)),
    })
}

/// `count` physically contiguous frames (for DMA); returns the first.
///
/// # Errors
/// [`MapError::OutOfFrames`] if no run that long is left.
pub fn allocate_contiguous_frames(count: u64) -> Result<u64, MapError> {
    with_memory(|memory| {
        memory
            .frames
            .allocate_contiguous(count)
            .ok_or(MapError::OutOfFrames)
    })
}

/// Frame counters.
pub fn frame_statistics() -> FrameStatistics {
    without_interrupts(|| {
        MEMORY
            .lock()
            .as_ref()
            .map(|memory| memory.frames.statistics())
            .unwrap_or_default()
    })
}

/// A device's registers mapped uncached into the MMIO window.
#[derive(Debug)]
pub struct MmioRegion {
    base: u64,
    physical: u64,
    size: u64,
}

impl MmioRegion {
    /// Virtual address of the region's first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Physical address of the region's first byte.
    pub fn physical(&self) -> u64 {
        self.physical
    }

    /// Size in bytes, as requested.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn checked_address<T>(&self, offset: u64) -> Option<u64> {
        let width = core::mem::size_of::<T>() as u64;
        let end = offset.checked_add(width)?;
        (end <= self.size && offset.is_multiple_of(width)).then_some(self.base + offset)
    }

    /// Reads a register; `None` if `offset` is outside the region or misaligned.
    pub fn read<T: MmioValue>(&self, offset: u64) -> Option<T> {
        let address = self.checked_address::<T>(offset)?;
        // SAFETY: the address is inside this region's uncached mapping, which
        // stays mapped while the region exists, and aligned for T.
        Some(unsafe { core::ptr::read_volatile(address as *const T) })
    }

    /// Writes a register; `false` if `offset` is outside the region or misaligned.
    pub fn write<T: MmioValue>(&self, offset: u64, value: T) -> bool {
        let Some(address) = self.checked_address::<T>(offset) else {
            return false;
        };
        // SAFETY: as in `read`; the mapping is writable device memory.
        unsafe { core::ptr::write_volatile(address as *mut T, value) };
        true
    }
}

/// The integer widths a device register can have.
pub trait MmioValue: Copy {}
impl MmioValue for u8 {}
impl MmioValue for u16 {}
impl MmioValue for u32 {}
impl MmioValue for u64 {}

/// Maps a device range, uncached, into the MMIO window.
///
/// # Errors
/// [`MapError`] for an exhausted window or no frames for page tables;
/// nothing stays mapped then.
pub fn map_mmio(device: &DeviceRange) -> Result<MmioRegion, MapError> {
    let (physical, size) = (device.start(), device.length());
    let first = super::layout::align_down(physical, PAGE_SIZE);
    let end = physical
        .checked_add(size)
        .and_then(|end| super::layout::align_up(end, PAGE_SIZE))
        .filter(|_| size > 0)
        .ok_or(MapError::BadSize(size))?;
    let pages = (end - first) / PAGE_SIZE;
    with_memory(|memory| {
        let window =
            KernelMemory::take_window(&mut memory.next_mmio, MMIO_BASE + MMIO_WINDOW_SIZE, pages)?;
        for index in 0..pages {
            let result = memory.map(
                window + index * PAGE_SIZE,
                first + index * PAGE_SIZE,
                DEVICE_MEMORY,
            );
            if let Err(error) = result {
                for mapped in 0..index {
                    let _ = memory.unmap(window + mapped * PAGE_SIZE);
                }
                return Err(error);
            }
        }
        Ok(MmioRegion {
            base: window + (physical - first),
            physical,
            size,
        })
    })
}

/// A kernel stack in the stack window, with an unmapped guard page below it.
#[derive(Clone, Copy, Debug)]
pub struct KernelStack {
    /// The unmapped page just below the stack.
    pub guard_page: u64,
    /// Lowest usable address.
    pub bottom: u64,
    /// One past the highest usable address (the initial stack pointer).
    pub top: u64,
}

/// Maps a fresh stack of `pages` pages, above a guard page that stays unmapped.
///
/// # Errors
/// [`MapError`] if the window or RAM is exhausted; nothing stays mapped then.
pub fn allocate_kernel_stack(pages: u64) -> Result<KernelStack, MapError> {
    if pages == 0 {
        return Err(MapError::BadSize(0));
    }
    with_memory(|memory| {
        let guard_page =
            KernelMemory::take_window(&mut memory.next_stack, STACKS_BASE + (1 << 39), pages + 1)?;
        let bottom = guard_page + PAGE_SIZE;
        memory.map_fresh(bottom, pages, KERNEL_DATA, true)?;
        Ok(KernelStack {
            guard_page,
            bottom,
            top: bottom + pages * PAGE_SIZE,
        })
    })
}

/// A 2 MiB page size marker re-exported for the setup code.
pub(super) type LargePage = Size2MiB;
