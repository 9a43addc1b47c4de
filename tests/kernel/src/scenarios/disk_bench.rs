//! The disk benchmark (`cargo cella bench`): the same virtio-blk driver
//! source as a Wasm module and as a native process, on the disk every boot
//! has, one request at a time (as `dd` with O_DIRECT issues them), each
//! request's payload in a DMA buffer the kernel lends the driver with the
//! call (as a module lends one with `ipc_call_lending`): a sequential write
//! and read of [`SEQUENTIAL_BYTES`] in 64 KiB requests, then
//! [`RANDOM_READS`] random 4 KiB reads. The payload is copied once, between
//! the kernel's memory and the lent buffer (as a client copies it into or
//! out of its own memory), and crosses no message. Lines `disk_bench:
//! BUILD OPERATION AMOUNT UNIT in NS ns, requests of N bytes`. Scenario
//! `disk_bench` measures the Wasm module through the module system;
//! `native_disk_bench` (a boot of its own, before any module starts) the
//! native build through kernel IPC.

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::block::{self, MAX_LENT_SECTORS, SECTOR_BYTES};
use cella_interfaces::wire::WireError;
use cella_kernel::boot::BootContext;
use cella_kernel::module_host::services::System;
use cella_kernel::module_host::{device_access, dma_loans};
use cella_kernel::proc;
use cella_kernel::{ipc, kprintln, time};
use cella_wasm_host::Loan;
use core::hint::black_box;

/// Bytes of each sequential run (as Linux's `dd`).
pub const SEQUENTIAL_BYTES: u64 = 64 * 1024 * 1024;
/// Random reads per build.
pub const RANDOM_READS: u64 = 400;
/// Bytes of one sequential request.
const REQUEST_BYTES: usize = MAX_LENT_SECTORS as usize * SECTOR_BYTES as usize;
/// Sectors of one random read (4 KiB, as Linux's).
const RANDOM_SECTORS: u16 = 8;
const DEADLINE_NS: u64 = 10_000_000_000;

/// One request to the driver lending it `loan` (or nothing), by whichever
/// way reaches it; the reply.
trait Driver {
    fn call(&mut self, request: &[u8], loan: Option<Loan>) -> Result<Vec<u8>, String>;
}

/// The Wasm module, through the module system.
struct Module<'a>(&'a mut System);

impl Driver for Module<'_> {
    fn call(&mut self, request: &[u8], loan: Option<Loan>) -> Result<Vec<u8>, String> {
        let id = match loan {
            Some(loan) => self.0.send_collected_lending("block", request, loan),
            None => self.0.send_collected("block", request),
        }
        .ok_or_else(|| String::from("nobody serves `block`, or the buffer was not lent"))?;
        let limit = time::now_nanoseconds() + DEADLINE_NS;
        while !self.0.has_collected_reply(id) {
            if time::now_nanoseconds() > limit {
                return Err(String::from("no answer in 10 s"));
            }
            if !self.0.step() {
                self.0.wait_for_work();
            }
        }
        self.0
            .take_collected_reply(id)
            .ok_or_else(|| String::from("the answer vanished"))
    }
}

/// The native process, through kernel IPC.
struct Process(ipc::EndpointId);

impl Driver for Process {
    fn call(&mut self, request: &[u8], loan: Option<Loan>) -> Result<Vec<u8>, String> {
        let deadline = Some(time::now_nanoseconds() + DEADLINE_NS);
        match loan {
            Some(loan) => ipc::call_lending(self.0, request, loan, deadline),
            None => ipc::call(self.0, request, deadline),
        }
        .map_err(|error| format!("the native driver did not answer: {error:?}"))
    }
}

fn encode(write: impl FnOnce(&mut [u8]) -> Result<usize, WireError>) -> Result<Vec<u8>, String> {
    let mut buffer = alloc::vec![0u8; 64];
    let length = write(&mut buffer).map_err(|error| format!("encoding: {error}"))?;
    buffer.truncate(length);
    Ok(buffer)
}

/// A `read_lent` or `write_lent` of `count` sectors at `sector` with the
/// kernel's buffer at `buffer` lent, checked.
fn transfer(
    driver: &mut dyn Driver,
    buffer: u64,
    write: bool,
    sector: u64,
    count: u16,
) -> Result<(), String> {
    let request = if write {
        encode(|bytes| block::write_lent::request(bytes, 1, sector, count))?
    } else {
        encode(|bytes| block::read_lent::request(bytes, 2, sector, count))?
    };
    // The loan covers the request's bytes only (a 4 KiB read maps one page
    // for the device), as a client lends what one request needs.
    let loan = Loan {
        device_address: buffer,
        size: u64::from(count) * u64::from(SECTOR_BYTES),
        writable: !write,
    };
    let answer = driver.call(&request, Some(loan))?;
    let done = block::read_lent::reply(&answer)
        .map_err(|error| format!("sector {sector}: {error}"))?
        .map_err(|error| format!("sector {sector}: {error}"))?;
    black_box(done);
    Ok(())
}

