//! Boot-time memory set-up: frames from the memory map, the kernel's own page tables, the heap.
//!
//! The boot page tables (built in `pvh_entry.s`) map 4 GiB twice with
//! writable, executable large pages: good enough to reach Rust, not to run
//! on. Here the kernel builds its real tables in fresh frames, reached
//! through the still-active identity map:
//! - the kernel image, page by page: text read+execute, rodata read-only,
//!   data and bss read+write+no-execute, stack guard pages left unmapped;
//! - a direct map of all RAM at `DIRECT_MAP_BASE`, no-execute;
//!
//! then loads them, drops the identity map, and maps the heap.

use super::frame_allocator::FrameAllocator;
use super::heap;
use super::layout::{
    DIRECT_MAP_BASE, HEAP_BASE, KERNEL_OFFSET, LARGE_PAGE_SIZE, LOW_MEMORY_END, MMIO_BASE,
    PAGE_SIZE, STACKS_BASE,
};
use super::paging::{self, FrameSource, KERNEL_DATA, KernelMemory, LargePage, MapError};
use super::physical::{self, BOOT_IDENTITY_LIMIT, FrameLinksInRam};
use super::regions::{PhysRange, RegionList};
use crate::arch::stacks;
use crate::boot_info::{BootInfo, MAX_REGIONS};
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::{
    Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// Size of the kernel heap mapped at boot.
pub const HEAP_SIZE: u64 = 48 * 1024 * 1024;

unsafe extern "C" {
    static __kernel_physical_start: u8;
    static __kernel_physical_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
}

/// What the boot log reports about memory.
#[derive(Clone, Copy, Debug)]
pub struct MemorySummary {
    pub usable_bytes: u64,
    pub kernel_image: PhysRange,
    pub heap_bytes: u64,
}

fn symbol(address: *const u8) -> u64 {
    address as u64
}

/// Sets up frames, page tables and the heap. Call once, on the boot stack.
///
/// # Errors
/// [`MapError`] if RAM runs out while building tables or mapping the heap.
pub fn initialise(info: &BootInfo) -> Result<MemorySummary, MapError> {
    let kernel_image = PhysRange {
        start: symbol(&raw const __kernel_physical_start),
        end: symbol(&raw const __kernel_physical_end),
    };
    let mut usable = info.ram.clone();
    let mut reserved = [
        PhysRange {
            start: 0,
            end: LOW_MEMORY_END,
        },
        kernel_image,
        PhysRange::default(),
    ];
    if let Some(archive) = info.archive {
        reserved[2] = archive;
    }
    for range in reserved {
        usable
            .subtract(range)
            .map_err(|_| MapError::BadSize(range.start))?;
    }
    super::device_memory::remember_ram(&info.ram, kernel_image);
    let mut frames = FrameAllocator::<MAX_REGIONS>::new(usable);
    let usable_bytes = frames.statistics().total_frames * PAGE_SIZE;

    let level_4_frame = frames
        .allocate_below(BOOT_IDENTITY_LIMIT, &mut FrameLinksInRam)
        .ok_or(MapError::OutOfFrames)?;
    // SAFETY: the frame was just allocated (unused), lies below 4 GiB and is
    // therefore reachable at its physical address through the boot identity map.
    let level_4 = unsafe { &mut *(physical::to_virtual(level_4_frame) as *mut PageTable) };
    level_4.zero();
    // SAFETY: offset 0 is correct while the boot identity map is active, and
    // every table frame comes from `FrameSource` limited to that map.
    let mut tables = unsafe { OffsetPageTable::new(level_4, VirtAddr::new(0)) };
    {
        let mut source = FrameSource {
            frames: &mut frames,
            limit: BOOT_IDENTITY_LIMIT,
        };
        map_kernel_image(&mut tables, &mut source)?;
        map_direct(&mut tables, &mut source, &info.ram)?;
    }

    // SAFETY: the new tables map the kernel image at its linked addresses
    // (code, the running stack in .bss, all statics) exactly as before, so
    // execution continues; the direct map replaces identity access to RAM.
    unsafe {
        Cr4::update(|flags| flags.insert(Cr4Flags::PAGE_GLOBAL));
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(level_4_frame)),
            Cr3Flags::empty(),
        );
    }
    physical::switch_to_direct_map();
    // SAFETY: the level-4 table is now active and all RAM is mapped at DIRECT_MAP_BASE.
    let tables = unsafe {
        OffsetPageTable::new(
            &mut *(physical::to_virtual(level_4_frame) as *mut PageTable),
            VirtAddr::new(DIRECT_MAP_BASE),
        )
    };
    let mut memory = KernelMemory {
        tables,
        frames,
        next_mmio: MMIO_BASE,
        next_stack: STACKS_BASE,
    };
    let heap_pages = HEAP_SIZE / PAGE_SIZE;
    // Heap memory need not be zeroed: Rust never reads memory it did not write.
    memory.map_fresh(HEAP_BASE, heap_pages, KERNEL_DATA, false)?;
    paging::install(memory);
    // SAFETY: [HEAP_BASE, HEAP_BASE + HEAP_SIZE) was just mapped writable with
    // fresh frames, is used by nothing else, and is never unmapped.
    unsafe { heap::initialise(HEAP_BASE, HEAP_SIZE as usize) };
    Ok(MemorySummary {
        usable_bytes,
        kernel_image,
        heap_bytes: HEAP_SIZE,
    })
}

