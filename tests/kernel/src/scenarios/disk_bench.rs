//! The disk benchmark (`cargo cella bench`): the same virtio-blk driver
//! source as a Wasm module and as a native process, on the disk every boot
//! has, one request at a time (as `dd` with O_DIRECT issues them): a
//! sequential write and read of [`SEQUENTIAL_BYTES`] in requests of seven
//! sectors (the most one 4,096-byte message carries), then random reads of
//! seven sectors. Lines `disk_bench: BUILD OPERATION AMOUNT UNIT in NS ns`.
//! Scenario `disk_bench` measures the Wasm module through the module
//! system; `native_disk_bench` (a boot of its own, before any module
//! starts) the native build through kernel IPC.

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::block::{self, MAX_SECTORS, SECTOR_BYTES};
use cella_interfaces::wire::WireError;
use cella_kernel::boot::BootContext;
use cella_kernel::module_host::services::System;
use cella_kernel::proc;
use cella_kernel::{ipc, kprintln, time};
use core::hint::black_box;

/// Bytes of each sequential run.
pub const SEQUENTIAL_BYTES: u64 = 4 * 1024 * 1024;
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
    kprintln!("disk_bench: {build} seq-write {moved} bytes in {written} ns");
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
    kprintln!("disk_bench: {build} seq-read {moved} bytes in {read} ns");
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
    kprintln!("disk_bench: {build} random-read {RANDOM_READS} reads in {random} ns");
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
    measure("native", &mut Process(endpoint))
}
