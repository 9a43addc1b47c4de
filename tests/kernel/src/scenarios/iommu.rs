//! The IOMMU on emulated hardware (`test=iommu`, QEMU with `-device intel-iommu
//! -device edu`): QEMU's `edu` device copies by DMA between RAM and a 4 KiB
//! buffer inside it (at device address 0x40000). The scenario attaches edu to
//! a domain and shows that
//! (a) DMA through pages mapped in its domain works both ways,
//! (b) DMA to or from a page of kernel memory not mapped there is blocked:
//!     the page is unchanged, nothing of it reaches the device, and the
//!     fault names edu and the page,
//! (c) after `unmap` the same DMA is blocked (the IOTLB was invalidated),
//!     and after `detach` every DMA of edu is;
//! then that bad requests are refused with their error, and that 300 rounds
//! of attach, map, unmap and detach give back every table frame.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_kernel::arch::pci_config;
use cella_kernel::kprintln;
use cella_kernel::mm::device_memory::{DeviceRange, DmaBuffer};
use cella_kernel::mm::iommu::{self, DmaFault, IommuError, PciAddress};
use cella_kernel::mm::paging;

/// edu's PCI identity.
const EDU_ID: u32 = 0x11e8_1234;
/// The DMA buffer inside edu, as edu's own DMA addresses it.
const EDU_BUFFER: u64 = 0x4_0000;
/// edu's DMA registers: source, destination, count, command.
const SOURCE: u64 = 0x80;
const DESTINATION: u64 = 0x88;
const COUNT: u64 = 0x90;
const COMMAND: u64 = 0x98;
/// Command bits: start (cleared when done), direction edu-to-RAM.
const START: u64 = 1;
const TO_RAM: u64 = 2;
/// Bytes each DMA moves.
const LENGTH: usize = 64;
const PAGE: u64 = 4096;
/// Rounds of attach, map, unmap, detach in the leak check.
const ROUNDS: u32 = 300;

/// PCI configuration space through the kernel's mechanism #1.
struct Config;

impl Config {
    fn read(&self, device: PciAddress, offset: u8) -> u32 {
        pci_config::read(device, offset, 4)
    }

    fn write(&self, device: PciAddress, offset: u8, value: u32) {
        pci_config::write(device, offset, 4, value);
    }
}

/// edu's registers.
struct Edu {
    registers: DeviceRange,
}

impl Edu {
    /// Copies [`LENGTH`] bytes by DMA, RAM to edu or edu to RAM, and waits
    /// for edu to finish (edu starts a DMA 100 ms after the command).
    fn dma(&self, source: u64, destination: u64, to_ram: bool) -> Result<(), String> {
        let write = |offset, value| {
            self.registers
                .write(offset, 8, value)
                .map_err(|error| format!("edu register {offset:#x}: {error}"))
        };
        write(SOURCE, source)?;
        write(DESTINATION, destination)?;
        write(COUNT, LENGTH as u64)?;
        write(COMMAND, START | if to_ram { TO_RAM } else { 0 })?;
        let limit = cella_kernel::time::now_nanoseconds() + 5_000_000_000;
        loop {
            let command = self
                .registers
                .read(COMMAND, 8)
                .map_err(|error| format!("edu command register: {error}"))?;
            if command & START == 0 {
                return Ok(());
            }
            if cella_kernel::time::now_nanoseconds() > limit {
                return Err(String::from("edu did not finish a DMA in 5 s"));
            }
            // Spinning, not sleeping: this runs on the boot thread before any other thread
            // exists, and a sleep there would switch to the idle thread.
            core::hint::spin_loop();
        }
    }
}

fn find_edu(config: &Config) -> Result<PciAddress, String> {
    (0..32)
        .map(|device| PciAddress {
            bus: 0,
            device,
            function: 0,
        })
        .find(|&device| config.read(device, 0) == EDU_ID)
        .ok_or_else(|| String::from("no edu device on bus 0 (start QEMU with -device edu)"))
}

fn buffer(fill: u8) -> Result<DmaBuffer, String> {
    let mut buffer = DmaBuffer::allocate(PAGE).ok_or("no memory for a DMA buffer")?;
    buffer.write(0, &[fill; PAGE as usize]);
    Ok(buffer)
}

