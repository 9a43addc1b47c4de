//! The virtio-blk driver built as a native process (`virtio-blk-native`,
//! the SDK's native backend): granted the disk every boot has by identity,
//! resolved here as the kernel resolves a manifest's `device` line, it
//! serves `block`; the scenario asks for the capacity, writes seven
//! sectors of a pattern near the end of the disk, reads them back and
//! compares checksums; then it lends the driver 64 KiB buffers of its own
//! with `write_lent` and `read_lent` calls [`LENT_ROUNDS`] times (the
//! kernel maps each into the process and its device's domain for the
//! call), checks what came back, that a read into a buffer lent read-only
//! is refused, and that no loan is left. The host test reads the same
//! sectors from the image after QEMU exits.

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::block::{self, BlockError, MAX_LENT_SECTORS, MAX_SECTORS, SECTOR_BYTES};
use cella_kernel::boot::BootContext;
use cella_kernel::grants::GrantSet;
use cella_kernel::module_host::{device_access, dma_loans};
use cella_kernel::proc::{self, ProcessGrant};
use cella_kernel::system_manifest::GrantLine;
use cella_kernel::{ipc, irq, kprintln, pci_bus, time};
use cella_wasm_host::Loan;

const TIMEOUT_NS: u64 = 10_000_000_000;
/// The pattern's first byte value: the host test checks the same.
pub const PATTERN_SEED: u8 = 0x5a;
/// Lent write and read round trips.
const LENT_ROUNDS: u64 = 50;
/// Bytes of one lent request.
const LENT_BYTES: usize = MAX_LENT_SECTORS as usize * SECTOR_BYTES as usize;

/// The address of the disk every boot has.
fn disk_address() -> Result<cella_wasm_host::abi::PciAddress, String> {
    let found = pci_bus::found();
    let disk = found
        .iter()
        .find(|function| (function.vendor_id, function.device_id) == (0x1af4, 0x1042))
        .ok_or_else(|| String::from("no virtio-blk function on the bus"))?;
    cella_wasm_host::abi::PciAddress::new(disk.bus, disk.device, disk.function)
        .ok_or_else(|| String::from("a bad PCI address"))
}

/// The grant of the disk: its function (resolved), windows and line, the
/// driver's DMA budget and its served endpoint.
pub(super) fn disk_grant() -> Result<ProcessGrant, String> {
    let found = pci_bus::found();
    let address = disk_address()?;
    let function = pci_bus::grant_function(&found, pci_bus::found_msix(), address)
        .ok_or_else(|| String::from("the disk's function vanished"))?;
    let mut lines: Vec<GrantLine> = function.grant_lines();
    lines.push(GrantLine::Device {
        vendor: 0x1af4,
        device: 0x1042,
        slot: Some(address),
    });
    lines.push(GrantLine::Dma { bytes: 16384 });
    Ok(ProcessGrant {
        grants: GrantSet::from_lines(&lines),
        ..ProcessGrant::ipc(&[], &["block"])
    })
}

/// One call to the driver: the encoded request `encode` writes.
fn call(
    endpoint: ipc::EndpointId,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, cella_interfaces::wire::WireError>,
) -> Result<Vec<u8>, String> {
    let mut request = [0u8; 4096];
    let length = encode(&mut request).map_err(|error| format!("encoding: {error}"))?;
    let deadline = time::now_nanoseconds() + TIMEOUT_NS;
    ipc::call(endpoint, &request[..length], Some(deadline))
        .map_err(|error| format!("the driver did not answer: {error:?}"))
}

/// The scenario `native_block`.
pub fn run(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    start(context, "virtio-blk-native", disk_grant()?)?;
    let driver = super::wait_for_name("block")?;
    let capacity = block::capacity::reply(&call(driver, block::capacity::request)?)
        .map_err(|error| format!("capacity: {error}"))?
        .map_err(|error| format!("capacity: {error}"))?;
    kprintln!("native_block: capacity {capacity}");
    let sector = capacity
        .sectors
        .checked_sub(u64::from(MAX_SECTORS) + 8)
        .ok_or_else(|| String::from("the disk is too small"))?;
    let length = usize::from(MAX_SECTORS) * SECTOR_BYTES as usize;
    let pattern: Vec<u8> = (0..length)
        .map(|index| PATTERN_SEED.wrapping_add((index * 7 % 251) as u8))
        .collect();
    let written = block::write::reply(&call(driver, |buffer| {
        block::write::request(buffer, 1, sector, &pattern)
    })?)
    .map_err(|error| format!("write: {error}"))?
    .map_err(|error| format!("write: {error}"))?;
    let answer = call(driver, |buffer| {
        block::read::request(buffer, 2, sector, MAX_SECTORS)
    })?;
    let read = block::read::reply(&answer)
        .map_err(|error| format!("read: {error}"))?
        .map_err(|error| format!("read: {error}"))?;
    kprintln!(
        "native_block: {written}; read {} bytes at sector {sector}: checksum {:#010x}, written {:#010x}",
        read.bytes.len(),
        block::checksum(read.bytes),
        block::checksum(&pattern)
    );
    if read.bytes != pattern.as_slice() {
        return Err(String::from(
            "the sectors read back differ from those written",
        ));
    }
    let flushed = call(driver, |buffer| block::flush::request(buffer, 3))?;
    block::flush::reply(&flushed)
        .map_err(|error| format!("flush: {error}"))?
        .map_err(|error| format!("flush: {error}"))?;
    kprintln!("native_block: written, read back and flushed through the native driver");
    let disk = disk_address()?;
    let vector = (irq::MSI_FIRST_LINE..irq::LINES).find(|&line| {
        pci_bus::vectors::route(line)
            .is_some_and(|route| (route.function, route.entry) == (disk, 0))
    });
    match vector {
        Some(line) => kprintln!("native_block: the driver's queue interrupts on MSI-X line {line}"),
        None => {
            return Err(String::from(
                "the native driver holds no MSI-X vector of its disk",
            ));
        }
    }
    lent_round_trips(driver, capacity.sectors)
}

