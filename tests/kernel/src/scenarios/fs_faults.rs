//! File-server faults: `fs` swapped v1 -> v2 -> v1 and faulted from outside, each while
//! `fs-workload` (tests/fixtures/fs-workload) has a request in flight that the server is
//! suspended on (waiting for the disk), for [`CYCLES`] cycles; then the workload is asked to
//! finish and read every ledger file back through `fs`. It passes if the workload made
//! files, none read back other than written, nothing was refused for good, every ledger file
//! read back intact and the kernel heap did not grow across the cycles. The ledger is printed
//! (`fs_faults: ledger PATH SIZE bytes FNV-1a HASH`) for the QEMU test
//! (tests/tests/fs_faults.rs), which checks the image on the host.

use super::heap_watch::{check_growth, heap_in_use};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;

// The workload's files, report and ledger, shared with the fixture and the QEMU test.
#[allow(dead_code)]
#[path = "../../../fixtures/fs-workload/src/pattern.rs"]
mod pattern;

use pattern::{Entry, FINISH, LEAST_FILES, LEDGER, Report};

const SERVER: &str = "fs";
const WORKLOAD: &str = "fs-workload";
const VERSION_ONE: &str = "modules/fs.wasm";
const VERSION_TWO: &str = "modules/fs-v2.wasm";
/// Swap, swap back, fault: this many times.
const CYCLES: u32 = 12;
/// How long the workload runs undisturbed between cycles.
const BETWEEN_CYCLES_NANOSECONDS: u64 = 100_000_000;
/// How long the server may go without being caught waiting for the disk.
const CATCH_NANOSECONDS: u64 = 20_000_000_000;
/// Kernel heap growth tolerated from the end of the first cycle to the last: far below one
/// leaked file-server instance (its 3 MiB of memory, its compiled code).
const TOLERATED_GROWTH_BYTES: usize = 64 * 1024;
/// How long the workload may take to finish and read its ledger back once asked.
const FINISH_NANOSECONDS: u64 = 300_000_000_000;

/// Runs the loop until the server is suspended in a handler, waiting for the disk's answer
/// to a request of the workload; the requests it holds then.
fn caught_waiting(system: &mut System, server: usize) -> Result<usize, String> {
    let limit = cella_kernel::time::now_nanoseconds() + CATCH_NANOSECONDS;
    loop {
        let pending = system.pending_requests(server);
        if pending > 0 && system.module(server).waiting_for().is_some() {
            return Ok(pending);
        }
        if cella_kernel::time::now_nanoseconds() > limit {
            return Err(String::from(
                "the file server was never caught waiting for the disk in 20 s",
            ));
        }
        if !system.step() {
            system.wait_for_work();
        }
    }
}

/// The requests module `index`'s instance holds, by id.
fn held_requests(system: &System, index: usize) -> Vec<u32> {
    system
        .module(index)
        .sandbox
        .as_ref()
        .map(|sandbox| sandbox.pending_requests().to_vec())
        .unwrap_or_default()
}

/// Runs the loop until the server is suspended waiting for the disk in its handler of a
/// `write` of the workload: caught waiting, the workload says its one request out is a
/// write, and the server still holds the same request and waits for the disk. The requests
/// it holds then.
fn caught_writing(system: &mut System, server: usize) -> Result<usize, String> {
    let limit = cella_kernel::time::now_nanoseconds() + CATCH_NANOSECONDS;
    let mut last = String::new();
    while cella_kernel::time::now_nanoseconds() < limit {
        caught_waiting(system, server)?;
        let held = held_requests(system, server);
        let writing = report(system)?.writing;
        let held_after = held_requests(system, server);
        let waiting = system.module(server).waiting_for();
        if writing && held == held_after && waiting.is_some() {
            return Ok(held.len());
        }
        last = format!(
            "at {} ms the workload writing: {writing}; requests held {held:?}, then {held_after:?}; waiting for call {waiting:?}",
            cella_kernel::time::now_nanoseconds() / 1_000_000
        );
    }
    Err(format!(
        "the file server was never caught waiting for the disk on a write in 20 s (the last: {last})"
    ))
}

/// Sends `request` to the workload; the answer's bytes.
fn ask(system: &mut System, request: &[u8]) -> Result<Vec<u8>, String> {
    let id = system
        .send_collected(WORKLOAD, request)
        .ok_or_else(|| format!("nobody serves `{WORKLOAD}`"))?;
    super::run_until(system, |system| system.has_collected_reply(id))?;
    Ok(system.take_collected_reply(id).unwrap_or_default())
}

