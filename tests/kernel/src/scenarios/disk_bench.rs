//! The disk benchmark (`cargo cella bench`): the same virtio-blk driver
//! source as a Wasm module and as a native process, on the disk every boot
//! has, one request at a time (as `dd` with O_DIRECT issues them). The Wasm
//! module is asked the way a module asks it: a sequential write and read of
//! [`LENT_SEQUENTIAL_BYTES`] in 64 KiB requests whose payload travels in a
//! DMA buffer lent with each call, then 4 KiB random reads the same way.
//! The native process takes no loans (they go between modules), so it is
//! asked with the payload in the message: [`SEQUENTIAL_BYTES`] in requests
//! of seven sectors (the most one 4,096-byte message carries), then random
//! reads of seven sectors. Lines `disk_bench: BUILD OPERATION AMOUNT UNIT
//! in NS ns, requests of N bytes`. Scenario `disk_bench` measures the Wasm
//! module through the module system; `native_disk_bench` (a boot of its
//! own, before any module starts) the native build through kernel IPC.

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::block::{self, MAX_LENT_SECTORS, MAX_SECTORS, SECTOR_BYTES};
use cella_interfaces::wire::WireError;
use cella_kernel::boot::BootContext;
use cella_kernel::module_host::device_access;
use cella_kernel::module_host::dma_loans;
use cella_kernel::module_host::services::System;
use cella_kernel::proc;
use cella_kernel::{ipc, kprintln, time};
use cella_wasm_host::Loan;
use core::hint::black_box;

/// Bytes of each sequential run with the payload in the message.
pub const SEQUENTIAL_BYTES: u64 = 4 * 1024 * 1024;
/// Bytes of each sequential run in lent buffers (as Linux's `dd`).
pub const LENT_SEQUENTIAL_BYTES: u64 = 64 * 1024 * 1024;
/// Bytes of one sequential request in a lent buffer.
const LENT_REQUEST_BYTES: usize = MAX_LENT_SECTORS as usize * SECTOR_BYTES as usize;
/// Sectors of one random read in a lent buffer (4 KiB, as Linux's).
const LENT_RANDOM_SECTORS: u16 = 8;
/// Random reads per build.
pub const RANDOM_READS: u64 = 400;
const REQUEST_SECTORS: u64 = MAX_SECTORS as u64;
const REQUEST_BYTES: usize = MAX_SECTORS as usize * SECTOR_BYTES as usize;
const DEADLINE_NS: u64 = 10_000_000_000;

/// One request to the driver, by whichever way reaches it; the reply.
trait Driver {
    fn call(&mut self, request: &[u8]) -> Result<Vec<u8>, String>;
}

/// The Wasm module, through the module system.
struct Module<'a>(&'a mut System);

impl Driver for Module<'_> {
    fn call(&mut self, request: &[u8]) -> Result<Vec<u8>, String> {
        let id = self
            .0
            .send_collected("block", request)
            .ok_or_else(|| String::from("nobody serves `block`"))?;
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
    fn call(&mut self, request: &[u8]) -> Result<Vec<u8>, String> {
        ipc::call(self.0, request, Some(time::now_nanoseconds() + DEADLINE_NS))
            .map_err(|error| format!("the native driver did not answer: {error:?}"))
    }
}

fn encode(write: impl FnOnce(&mut [u8]) -> Result<usize, WireError>) -> Result<Vec<u8>, String> {
    let mut buffer = alloc::vec![0u8; 4096];
    let length = write(&mut buffer).map_err(|error| format!("encoding: {error}"))?;
    buffer.truncate(length);
    Ok(buffer)
}

