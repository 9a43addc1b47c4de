//! Block faults: the virtio-blk driver swapped v1 -> v2 -> v1 and faulted from outside, each
//! while `block-workload` (tests/fixtures/block-workload) keeps requests in flight, for
//! [`CYCLES`] cycles; then garbage written into its used ring [`GARBAGE_ROUNDS`] times (the
//! driver must answer what it holds and fault itself); then the workload is asked to finish. It passes if every round was done,
//! every sector read back held what its round wrote and no request was refused for good; the
//! QEMU test (tests/tests/block_faults.rs) then checks the disk image.

use super::heap_watch::{check_growth, heap_in_use};
use alloc::format;
use alloc::string::String;
use cella_kernel::kprintln;
use cella_kernel::module_host::device_access;
use cella_kernel::module_host::services::System;

// The workload's sector pattern and report, shared with the fixture and the QEMU test; the
// scenario uses only the report and the round count.
#[allow(dead_code)]
#[path = "../../../fixtures/block-workload/src/pattern.rs"]
mod pattern;

use pattern::{FINISH, LEAST_ROUNDS, Report};

const DRIVER: &str = "virtio-blk";
const WORKLOAD: &str = "block-workload";
const VERSION_ONE: &str = "modules/virtio-blk.wasm";
const VERSION_TWO: &str = "modules/virtio-blk-v2.wasm";
/// Swap, swap back, fault: this many times.
const CYCLES: u32 = 3;
/// Pairs of swaps (v1 -> v2 -> v1) a cycle tries for one that lands with requests in flight.
/// With MSI-X the device often finishes before the hand-over: about one pair in fifteen lands
/// with requests on the device (runs have taken 2 to 44 pairs a cycle), so 400 pairs miss
/// with a chance below one in a billion.
const SWAP_PAIRS: u32 = 400;
/// Tries to catch the driver with requests delivered and unanswered.
const TRIES: u32 = 200;
/// Times garbage is written into the driver's used ring.
const GARBAGE_ROUNDS: u32 = 2;
/// The driver's request queue as cella-virtio lays it out (16 entries): a DMA buffer of 430
/// bytes whose used ring's index is at byte 298 and whose used entry `n` (id: u32, length:
/// u32) is at 300 + 8 n.
const QUEUE_BYTES: u64 = 430;
const USED_INDEX_AT: u64 = 298;
const USED_ENTRIES_AT: u64 = 300;
const QUEUE_SIZE: u16 = 16;
/// An id no descriptor has: garbage.
const GARBAGE_ID: u32 = 0xdead;
/// Kernel heap growth tolerated from the end of the first cycle to the last fault: far below
/// one leaked driver instance.
const TOLERATED_GROWTH_BYTES: usize = 64 * 1024;
/// How long the workload may take to finish once asked.
const FINISH_NANOSECONDS: u64 = 120_000_000_000;

/// Runs the loop until the driver holds requests delivered and not answered.
fn requests_in_flight(system: &mut System, driver: usize) -> Result<usize, String> {
    let limit = cella_kernel::time::now_nanoseconds() + 5_000_000_000;
    loop {
        let pending = system.pending_requests(driver);
        if pending > 0 {
            return Ok(pending);
        }
        if cella_kernel::time::now_nanoseconds() > limit {
            return Err(String::from("the driver held no request for 5 s"));
        }
        if !system.step() {
            system.wait_for_work();
        }
    }
}

/// The workload's report, asked through its endpoint.
fn report(system: &mut System) -> Result<Report, String> {
    ask(system, b"report")
}

/// Sends `request` to the workload; its report.
fn ask(system: &mut System, request: &[u8]) -> Result<Report, String> {
    let id = system
        .send_collected(WORKLOAD, request)
        .ok_or_else(|| format!("nobody serves `{WORKLOAD}`"))?;
    super::run_until(system, |system| system.has_collected_reply(id))?;
    let bytes = system.take_collected_reply(id).unwrap_or_default();
    Report::decode(&bytes).ok_or_else(|| format!("the workload answered {} bytes", bytes.len()))
}

/// Faults the driver while it holds requests; the requests it held then.
fn fault_in_flight(system: &mut System, driver: usize) -> Result<usize, String> {
    for _ in 0..TRIES {
        requests_in_flight(system, driver)?;
        system.reset_restart_history(driver);
        match system.fault_from_outside(driver, "fault injected by the block_faults scenario") {
            Some(0) => {
                // It answered them before it was home: it restarts anyway; wait and try again.
                super::run_until(system, |system| system.module(driver).is_running())?;
            }
            Some(pending) => return Ok(pending),
            None => return Err(String::from("the driver has no live instance")),
        }
    }
    Err(format!(
        "the driver was never caught with a request in {TRIES} tries"
    ))
}

