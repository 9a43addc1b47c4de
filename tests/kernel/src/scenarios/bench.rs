//! The benchmark, in one boot under TCG: figures as ratios of each other.
//! `cargo cella bench` boots it with `test=bench` and the user programs.
//!
//! Measured: a null syscall; an IPC round trip between two native processes;
//! a native process's round trip to a Wasm server; a direct kernel call of a
//! Wasm module's message event (no queue, no switch); a native process's
//! round trip to the same module in the module system (through the event
//! loop, which runs such a call on its own thread while the module is idle);
//! CRC-32 over 64 KiB in a
//! native process and in the same Wasm module (interpreter); the kernel
//! starting a native process that exits at once, and seeing it end.

use super::processes::start;
use crate::wasm_server;
use alloc::format;
use alloc::string::String;
use cella_kernel::boot::BootContext;
use cella_kernel::ipc;
use cella_kernel::module_host::services::{System, boot_with_limits};
use cella_kernel::proc::{self, ExitReason, ProcessGrant};
use cella_kernel::system_manifest::SystemManifest;
use cella_kernel::{irq, kprintln, sched, time};
use cella_wasm_host::Limits;

fn module(context: &BootContext) -> Result<&'static [u8], String> {
    super::archive_file(context, "modules/checksum.wasm")
}

/// `a / b` with two decimals, as text.
fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return String::from("n/a");
    }
    let hundredths = a * 100 / b;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// Rounds of process start + exit + wait.
const PROCESS_ROUNDS: u64 = 50;

/// The kernel starts `bin/exit-at-once` (ELF loaded into a new address space, a
/// thread in ring 3), it exits, the kernel sees its exit; the average time. The
/// kernel's info log (a line per start) is held back meanwhile, as Linux's
/// `quiet` does for the yardstick.
fn process_start_exit_ns(context: &BootContext) -> Result<u64, String> {
    let level = log::max_level();
    log::set_max_level(log::LevelFilter::Warn);
    let started = time::now_nanoseconds();
    let mut result = Ok(());
    for _ in 0..PROCESS_ROUNDS {
        let thread = match start(context, "exit-at-once", ProcessGrant::default()) {
            Ok(thread) => thread,
            Err(error) => {
                result = Err(error);
                break;
            }
        };
        let reason = loop {
            match proc::exit_reason(thread) {
                Some((_, reason)) => break reason,
                None => sched::yield_now(),
            }
        };
        if reason != ExitReason::Exited(0) {
            result = Err(format!("exit-at-once ended with {reason:?}"));
            break;
        }
    }
    let elapsed = time::now_nanoseconds() - started;
    log::set_max_level(level);
    result.map(|()| elapsed / PROCESS_ROUNDS)
}

