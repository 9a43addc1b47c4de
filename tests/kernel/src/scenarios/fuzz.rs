//! The syscall fuzzer's scenario (`test=fuzz`): runs `userland`'s `fuzz`
//! process once per seed against a live `checksum-native` server, with a
//! kernel thread calling the fuzzer's own endpoint so it has real reply
//! tokens to misuse. After each run it checks the system is healthy: the
//! process list, a call to `checksum`, the memory report, and the kernel heap
//! back within [`HEAP_SLACK`] of where it started.
//!
//! Command line: `fuzz_calls=N` (default 30,000 per seed) and
//! `fuzz_seeds=A,B,...` (hexadecimal or decimal; default two fixed seeds).

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_kernel::boot::BootContext;
use cella_kernel::grants::GrantSet;
use cella_kernel::ipc::{self, EndpointId};
use cella_kernel::proc::{self, ExitReason, ProcessGrant};
use cella_kernel::sched::{self, Priority};
use cella_kernel::{kprintln, mm, time};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const SECOND: u64 = 1_000_000_000;
/// How far the heap may be from its starting point after a run.
const HEAP_SLACK: usize = 64 * 1024;
const DEFAULT_CALLS: u64 = 30_000;
const DEFAULT_SEEDS: [u64; 2] = [0x5eed_0001, 0xc0ff_ee00_1234_5678];

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Runs the scenario.
pub fn run(context: &BootContext) -> Result<(), String> {
    cella_kernel::irq::start();
    proc::initialise();
    let calls = context
        .command_line
        .get("fuzz_calls")
        .and_then(parse_number)
        .unwrap_or(DEFAULT_CALLS);
    let seeds: Vec<u64> = match context.command_line.get("fuzz_seeds") {
        Some(list) => list.split(',').filter_map(parse_number).collect(),
        None => DEFAULT_SEEDS.to_vec(),
    };
    if seeds.is_empty() {
        return Err(String::from("fuzz_seeds names no seed"));
    }
    start(
        context,
        "checksum-native",
        ProcessGrant::ipc(&[], &["checksum"]),
    )?;
    let checksum = super::wait_for_name("checksum")?;
    let expected = ipc::call(
        checksum,
        b"hello",
        Some(time::now_nanoseconds() + 5 * SECOND),
    )
    .map_err(|error| format!("checksum: {error:?}"))?;
    let started_heap = mm::heap::statistics().used;
    let started = time::now_nanoseconds();
    for &seed in &seeds {
        one_run(context, seed, calls)?;
        healthy(checksum, &expected, started_heap)?;
    }
    kprintln!(
        "fuzz: {} seeds x {calls} calls in {} ms; heap {} KiB at the start, {} KiB at the end",
        seeds.len(),
        (time::now_nanoseconds() - started) / 1_000_000,
        started_heap / 1024,
        mm::heap::statistics().used / 1024
    );
    Ok(())
}

fn one_run(context: &BootContext, seed: u64, calls: u64) -> Result<(), String> {
    let heap_before = mm::heap::statistics().used;
    let control =
        ipc::create_endpoint(Some("fuzz-control")).map_err(|error| format!("{error:?}"))?;
    let mut plan = [0u8; 16];
    plan[..8].copy_from_slice(&seed.to_le_bytes());
    plan[8..].copy_from_slice(&calls.to_le_bytes());
    // The control server answers every call with the plan (the fuzzer's
    // random calls reach it too) until the endpoint closes.
    sched::spawn("fuzz-control", Priority::Normal, move || {
        while let Ok(message) = ipc::receive(control, true) {
            if message.token != 0 {
                let _ = ipc::reply(message.token, &plan);
            }
        }
    })
    .map_err(|error| format!("{error}"))?;
    // A caller of the fuzzer's endpoint: real tokens for it to misuse.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let (stop_flag, answered_count) = (stop.clone(), answered.clone());
    sched::spawn("fuzz-caller", Priority::Normal, move || {
        while !stop_flag.load(Ordering::Relaxed) {
            match ipc::lookup("fuzz-inbox") {
                Ok(inbox) => {
                    let limit = time::now_nanoseconds() + 20_000_000;
                    if ipc::call(inbox, b"call me back", Some(limit)).is_ok() {
                        answered_count.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(_) => sched::sleep_for(2_000_000),
            }
        }
    })
    .map_err(|error| format!("{error}"))?;
    let began = time::now_nanoseconds();
    let fuzzer = start(
        context,
        "fuzz",
        ProcessGrant {
            grants: GrantSet::new()
                .irq_line(5)
                .endpoint("fuzz-control")
                .endpoint("checksum")
                .endpoint("fuzz-nobody"),
            ..ProcessGrant::ipc(&[], &["fuzz-inbox"])
        },
    )?;
    let limit = 60 * SECOND + calls.saturating_mul(200_000);
    let reason = proc::wait(fuzzer, limit);
    let took = time::now_nanoseconds() - began;
    stop.store(true, Ordering::Relaxed);
    ipc::close_endpoint(control);
    sched::sleep_for(30_000_000);
    let heap_after = mm::heap::statistics().used;
    kprintln!(
        "fuzz: seed {seed:#x}: {calls} calls, ended {reason:?} after {} ms; {} calls of the fuzzer's endpoint answered; heap {} KiB before, {} KiB after",
        took / 1_000_000,
        answered.load(Ordering::Relaxed),
        heap_before / 1024,
        heap_after / 1024
    );
    match reason {
        Some(ExitReason::Exited(0)) => Ok(()),
        other => Err(format!("the fuzzer ended {other:?}")),
    }
}

/// `ps`, a call to `checksum` and `mem` work; the heap is back near `heap_start`.
fn healthy(checksum: EndpointId, expected: &[u8], heap_start: usize) -> Result<(), String> {
    for line in cella_kernel::module_host::services::process_rows().lines() {
        kprintln!("fuzz: ps: {line}");
    }
    let reply = ipc::call(
        checksum,
        b"hello",
        Some(time::now_nanoseconds() + 5 * SECOND),
    );
    let good = reply.as_deref() == Ok(expected);
    kprintln!("fuzz: call checksum hello after the run: right reply: {good}");
    let heap = mm::heap::statistics();
    let frames = mm::paging::frame_statistics();
    kprintln!(
        "fuzz: mem: heap {} of {} KiB in use; {} of {} frames in use",
        heap.used / 1024,
        heap.size / 1024,
        frames.allocated_frames,
        frames.total_frames
    );
    if !good {
        return Err(format!("checksum answered {reply:?} after the run"));
    }
    if heap.used > heap_start + HEAP_SLACK {
        return Err(format!(
            "the heap grew by {} bytes over the run",
            heap.used - heap_start
        ));
    }
    Ok(())
}