/// One call lending the kernel's module buffer at `buffer`.
fn call_lending(
    endpoint: ipc::EndpointId,
    buffer: u64,
    writable: bool,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, cella_interfaces::wire::WireError>,
) -> Result<Vec<u8>, String> {
    let mut request = [0u8; 64];
    let length = encode(&mut request).map_err(|error| format!("encoding: {error}"))?;
    let loan = Loan {
        device_address: buffer,
        size: LENT_BYTES as u64,
        writable,
    };
    let deadline = time::now_nanoseconds() + TIMEOUT_NS;
    ipc::call_lending(endpoint, &request[..length], loan, Some(deadline))
        .map_err(|error| format!("the driver did not answer a lent call: {error:?}"))
}

/// 64 KiB round trips in buffers the kernel lends the process.
fn lent_round_trips(driver: ipc::EndpointId, sectors: u64) -> Result<(), String> {
    let source = device_access::dma_allocate(None, LENT_BYTES as u64)
        .ok_or_else(|| String::from("no DMA memory for the lent buffers"))?;
    let target = device_access::dma_allocate(None, LENT_BYTES as u64)
        .ok_or_else(|| String::from("no DMA memory for the lent buffers"))?;
    let outcome = lent_rounds(driver, sectors, source, target);
    device_access::dma_free(None, source);
    device_access::dma_free(None, target);
    outcome?;
    if dma_loans::buffers_on_loan() != 0 {
        return Err(format!(
            "{} buffers still on loan after the rounds",
            dma_loans::buffers_on_loan()
        ));
    }
    kprintln!(
        "native_block: {LENT_ROUNDS} lent round trips of {LENT_BYTES} bytes matched; no buffer left on loan"
    );
    Ok(())
}

fn lent_rounds(
    driver: ipc::EndpointId,
    sectors: u64,
    source: u64,
    target: u64,
) -> Result<(), String> {
    let first = sectors
        .checked_sub(4096)
        .ok_or_else(|| String::from("the disk is too small"))?;
    let mut read = alloc::vec![0u8; LENT_BYTES];
    for round in 0..LENT_ROUNDS {
        let pattern: Vec<u8> = (0..LENT_BYTES)
            .map(|index| (index as u64 * 31 + round * 7) as u8)
            .collect();
        device_access::dma_write(source, &pattern);
        let sector = first + round % 8 * u64::from(MAX_LENT_SECTORS);
        let written = call_lending(driver, source, false, |buffer| {
            block::write_lent::request(buffer, 10, sector, MAX_LENT_SECTORS)
        })?;
        block::write_lent::reply(&written)
            .map_err(|error| format!("round {round}: write: {error}"))?
            .map_err(|error| format!("round {round}: write: {error}"))?;
        let answer = call_lending(driver, target, true, |buffer| {
            block::read_lent::request(buffer, 11, sector, MAX_LENT_SECTORS)
        })?;
        block::read_lent::reply(&answer)
            .map_err(|error| format!("round {round}: read: {error}"))?
            .map_err(|error| format!("round {round}: read: {error}"))?;
        device_access::dma_read(target, &mut read);
        if read != pattern {
            return Err(format!(
                "round {round}: the 64 KiB read back through the lent buffer differ from those written"
            ));
        }
    }
    // The device would write a buffer lent read-only: refused.
    let refused = call_lending(driver, target, false, |buffer| {
        block::read_lent::request(buffer, 12, first, 8)
    })?;
    match block::read_lent::reply(&refused) {
        Ok(Err(failed)) if failed.error == BlockError::NoLoan => Ok(()),
        _ => Err(String::from(
            "a read into a buffer lent read-only was not refused",
        )),
    }
}