pub fn run(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    let bytes = module(context)?;
    // Direct kernel calls of the module's message event.
    let mut sandbox = wasm_server::instantiate("checksum", bytes)?;
    let rounds = 2_000u64;
    let started = time::now_nanoseconds();
    for index in 0..rounds {
        wasm_server::call_direct(&mut sandbox, &index.to_le_bytes())?;
    }
    let event_ns = (time::now_nanoseconds() - started) / rounds;
    // Every round's reply is kept and must agree with the others.
    let crc_of = |reply: &[u8]| {
        u32::from_le_bytes(
            reply
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .unwrap_or([0; 4]),
        )
    };
    let crc_rounds = 4u64;
    let started = time::now_nanoseconds();
    let mut wasm_crcs = [0u32; 4];
    for crc in &mut wasm_crcs {
        *crc = crc_of(&wasm_server::call_direct(&mut sandbox, b"crc")?);
    }
    let wasm_crc_ns = (time::now_nanoseconds() - started) / crc_rounds;
    let wasm_crc = wasm_crcs[0];
    if wasm_crcs.iter().any(|crc| *crc != wasm_crc) {
        return Err(format!("the Wasm CRC rounds disagree: {wasm_crcs:08x?}"));
    }
    // Native processes: an echo server, a Wasm server, and the measuring client.
    let results =
        ipc::create_endpoint(Some("bench-results")).map_err(|error| format!("{error:?}"))?;
    wasm_server::serve("bench-wasm", "checksum", bytes).map_err(|error| format!("{error:?}"))?;
    let server = start(context, "bench", bench_grant())?;
    super::wait_for_name("bench-echo")?;
    // The same module once more, in the module system: the client's calls go
    // through the event loop.
    let manifest = SystemManifest::parse(MODULE_MANIFEST).map_err(|error| format!("{error}"))?;
    let archive = context
        .archive
        .ok_or_else(|| String::from("no boot archive"))?;
    let mut system = boot_with_limits(&manifest, archive, Limits::default());
    let client = start(context, "bench", bench_grant())?;
    // The results come once, at the end: looking for them every 64 turns
    // keeps this loop's own IPC out of the round trips it measures.
    let message = loop {
        match ipc::receive(results, false) {
            Ok(message) => break message,
            Err(ipc::IpcError::Empty) => {
                for _ in 0..64 {
                    system.turn();
                }
            }
            Err(error) => return Err(format!("{error:?}")),
        }
    };
    let value = |index: usize| {
        message
            .bytes
            .get(index * 8..index * 8 + 8)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let (null_ns, native_crc_ns, native_crc, native_ipc_ns, wasm_ipc_ns, module_ipc_ns) = (
        value(0),
        value(1),
        value(2) as u32,
        value(3),
        value(4),
        value(5),
    );
    let _ = proc::wait(client, 1_000_000_000);
    let _ = server;
    let (answered, busy_ns) = contention(&mut system)?;
    let process_ns = process_start_exit_ns(context)?;
    kprintln!("bench: all figures from one boot under TCG (ns of guest time; compare as ratios)");
    kprintln!("bench: null syscall (native process)           {null_ns:>10} ns");
    kprintln!("bench: IPC round trip native -> native          {native_ipc_ns:>10} ns");
    kprintln!("bench: IPC round trip native -> Wasm server     {wasm_ipc_ns:>10} ns");
    kprintln!("bench: IPC round trip native -> Wasm module     {module_ipc_ns:>10} ns");
    kprintln!("bench: direct kernel call of a Wasm event       {event_ns:>10} ns");
    kprintln!("bench: process start + exit + wait (native)    {process_ns:>10} ns");
    kprintln!(
        "bench: CRC-32 64 KiB in a native process        {native_crc_ns:>10} ns (crc {native_crc:08x})"
    );
    kprintln!(
        "bench: CRC-32 64 KiB in the Wasm module         {wasm_crc_ns:>10} ns (crc {wasm_crc:08x})"
    );
    kprintln!(
        "bench: ratio native IPC round trip / null syscall = {}",
        ratio(native_ipc_ns, null_ns)
    );
    kprintln!(
        "bench: ratio native->Wasm IPC / native->native IPC = {}",
        ratio(wasm_ipc_ns, native_ipc_ns)
    );
    kprintln!(
        "bench: ratio native->module IPC / native->Wasm server IPC = {} (target <= 1.5: {})",
        ratio(module_ipc_ns, wasm_ipc_ns),
        if module_ipc_ns * 2 <= wasm_ipc_ns * 3 {
            "met"
        } else {
            "NOT met"
        }
    );
    kprintln!(
        "bench: contention: during a {} ms event of a busy module, another answered {answered} of {CONTENTION_REQUESTS} requests (target all: {})",
        busy_ns / 1_000_000,
        if answered == CONTENTION_REQUESTS {
            "met"
        } else {
            "NOT met"
        }
    );
    kprintln!(
        "bench: ratio Wasm event / native IPC round trip = {} (target < 1: {})",
        ratio(event_ns, native_ipc_ns),
        if event_ns < native_ipc_ns {
            "met"
        } else {
            "NOT met"
        }
    );
    kprintln!(
        "bench: ratio Wasm CRC / native CRC = {} (target >= 5: {})",
        ratio(wasm_crc_ns, native_crc_ns),
        if wasm_crc_ns >= 5 * native_crc_ns {
            "met"
        } else {
            "NOT met"
        }
    );
    if native_crc != wasm_crc {
        return Err(format!(
            "the two CRCs differ: {native_crc:08x} vs {wasm_crc:08x}"
        ));
    }
    if wasm_ipc_ns == 0 || native_ipc_ns == 0 || module_ipc_ns == 0 {
        return Err(String::from("an IPC figure is missing"));
    }
    Ok(())
}

/// The module system of the benchmark: the checksum module serving `bench-module`.
const MODULE_MANIFEST: &str = "cella-system 1
module checksum modules/checksum.wasm
serve bench-module
module busy modules/checksum.wasm
serve bench-busy
";

/// Requests to the quick module while the busy one computes a CRC.
const CONTENTION_REQUESTS: u64 = 20;

/// While `busy` handles one 64 KiB CRC request (tens of milliseconds in the
/// interpreter, on its worker thread), 20 small requests wait for
/// `checksum`: how many it answers before the CRC is done, and how long the
/// CRC event took. Each answer needs the event loop and `checksum`'s worker
/// to get the CPU from `busy`'s worker, a thread that never blocks.
fn contention(system: &mut System) -> Result<(u64, u64), String> {
    let (Some(busy), Some(quick)) = (system.find("busy"), system.find("checksum")) else {
        return Err(String::from("the contention modules are not in the table"));
    };
    let busy_before = system.module(busy).events_handled;
    let quick_before = system.module(quick).events_handled;
    if !system.send_probe("bench-busy", b"crc") {
        return Err(String::from("nothing serves bench-busy"));
    }
    super::run_until(system, |system| system.module(busy).away)?;
    let started = time::now_nanoseconds();
    for index in 0..CONTENTION_REQUESTS {
        system.send_probe("bench-module", &index.to_le_bytes());
    }
    super::run_until(system, |system| {
        system.module(busy).events_handled > busy_before
    })?;
    let took = time::now_nanoseconds() - started;
    let answered = system.module(quick).events_handled - quick_before;
    super::run_until(system, |system| {
        system.module(quick).events_handled >= quick_before + CONTENTION_REQUESTS
    })?;
    Ok((answered.min(CONTENTION_REQUESTS), took))
}

fn bench_grant() -> ProcessGrant {
    ProcessGrant::ipc(
        &["bench-echo", "bench-wasm", "bench-module", "bench-results"],
        &["bench-echo"],
    )
}