fn bytes(buffer: &DmaBuffer, offset: u64) -> [u8; LENGTH] {
    let mut bytes = [0; LENGTH];
    buffer.read(offset, &mut bytes);
    bytes
}

fn iommu_error(what: &str) -> impl Fn(IommuError) -> String + '_ {
    move |error| format!("{what}: {error}")
}

/// Checks that exactly one fault was recorded, by `source` at `address`, in that direction.
fn expect_fault(source: PciAddress, address: u64, write: bool) -> Result<DmaFault, String> {
    let faults = iommu::take_faults();
    match faults.as_slice() {
        [fault] if fault.source == source && fault.address == address && fault.write == write => {
            Ok(*fault)
        }
        _ => Err(format!(
            "expected one DMA {} fault by {source} at {address:#x}, got {}",
            if write { "write" } else { "read" },
            describe(&faults)
        )),
    }
}

fn describe(faults: &[DmaFault]) -> String {
    if faults.is_empty() {
        return String::from("none");
    }
    faults
        .iter()
        .map(|fault| format!("{fault}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs the scenario.
///
/// # Errors
/// What did not hold.
pub fn run() -> Result<(), String> {
    if !iommu::present() {
        return Err(String::from(
            "no IOMMU (start QEMU with -device intel-iommu)",
        ));
    }
    let config = Config;
    let edu_address = find_edu(&config)?;
    // Memory space and bus mastering on.
    let command = config.read(edu_address, 4);
    config.write(edu_address, 4, command | 0x6);
    let bar = u64::from(config.read(edu_address, 0x10) & !0xf);
    let edu = Edu {
        registers: DeviceRange::new(bar, 0x100).map_err(|error| format!("edu BAR0: {error}"))?,
    };
    match edu.registers.read(0, 4) {
        Ok(0x0100_00ed) => {}
        Ok(value) => return Err(format!("edu identification register reads {value:#x}")),
        Err(error) => return Err(format!("edu identification register: {error}")),
    }
    kprintln!("iommu: edu at {edu_address}, registers at {bar:#x}");

    let source = buffer(0x11)?;
    let mut back = buffer(0x22)?;
    let secret = buffer(0x5e)?;
    let _ = iommu::take_faults();
    let domain = iommu::attach(edu_address).map_err(iommu_error("attach edu"))?;
    let (from, to, hidden) = (
        source.device_address(),
        back.device_address(),
        secret.device_address(),
    );
    iommu::map(&domain, from, from, PAGE, false).map_err(iommu_error("map the source"))?;
    iommu::map(&domain, to, to, PAGE, true).map_err(iommu_error("map the destination"))?;

    // (a) Mapped pages: RAM -> edu -> RAM.
    edu.dma(from, EDU_BUFFER, false)?;
    edu.dma(EDU_BUFFER, to, true)?;
    if bytes(&back, 0) != [0x11; LENGTH] {
        return Err(String::from("(a) the bytes did not come back by DMA"));
    }
    let faults = iommu::take_faults();
    if !faults.is_empty() {
        return Err(format!("(a) mapped DMA faulted: {}", describe(&faults)));
    }
    kprintln!(
        "iommu: (a) {LENGTH} bytes went by DMA from a mapped page into edu and back into another mapped page"
    );

    // (b) A page of kernel memory not mapped in edu's domain, written and read.
    edu.dma(EDU_BUFFER, hidden, true)?;
    let fault = expect_fault(edu_address, hidden, true)?;
    if bytes(&secret, 0) != [0x5e; LENGTH] {
        return Err(String::from("(b) DMA wrote a page that is not mapped"));
    }
    kprintln!("iommu: (b) write blocked, page unchanged: {fault}");
    edu.dma(hidden, EDU_BUFFER + 0x100, false)?;
    let fault = expect_fault(edu_address, hidden, false)?;
    edu.dma(EDU_BUFFER + 0x100, to + 0x100, true)?;
    if bytes(&back, 0x100) == [0x5e; LENGTH] {
        return Err(String::from("(b) DMA read a page that is not mapped"));
    }
    kprintln!("iommu: (b) read blocked, nothing of the page reached edu: {fault}");

    // (c) After unmap, the page the device wrote a moment ago is out of reach.
    iommu::unmap(&domain, to, PAGE).map_err(iommu_error("unmap"))?;
    back.write(0, &[0x33; LENGTH]);
    edu.dma(EDU_BUFFER, to, true)?;
    let fault = expect_fault(edu_address, to, true)?;
    if bytes(&back, 0) != [0x33; LENGTH] {
        return Err(String::from("(c) DMA wrote a page after it was unmapped"));
    }
    kprintln!("iommu: (c) after unmap, write blocked, page unchanged: {fault}");
    iommu::detach(edu_address).map_err(iommu_error("detach"))?;
    edu.dma(from, EDU_BUFFER, false)?;
    let fault = expect_fault(edu_address, from, false)?;
    kprintln!("iommu: (c) after detach, read of the once-mapped page blocked: {fault}");

    refusals(edu_address)?;
    rounds(edu_address, &source, &back, &secret)?;
    Ok(())
}

/// Bad requests get their error and change nothing.
fn refusals(edu: PciAddress) -> Result<(), String> {
    let expect = |what: &str, got: Result<(), IommuError>, wanted: IommuError| match got {
        Err(error) if error == wanted => Ok(()),
        Err(error) => Err(format!("{what}: expected `{wanted}`, got `{error}`")),
        Ok(()) => Err(format!("{what}: expected `{wanted}`, but it succeeded")),
    };
    let domain = iommu::attach(edu).map_err(iommu_error("attach again"))?;
    expect(
        "second attach",
        iommu::attach(edu).map(drop),
        IommuError::AlreadyAttached(edu),
    )?;
    let bad = PciAddress {
        bus: 0,
        device: 32,
        function: 0,
    };
    expect(
        "device 32",
        iommu::attach(bad).map(drop),
        IommuError::BadDevice(bad),
    )?;
    let unlisted = PciAddress {
        bus: 7,
        device: 0,
        function: 0,
    };
    expect(
        "a function outside the unit's scope",
        iommu::attach(unlisted).map(drop),
        IommuError::NotCovered(unlisted),
    )?;
    expect(
        "unaligned map",
        iommu::map(&domain, 0x10_0800, 0x10_0800, PAGE, true),
        IommuError::Misaligned(0x10_0800),
    )?;
    let top = !(PAGE - 1);
    expect(
        "overflowing map",
        iommu::map(&domain, top, top, 2 * PAGE, true),
        IommuError::OutOfRange {
            address: top,
            length: 2 * PAGE,
        },
    )?;
    expect(
        "unmap of nothing",
        iommu::unmap(&domain, 0x10_0000, PAGE),
        IommuError::NotMapped(0x10_0000),
    )?;
    iommu::detach(edu).map_err(iommu_error("detach"))?;
    expect(
        "map after detach",
        iommu::map(&domain, 0x10_0000, 0x10_0000, PAGE, true),
        IommuError::NotAttached(edu),
    )?;
    expect(
        "second detach",
        iommu::detach(edu),
        IommuError::NotAttached(edu),
    )?;
    kprintln!("iommu: bad requests refused with their errors");
    Ok(())
}

/// Attach, map three pages, unmap, detach, many times: every table frame comes back.
fn rounds(
    edu: PciAddress,
    first: &DmaBuffer,
    second: &DmaBuffer,
    third: &DmaBuffer,
) -> Result<(), String> {
    let before = paging::frame_statistics().allocated_frames;
    for round in 0..ROUNDS {
        let domain = iommu::attach(edu).map_err(iommu_error("attach"))?;
        for buffer in [first, second, third] {
            let address = buffer.device_address();
            iommu::map(&domain, address, address, PAGE, round % 2 == 0)
                .map_err(iommu_error("map"))?;
        }
        for buffer in [first, second, third] {
            iommu::unmap(&domain, buffer.device_address(), PAGE).map_err(iommu_error("unmap"))?;
        }
        iommu::detach(edu).map_err(iommu_error("detach"))?;
    }
    let after = paging::frame_statistics().allocated_frames;
    if after != before {
        return Err(format!(
            "{ROUNDS} rounds of attach, map, unmap and detach kept {} frames",
            after.saturating_sub(before)
        ));
    }
    kprintln!("iommu: {ROUNDS} rounds of attach, map, unmap and detach; frames in use unchanged");
    Ok(())
}