/// Runs the three measurements on `driver`, printing them for `build`.
fn measure(build: &str, driver: &mut dyn Driver) -> Result<(), String> {
    let capacity = block::capacity::reply(&driver.call(&encode(block::capacity::request)?, None)?)
        .map_err(|error| format!("capacity: {error}"))?
        .map_err(|error| format!("capacity: {error}"))?;
    let buffer = device_access::dma_allocate(None, REQUEST_BYTES as u64)
        .ok_or_else(|| String::from("no DMA memory for the lent buffer"))?;
    let outcome = runs(build, driver, buffer, capacity.sectors);
    // The driver gave the buffer back with its last answer (the modules' own loans, such as
    // the TCP/IP server's to the network driver, are theirs).
    let still_lent = dma_loans::is_on_loan(buffer);
    device_access::dma_free(None, buffer);
    outcome?;
    if still_lent {
        return Err(String::from(
            "the lent buffer is still on loan after the runs",
        ));
    }
    Ok(())
}

fn runs(build: &str, driver: &mut dyn Driver, buffer: u64, sectors: u64) -> Result<(), String> {
    // The second half of the disk: the image's header stays as it is.
    let first = sectors / 2;
    let requests = SEQUENTIAL_BYTES / REQUEST_BYTES as u64;
    let step = u64::from(MAX_LENT_SECTORS);
    let pattern: Vec<u8> = (0..REQUEST_BYTES)
        .map(|index| (index ^ index >> 9) as u8)
        .collect();
    let started = time::now_nanoseconds();
    for request in 0..requests {
        device_access::dma_write(buffer, &pattern);
        transfer(
            driver,
            buffer,
            true,
            first + request * step,
            MAX_LENT_SECTORS,
        )?;
    }
    let written = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: {build} seq-write {SEQUENTIAL_BYTES} bytes in {written} ns, requests of {REQUEST_BYTES} bytes"
    );
    let mut data = alloc::vec![0u8; REQUEST_BYTES];
    let started = time::now_nanoseconds();
    for request in 0..requests {
        transfer(
            driver,
            buffer,
            false,
            first + request * step,
            MAX_LENT_SECTORS,
        )?;
        device_access::dma_read(buffer, &mut data);
        black_box(&data);
    }
    let read = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: {build} seq-read {SEQUENTIAL_BYTES} bytes in {read} ns, requests of {REQUEST_BYTES} bytes"
    );
    // What was read is what was written: the last request's data, and the
    // first's read again.
    transfer(driver, buffer, false, first, MAX_LENT_SECTORS)?;
    let mut first_data = alloc::vec![0u8; REQUEST_BYTES];
    device_access::dma_read(buffer, &mut first_data);
    if data != pattern || first_data != pattern {
        return Err(format!(
            "{build}: what was read back is not what was written"
        ));
    }
    // Random reads, 4 KiB-aligned, anywhere on the disk (a small LCG).
    let slots = sectors / 8 - 1;
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut sector_data = alloc::vec![0u8; usize::from(RANDOM_SECTORS) * SECTOR_BYTES as usize];
    let started = time::now_nanoseconds();
    for _ in 0..RANDOM_READS {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let sector = (state >> 33) % slots * 8;
        transfer(driver, buffer, false, sector, RANDOM_SECTORS)?;
        device_access::dma_read(buffer, &mut sector_data);
        black_box(&sector_data);
    }
    let random = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: {build} random-read {RANDOM_READS} reads in {random} ns, requests of {} bytes",
        sector_data.len()
    );
    Ok(())
}

/// The scenario `disk_bench`: the Wasm module.
pub fn run(system: &mut System) -> Result<(), String> {
    system.run_for(100_000_000);
    measure("wasm", &mut Module(system))?;
    system.settle();
    Ok(())
}

/// The scenario `native_disk_bench`: the native build.
pub fn run_native(context: &BootContext) -> Result<(), String> {
    cella_kernel::irq::start();
    proc::initialise();
    start(
        context,
        "virtio-blk-native",
        super::native_block::disk_grant()?,
    )?;
    let endpoint = super::wait_for_name("block")?;
    measure("native", &mut Process(endpoint))?;
    // No module runs: nothing at all may be on loan.
    match dma_loans::buffers_on_loan() {
        0 => Ok(()),
        left => Err(format!("{left} buffers still on loan after the runs")),
    }
}
