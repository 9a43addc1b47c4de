//! The `map` scenario: device registers through uncached MMIO mappings, a
//! fresh page mapped and unmapped, and a kernel stack with its guard page.
//!
//! It lives in `mm` because it reads and writes raw mapped memory.

use super::device_memory::DeviceRange;
use super::paging::{self, KERNEL_DATA};
use super::physical::to_virtual;
use crate::kprintln;
use alloc::format;
use alloc::string::String;

/// The local APIC's registers (QEMU's default base).
const LOCAL_APIC: u64 = 0xfee0_0000;
/// The I/O APIC's registers.
const IO_APIC: u64 = 0xfec0_0000;
/// An otherwise unused virtual address for the fresh-page test.
const SCRATCH_PAGE: u64 = 0xffff_c000_0000_0000;

/// Runs the checks; the error says which one failed.
///
/// # Errors
/// A description of the first check that failed.
pub fn run() -> Result<(), String> {
    local_apic()?;
    io_apic()?;
    fresh_page()?;
    guarded_stack()
}

fn local_apic() -> Result<(), String> {
    let apic = DeviceRange::new(LOCAL_APIC, 0x1000)
        .and_then(|device| paging::map_mmio(&device))
        .map_err(|error| format!("map local APIC: {error}"))?;
    let version: u32 = apic
        .read(0x30)
        .ok_or("local APIC version register out of range")?;
    // Task priority register: writable, reads back what was written.
    let writes_ok = apic.write::<u32>(0x80, 0x30);
    let priority: u32 = apic
        .read(0x80)
        .ok_or("task priority register out of range")?;
    apic.write::<u32>(0x80, 0);
    kprintln!(
        "map: local APIC {:#x} at {:#x}: version register {version:#x}, task priority wrote 0x30 read {priority:#x}",
        apic.physical(),
        apic.base()
    );
    if !writes_ok || priority != 0x30 {
        return Err(format!(
            "local APIC task priority read back {priority:#x}, wrote 0x30"
        ));
    }
    if !(0x10..=0x15).contains(&(version & 0xff)) {
        return Err(format!(
            "local APIC version {version:#x} is not an integrated APIC's"
        ));
    }
    if apic.read::<u32>(0x1000).is_some() || apic.read::<u32>(0x31).is_some() {
        return Err(String::from(
            "MMIO access outside the region or misaligned was allowed",
        ));
    }
    Ok(())
}

fn io_apic() -> Result<(), String> {
    let io_apic = DeviceRange::new(IO_APIC, 0x20)
        .and_then(|device| paging::map_mmio(&device))
        .map_err(|error| format!("map I/O APIC: {error}"))?;
    io_apic.write::<u32>(0x00, 0x01);
    let selected: u32 = io_apic
        .read(0x00)
        .ok_or("I/O APIC select register out of range")?;
    let version: u32 = io_apic
        .read(0x10)
        .ok_or("I/O APIC window register out of range")?;
    let redirection_entries = ((version >> 16) & 0xff) + 1;
    kprintln!(
        "map: I/O APIC {:#x} at {:#x}: select read back {selected:#x}, version {version:#x}, {redirection_entries} redirection entries",
        io_apic.physical(),
        io_apic.base()
    );
    if selected != 0x01 || redirection_entries != 24 {
        return Err(format!(
            "I/O APIC select {selected:#x}, version {version:#x}"
        ));
    }
    Ok(())
}

fn fresh_page() -> Result<(), String> {
    let frame = paging::allocate_frame().map_err(|error| format!("allocate frame: {error}"))?;
    // SAFETY: the frame was just allocated for this test alone, and the
    // scratch page is a virtual address nothing else uses.
    unsafe { paging::map_page(SCRATCH_PAGE, frame, KERNEL_DATA) }
        .map_err(|error| format!("map page: {error}"))?;
    let words = 4096 / 8;
    let region = ScratchPage(SCRATCH_PAGE);
    for index in 0..words {
        region.write(index, (index as u64 * 0x0101_0101) ^ frame);
    }
    let through_direct_map = ScratchPage(to_virtual(frame));
    for index in 0..words {
        let expected = (index as u64 * 0x0101_0101) ^ frame;
        let (mapped, direct) = (region.read(index), through_direct_map.read(index));
        if mapped != expected || direct != expected {
            return Err(format!(
                "word {index}: mapping {mapped:#x}, direct map {direct:#x}, expected {expected:#x}"
            ));
        }
    }
    // SAFETY: this test mapped the page; `region` is not used after this.
    let unmapped =
        unsafe { paging::unmap_page(SCRATCH_PAGE) }.map_err(|error| format!("unmap: {error}"))?;
    if unmapped != frame || paging::translate(SCRATCH_PAGE).is_some() {
        return Err(String::from("page still mapped after unmap"));
    }
    // SAFETY: as above; the page is no longer mapped, which is what this checks.
    if unsafe { paging::unmap_page(SCRATCH_PAGE) }.is_ok() {
        return Err(String::from("second unmap of the same page succeeded"));
    }
    // SAFETY: the frame was allocated above and is mapped nowhere any more.
    unsafe { paging::free_frame(frame) }.map_err(|error| format!("free frame: {error:?}"))?;
    kprintln!(
        "map: fresh frame {frame:#x} mapped at {SCRATCH_PAGE:#x}, 4096 bytes written and read back (also through the direct map), unmapped"
    );
    Ok(())
}

fn guarded_stack() -> Result<(), String> {
    let stack =
        paging::allocate_kernel_stack(4).map_err(|error| format!("allocate stack: {error}"))?;
    if paging::translate(stack.guard_page).is_some() {
        return Err(format!("guard page {:#x} is mapped", stack.guard_page));
    }
    let top_word = ScratchPage(stack.top - 8);
    top_word.write(0, 0x5ac4);
    let bottom_word = ScratchPage(stack.bottom);
    bottom_word.write(0, 0xb0770);
    if top_word.read(0) != 0x5ac4 || bottom_word.read(0) != 0xb0770 {
        return Err(String::from("kernel stack does not hold what was written"));
    }
    kprintln!(
        "map: kernel stack {:#x}..{:#x} with unmapped guard page {:#x}",
        stack.bottom,
        stack.top,
        stack.guard_page
    );
    Ok(())
}

/// Word access to memory this scenario has just mapped writable and owns
/// (the scratch page, its frame through the direct map, a fresh stack).
struct ScratchPage(u64);

impl ScratchPage {
    fn write(&self, index: usize, value: u64) {
        // SAFETY: `self.0` is the start of a page this scenario mapped writable
        // and nothing else uses; `index` stays within its 512 words.
        unsafe { core::ptr::write_volatile((self.0 as *mut u64).add(index), value) }
    }

    fn read(&self, index: usize) -> u64 {
        // SAFETY: as in `write`.
        unsafe { core::ptr::read_volatile((self.0 as *const u64).add(index)) }
    }
}