/// Writes garbage into the used entry the device wrote last, while the driver holds requests
/// and gets no event (the loop is not stepped), then lets it run: it must answer what it
/// holds and fault. The fault's reason.
fn garbage_in_used_ring(system: &mut System, driver: usize) -> Result<String, String> {
    for _ in 0..TRIES {
        requests_in_flight(system, driver)?;
        system.wait_until_home(driver);
        if system.pending_requests(driver) == 0 {
            continue;
        }
        // The device finishes the requests meanwhile; the driver sees none of it yet.
        cella_kernel::sched::sleep_for(5_000_000);
        let Some((queue, _)) = system
            .dma_buffers(driver)
            .into_iter()
            .find(|(_, size)| *size == QUEUE_BYTES)
        else {
            return Err(String::from("the driver holds no request queue"));
        };
        let mut index = [0u8; 2];
        device_access::dma_read(queue + USED_INDEX_AT, &mut index);
        let last = u16::from_le_bytes(index).wrapping_sub(1) % QUEUE_SIZE;
        device_access::dma_write(
            queue + USED_ENTRIES_AT + 8 * u64::from(last),
            &GARBAGE_ID.to_le_bytes(),
        );
        let before = system.faults().len();
        system.reset_restart_history(driver);
        system.run_for(50_000_000);
        let records = system.faults();
        if let Some(record) = records.get(before..).and_then(|new| new.first()) {
            let reason = record.reason.clone();
            super::run_until(system, |system| system.module(driver).is_running())?;
            return Ok(reason);
        }
    }
    Err(format!(
        "garbage in the used ring never faulted the driver in {TRIES} tries"
    ))
}

pub fn run(system: &mut System) -> Result<(), String> {
    let driver = system
        .find(DRIVER)
        .ok_or_else(|| format!("no module {DRIVER}"))?;
    system
        .find(WORKLOAD)
        .ok_or_else(|| format!("no module {WORKLOAD}"))?;
    system.run_for(100_000_000);
    system.start_by_hand(WORKLOAD)?;
    let faults_before = system.faults().len();
    let (mut swaps, mut faults) = (0u32, 0u32);
    let mut landed_in_flight = 0u32;
    let mut warm_heap = None;
    for cycle in 0..CYCLES {
        // Pairs of swaps until one lands while the driver has requests on the device: the
        // next version answers those `Busy`, which the workload counts as retries.
        let mut pairs = 0;
        loop {
            let mut landed = false;
            for file in [VERSION_TWO, VERSION_ONE] {
                let retries_before = report(system)?.retries;
                requests_in_flight(system, driver)?;
                let swapped = system
                    .swap(DRIVER, file)
                    .map_err(|error| format!("cycle {cycle}: swap to {file}: {error}"))?;
                swaps += 1;
                // The answers the new version gave while taking over go out at the commit;
                // let them reach the workload before asking for its counts.
                system.run_for(5_000_000);
                let answered_busy = report(system)?.retries - retries_before;
                if answered_busy > 0 {
                    landed = true;
                    landed_in_flight += 1;
                }
                kprintln!(
                    "block_faults: cycle {cycle}: swapped {} -> {}, events stopped for {} us; requests it took over and answered busy: {answered_busy}",
                    swapped.old_version,
                    swapped.new_version,
                    swapped.blackout_ns / 1000
                );
            }
            pairs += 1;
            if landed {
                break;
            }
            if pairs == SWAP_PAIRS {
                return Err(format!(
                    "cycle {cycle}: no swap in {SWAP_PAIRS} pairs landed with requests in flight"
                ));
            }
        }
        let pending = fault_in_flight(system, driver)?;
        faults += 1;
        super::run_until(system, |system| system.module(driver).is_running())?;
        kprintln!(
            "block_faults: cycle {cycle}: faulted with {pending} requests delivered and unanswered; restarted"
        );
        if cycle == 0 {
            warm_heap = Some(heap_in_use(system));
        }
    }
    for round in 0..GARBAGE_ROUNDS {
        let reason = garbage_in_used_ring(system, driver)?;
        kprintln!("block_faults: garbage {round}: the driver faulted ({reason}); restarted");
    }
    let after_faults = heap_in_use(system);
    check_growth(
        "block_faults",
        warm_heap.unwrap_or(after_faults),
        after_faults,
        TOLERATED_GROWTH_BYTES,
    )?;
    ask(system, FINISH)?;
    let limit = cella_kernel::time::now_nanoseconds() + FINISH_NANOSECONDS;
    let last = loop {
        let now = report(system)?;
        if now.finished {
            break now;
        }
        if cella_kernel::time::now_nanoseconds() > limit {
            return Err(format!(
                "the workload did not finish: {} rounds done",
                now.rounds
            ));
        }
        system.run_for(20_000_000);
    };
    // Console output leaves through the UART driver: let it drain before the summary.
    system.settle();
    let records = system.faults();
    let new_records = records.get(faults_before..).unwrap_or_default();
    // A DMA the IOMMU blocked faults the module holding the device when one does.
    let device_faults = new_records
        .iter()
        .filter(|record| record.reason.contains("DMA"))
        .count();
    kprintln!(
        "block_faults: rounds {}, retries {}, mismatched sectors {}, refused {}, at most {} in flight, lent requests {}, swaps {swaps} ({landed_in_flight} with requests in flight), faults {faults}, garbage faults {GARBAGE_ROUNDS}, fault records {}, DMA fault records {device_faults}, area {} sectors from sector {}",
        last.rounds,
        last.retries,
        last.mismatches,
        last.failures,
        last.most_in_flight,
        last.lent,
        new_records.len(),
        last.sectors,
        last.first_sector
    );
    if last.rounds < LEAST_ROUNDS || last.mismatches != 0 || last.failures != 0 || last.lent == 0 {
        return Err(String::from(
            "the workload lost rounds, read back sectors it did not write, was refused, or lent no buffer",
        ));
    }
    if device_faults != 0 {
        // Bus mastering is off before a faulted instance's buffers are freed: its device
        // cannot have reached them.
        return Err(format!("{device_faults} DMA faults recorded"));
    }
    Ok(())
}