fn map_kernel_image(
    tables: &mut OffsetPageTable<'_>,
    source: &mut FrameSource<'_>,
) -> Result<(), MapError> {
    let text = PageTableFlags::PRESENT | PageTableFlags::GLOBAL;
    let rodata = text | PageTableFlags::NO_EXECUTE;
    let sections = [
        (
            symbol(&raw const __text_start),
            symbol(&raw const __text_end),
            text,
        ),
        (
            symbol(&raw const __rodata_start),
            symbol(&raw const __rodata_end),
            rodata,
        ),
        (
            symbol(&raw const __data_start),
            symbol(&raw const __data_end),
            KERNEL_DATA,
        ),
    ];
    let guard_pages = stacks::guard_pages();
    for (start, end, flags) in sections {
        for address in (start..end).step_by(PAGE_SIZE as usize) {
            if guard_pages.contains(&address) {
                continue;
            }
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(address));
            let frame = PhysFrame::containing_address(PhysAddr::new(address - KERNEL_OFFSET));
            // SAFETY: the page maps the kernel's own image frame at its linked
            // address, in tables not yet active (the flush is not needed).
            unsafe { tables.map_to(page, frame, flags, source) }?.ignore();
        }
    }
    Ok(())
}

fn map_direct(
    tables: &mut OffsetPageTable<'_>,
    source: &mut FrameSource<'_>,
    ram: &RegionList<MAX_REGIONS>,
) -> Result<(), MapError> {
    // Whole pages around every RAM range, merged where they now touch.
    let mut pages = RegionList::<MAX_REGIONS>::new();
    for range in ram.as_slice() {
        let start = super::layout::align_down(range.start, PAGE_SIZE);
        let end = super::layout::align_up(range.end, PAGE_SIZE).unwrap_or(range.end);
        pages
            .add(PhysRange { start, end })
            .map_err(|_| MapError::BadSize(start))?;
    }
    for range in pages.as_slice() {
        let mut physical = range.start;
        while physical < range.end {
            let virtual_address = VirtAddr::new(DIRECT_MAP_BASE + physical);
            let large = physical % LARGE_PAGE_SIZE == 0 && range.end - physical >= LARGE_PAGE_SIZE;
            if large {
                let page = Page::<LargePage>::containing_address(virtual_address);
                let frame = PhysFrame::<LargePage>::containing_address(PhysAddr::new(physical));
                // SAFETY: the direct map aliases RAM as non-executable data in
                // tables not yet active; nothing is mapped there yet.
                unsafe { tables.map_to(page, frame, KERNEL_DATA, source) }?.ignore();
                physical += LARGE_PAGE_SIZE;
            } else {
                let page = Page::<Size4KiB>::containing_address(virtual_address);
                let frame = PhysFrame::<Size4KiB>::containing_address(PhysAddr::new(physical));
                // SAFETY: as for the large page above.
                unsafe { tables.map_to(page, frame, KERNEL_DATA, source) }?.ignore();
                physical += PAGE_SIZE;
            }
        }
    }
    Ok(())
}

/// The physical range of the kernel image as loaded (what a device told to
/// write "into the kernel" would aim at).
pub fn kernel_image_physical() -> PhysRange {
    PhysRange {
        start: symbol(&raw const __kernel_physical_start),
        end: symbol(&raw const __kernel_physical_end),
    }
}

/// FNV-1a of the kernel's code and of its read-only data, combined: nothing
/// writes either once the kernel runs, so a DMA that reached them would
/// change it.
pub fn code_checksum() -> u64 {
    let section = |start: u64, end: u64| {
        let length = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        // SAFETY: `start .. end` is a section of the kernel image, mapped
        // readable at its linked address for the whole life of the kernel
        // (`map_kernel_image`); code and read-only data are never written.
        let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, length) };
        cella_system::fnv::fnv1a_64(bytes)
    };
    let text = section(
        symbol(&raw const __text_start),
        symbol(&raw const __text_end),
    );
    let rodata = section(
        symbol(&raw const __rodata_start),
        symbol(&raw const __rodata_end),
    );
    let mut both = [0u8; 16];
    both[..8].copy_from_slice(&text.to_le_bytes());
    both[8..].copy_from_slice(&rodata.to_le_bytes());
    cella_system::fnv::fnv1a_64(&both)
}