/// The workload's report.
fn report(system: &mut System) -> Result<Report, String> {
    let bytes = ask(system, b"report")?;
    Report::decode(&bytes).ok_or_else(|| format!("the workload answered {} bytes", bytes.len()))
}

/// Ledger entry `index`.
fn ledger_entry(system: &mut System, index: u32) -> Result<Entry, String> {
    let mut request = [0u8; 10];
    request[..6].copy_from_slice(LEDGER);
    request[6..].copy_from_slice(&index.to_le_bytes());
    let bytes = ask(system, &request)?;
    Entry::decode(&bytes).ok_or_else(|| format!("no ledger entry {index}"))
}

pub fn run(system: &mut System) -> Result<(), String> {
    let server = system
        .find(SERVER)
        .ok_or_else(|| format!("no module {SERVER}"))?;
    system
        .find(WORKLOAD)
        .ok_or_else(|| format!("no module {WORKLOAD}"))?;
    system.run_for(100_000_000);
    system.start_by_hand(WORKLOAD)?;
    let faults_before = system.faults().len();
    let (mut swaps, mut faults) = (0u32, 0u32);
    let mut warm_heap = None;
    for cycle in 0..CYCLES {
        for file in [VERSION_TWO, VERSION_ONE] {
            let pending = caught_writing(system, server)?;
            let swapped = system
                .swap(SERVER, file)
                .map_err(|error| format!("cycle {cycle}: swap to {file}: {error}"))?;
            swaps += 1;
            kprintln!(
                "fs_faults: cycle {cycle}: swapped {} -> {} waiting for the disk on a write ({pending} requests held), events stopped for {} us, {} queued events followed",
                swapped.old_version,
                swapped.new_version,
                swapped.blackout_ns / 1000,
                swapped.queued
            );
        }
        let interrupted_before = report(system)?.interrupted_writes;
        caught_writing(system, server)?;
        system.reset_restart_history(server);
        let pending = system
            .fault_from_outside(server, "fault injected by the fs_faults scenario")
            .ok_or_else(|| String::from("the file server has no live instance"))?;
        faults += 1;
        super::run_until(system, |system| system.module(server).is_running())?;
        // Let the workload hear of the request it lost.
        system.run_for(50_000_000);
        let interrupted = report(system)?.interrupted_writes - interrupted_before;
        kprintln!(
            "fs_faults: cycle {cycle}: faulted waiting for the disk on a write ({pending} requests held, {interrupted} writes interrupted); restarted"
        );
        if pending == 0 || interrupted == 0 {
            return Err(format!(
                "cycle {cycle}: the fault found no request held or interrupted no write"
            ));
        }
        system.run_for(BETWEEN_CYCLES_NANOSECONDS);
        if cycle == 0 {
            warm_heap = Some(heap_in_use(system));
        }
    }
    let after = heap_in_use(system);
    check_growth(
        "fs_faults",
        warm_heap.unwrap_or(after),
        after,
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
                "the workload did not finish: {} files, {} read back, {} failures",
                now.files, now.verified, now.failures
            ));
        }
        system.run_for(50_000_000);
    };
    for index in 0..last.files {
        let entry = ledger_entry(system, index)?;
        let path = pattern::path_of(entry.number);
        kprintln!(
            "fs_faults: ledger {} {} bytes FNV-1a {:#010x}",
            core::str::from_utf8(&path).unwrap_or("?"),
            entry.size,
            entry.checksum
        );
    }
    // Console output leaves through the UART driver: let it drain before the summary.
    system.settle();
    let records = system.faults();
    let new_records = records.get(faults_before..).unwrap_or_default().len();
    kprintln!(
        "fs_faults: files {}, writes {}, requests {}, redone {}, interrupted writes {}, failures {}, mismatches {}, read back intact {}, not intact {}, swaps {swaps}, faults {faults}, fault records {new_records}",
        last.files,
        last.writes,
        last.requests,
        last.redone,
        last.interrupted_writes,
        last.failures,
        last.mismatches,
        last.verified,
        last.bad
    );
    if last.files < LEAST_FILES
        || last.failures != 0
        || last.mismatches != 0
        || last.bad != 0
        || last.verified != last.files
    {
        return Err(String::from(
            "the workload made too few files, was refused, read back other bytes than it wrote, or lost a ledger file",
        ));
    }
    if new_records != faults as usize {
        return Err(format!(
            "{new_records} fault records for {faults} injected faults"
        ));
    }
    Ok(())
}