/// Runs the three measurements on `driver`, printing them for `build`.
fn measure(build: &str, driver: &mut dyn Driver) -> Result<(), String> {
    let capacity = block::capacity::reply(&driver.call(&encode(block::capacity::request)?)?)
        .map_err(|error| format!("capacity: {error}"))?
        .map_err(|error| format!("capacity: {error}"))?;
    // The second half of the disk: the image's header stays as it is.
    let first = capacity.sectors / 2;
    let requests = SEQUENTIAL_BYTES / REQUEST_BYTES as u64;
    let pattern: Vec<u8> = (0..REQUEST_BYTES).map(|index| index as u8).collect();
    let started = time::now_nanoseconds();
    for request in 0..requests {
        let sector = first + request * REQUEST_SECTORS;
        let bytes = encode(|buffer| block::write::request(buffer, 1, sector, &pattern))?;
        let answer = driver.call(&bytes)?;
        black_box(
            block::write::reply(&answer)
                .map_err(|error| format!("write: {error}"))?
                .map_err(|error| format!("write: {error}"))?,
        );
    }
    let written = time::now_nanoseconds() - started;
    let moved = requests * REQUEST_BYTES as u64;
    kprintln!(
        "disk_bench: {build} seq-write {moved} bytes in {written} ns, requests of {REQUEST_BYTES} bytes"
    );
    let started = time::now_nanoseconds();
    let mut checksum = 0u32;
    for request in 0..requests {
        let sector = first + request * REQUEST_SECTORS;
        let bytes = encode(|buffer| block::read::request(buffer, 2, sector, MAX_SECTORS))?;
        let answer = driver.call(&bytes)?;
        let data = block::read::reply(&answer)
            .map_err(|error| format!("read: {error}"))?
            .map_err(|error| format!("read: {error}"))?;
        checksum ^= block::checksum(black_box(data.bytes));
    }
    let read = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: {build} seq-read {moved} bytes in {read} ns, requests of {REQUEST_BYTES} bytes"
    );
    if checksum != (0..requests).fold(0, |sum, _| sum ^ block::checksum(&pattern)) {
        return Err(format!(
            "{build}: what was read back is not what was written"
        ));
    }
    // Random reads, 4 KiB-aligned, anywhere on the disk (a small LCG).
    let slots = capacity.sectors / 8 - 1;
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let started = time::now_nanoseconds();
    for _ in 0..RANDOM_READS {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let sector = (state >> 33) % slots * 8;
        let bytes = encode(|buffer| block::read::request(buffer, 3, sector, MAX_SECTORS))?;
        let answer = driver.call(&bytes)?;
        black_box(
            block::read::reply(&answer)
                .map_err(|error| format!("random read: {error}"))?
                .map_err(|error| format!("random read: {error}"))?,
        );
    }
    let random = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: {build} random-read {RANDOM_READS} reads in {random} ns, requests of {REQUEST_BYTES} bytes"
    );
    Ok(())
}

/// The Wasm module asked with lent buffers, as a module asks it
/// (`ipc_call_lending`).
struct Lending<'a> {
    system: &'a mut System,
    /// The kernel's own module buffer of [`LENT_REQUEST_BYTES`].
    buffer: u64,
}

impl Lending<'_> {
    /// `request` with the buffer lent (read-write if `writable`); the reply.
    fn call(&mut self, request: &[u8], writable: bool) -> Result<Vec<u8>, String> {
        let loan = Loan {
            device_address: self.buffer,
            size: LENT_REQUEST_BYTES as u64,
            writable,
        };
        let id = self
            .system
            .send_collected_lending("block", request, loan)
            .ok_or_else(|| String::from("nobody serves `block`, or the buffer was not lent"))?;
        let limit = time::now_nanoseconds() + DEADLINE_NS;
        while !self.system.has_collected_reply(id) {
            if time::now_nanoseconds() > limit {
                return Err(String::from("no answer in 10 s"));
            }
            if !self.system.step() {
                self.system.wait_for_work();
            }
        }
        self.system
            .take_collected_reply(id)
            .ok_or_else(|| String::from("the answer vanished"))
    }

    /// A `read_lent` or `write_lent` of `count` sectors at `sector`, checked.
    fn transfer(&mut self, write: bool, sector: u64, count: u16) -> Result<(), String> {
        let request = if write {
            encode(|buffer| block::write_lent::request(buffer, 1, sector, count))?
        } else {
            encode(|buffer| block::read_lent::request(buffer, 2, sector, count))?
        };
        let answer = self.call(&request, !write)?;
        let done = block::read_lent::reply(&answer)
            .map_err(|error| format!("sector {sector}: {error}"))?
            .map_err(|error| format!("sector {sector}: {error}"))?;
        black_box(done);
        Ok(())
    }
}

/// The Wasm module's figures with lent buffers: the payload is copied once,
/// between the kernel's memory and the lent buffer (as a module copies it
/// into or out of its linear memory), and crosses no message.
fn measure_lent(system: &mut System) -> Result<(), String> {
    let capacity =
        block::capacity::reply(&Module(system).call(&encode(block::capacity::request)?)?)
            .map_err(|error| format!("capacity: {error}"))?
            .map_err(|error| format!("capacity: {error}"))?;
    let buffer = device_access::dma_allocate(None, LENT_REQUEST_BYTES as u64)
        .ok_or_else(|| String::from("no DMA memory for the lent buffer"))?;
    let mut lending = Lending { system, buffer };
    let outcome = lent_runs(&mut lending, capacity.sectors);
    device_access::dma_free(None, buffer);
    lending.system.settle();
    if dma_loans::buffers_on_loan() != 0 {
        return Err(format!(
            "{} buffers still on loan after the runs",
            dma_loans::buffers_on_loan()
        ));
    }
    outcome
}

fn lent_runs(lending: &mut Lending<'_>, sectors: u64) -> Result<(), String> {
    let first = sectors / 2;
    let requests = LENT_SEQUENTIAL_BYTES / LENT_REQUEST_BYTES as u64;
    let step = u64::from(MAX_LENT_SECTORS);
    let pattern: Vec<u8> = (0..LENT_REQUEST_BYTES)
        .map(|index| (index ^ index >> 9) as u8)
        .collect();
    let started = time::now_nanoseconds();
    for request in 0..requests {
        device_access::dma_write(lending.buffer, &pattern);
        lending.transfer(true, first + request * step, MAX_LENT_SECTORS)?;
    }
    let written = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: wasm seq-write {LENT_SEQUENTIAL_BYTES} bytes in {written} ns, requests of {LENT_REQUEST_BYTES} bytes"
    );
    let mut data = alloc::vec![0u8; LENT_REQUEST_BYTES];
    let started = time::now_nanoseconds();
    for request in 0..requests {
        lending.transfer(false, first + request * step, MAX_LENT_SECTORS)?;
        device_access::dma_read(lending.buffer, &mut data);
        black_box(&data);
    }
    let read = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: wasm seq-read {LENT_SEQUENTIAL_BYTES} bytes in {read} ns, requests of {LENT_REQUEST_BYTES} bytes"
    );
    // What was read is what was written (the last request's data, and
    // the first's read again).
    lending.transfer(false, first, MAX_LENT_SECTORS)?;
    let mut first_data = alloc::vec![0u8; LENT_REQUEST_BYTES];
    device_access::dma_read(lending.buffer, &mut first_data);
    if data != pattern || first_data != pattern {
        return Err(String::from(
            "wasm: what was read back through lent buffers is not what was written",
        ));
    }
    let slots = sectors / 8 - 1;
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut sector_data =
        alloc::vec![0u8; usize::from(LENT_RANDOM_SECTORS) * SECTOR_BYTES as usize];
    let started = time::now_nanoseconds();
    for _ in 0..RANDOM_READS {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let sector = (state >> 33) % slots * 8;
        lending.transfer(false, sector, LENT_RANDOM_SECTORS)?;
        device_access::dma_read(lending.buffer, &mut sector_data);
        black_box(&sector_data);
    }
    let random = time::now_nanoseconds() - started;
    kprintln!(
        "disk_bench: wasm random-read {RANDOM_READS} reads in {random} ns, requests of {} bytes",
        sector_data.len()
    );
    Ok(())
}

/// The scenario `disk_bench`: the Wasm module.
pub fn run(system: &mut System) -> Result<(), String> {
    system.run_for(100_000_000);
    measure_lent(system)
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
    measure("native", &mut Process(endpoint))
}
