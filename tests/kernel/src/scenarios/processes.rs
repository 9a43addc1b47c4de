//! Native process scenarios. The programs come from the boot archive as
//! `bin/NAME` (built from `userland/`).

use alloc::format;
use alloc::string::String;
use cella_kernel::boot::BootContext;
use cella_kernel::grants::GrantSet;
use cella_kernel::proc::{self, ExitReason, ProcessGrant};
use cella_kernel::sched::{self, Priority};
use cella_kernel::{fnv::fnv1a_64, ipc, irq, kprintln};

const TIMEOUT_NS: u64 = 10_000_000_000;

pub(super) fn start(context: &BootContext, name: &str, grant: ProcessGrant) -> Result<u32, String> {
    let bytes = super::archive_file(context, &format!("bin/{name}"))?;
    proc::spawn(name, bytes, grant).map_err(|error| format!("{name}: {error}"))
}

fn finish(name: &str, thread: u32) -> Result<ExitReason, String> {
    let reason =
        proc::wait(thread, TIMEOUT_NS).ok_or_else(|| format!("{name} did not end in 10 s"))?;
    kprintln!("process {name}: {reason:?}");
    Ok(reason)
}

fn expect_exit(name: &str, thread: u32, code: i64) -> Result<(), String> {
    match finish(name, thread)? {
        ExitReason::Exited(found) if found == code => Ok(()),
        other => Err(format!("{name}: expected exit({code}), got {other:?}")),
    }
}

fn expect_killed(name: &str, thread: u32, fault: &str) -> Result<(), String> {
    match finish(name, thread)? {
        ExitReason::Killed(summary) if summary.starts_with(fault) => Ok(()),
        other => Err(format!(
            "{name}: expected to be killed by {fault}, got {other:?}"
        )),
    }
}

/// Ring 3: two processes keep their SSE registers across switches; faults
/// (null pointer, `ud2`) kill only their process; bad syscall arguments are
/// error codes; ports need a grant; an MMIO grant shows the device.
pub fn processes(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    let first = start(context, "hello", ProcessGrant::default())?;
    let second = start(context, "hello", ProcessGrant::default())?;
    expect_exit("hello", first, 0)?;
    expect_exit("hello", second, 0)?;
    let null = start(context, "fault-null", ProcessGrant::default())?;
    expect_killed("fault-null", null, "page fault")?;
    let ud2 = start(context, "fault-ud2", ProcessGrant::default())?;
    expect_killed("fault-ud2", ud2, "invalid opcode")?;
    let bad = start(
        context,
        "bad-syscalls",
        ProcessGrant::ipc(&[], &["bad-syscalls-probe"]),
    )?;
    expect_exit("bad-syscalls", bad, 0)?;
    kprintln!("processes: ports without a grant");
    let denied = start(context, "ports", ProcessGrant::default())?;
    expect_killed("ports", denied, "general protection fault")?;
    kprintln!("processes: ports with a grant for 0x70-0x71");
    let granted = start(
        context,
        "ports",
        ProcessGrant {
            grants: GrantSet::new().port_range(0x70, 2),
            ..ProcessGrant::default()
        },
    )?;
    expect_exit("ports", granted, 0)?;
    let without_mmio = start(context, "mmio", ProcessGrant::default())?;
    expect_exit("mmio", without_mmio, 2)?;
    let mmio = start(
        context,
        "mmio",
        ProcessGrant {
            grants: GrantSet::new().mmio_region(0xfec0_0000, 0x20),
            ..ProcessGrant::default()
        },
    )?;
    expect_exit("mmio", mmio, 0)?;
    // Grants the kernel's device checks refuse (MMIO over RAM, a port the
    // kernel drives) are refused at spawn with the reason, as a module's
    // are at load; nothing starts.
    for grant in [
        GrantSet::new().mmio_region(0x10_0000, 0x1000),
        GrantSet::new().port_range(0x70, 2).port_range(0x61, 1),
    ] {
        let refused = ProcessGrant {
            grants: grant,
            ..ProcessGrant::default()
        };
        match start(context, "mmio", refused) {
            Ok(thread) => {
                return Err(format!(
                    "mmio started (thread {thread}) with a grant the kernel refuses"
                ));
            }
            Err(why) => kprintln!("processes: {why}"),
        }
    }
    // IRQs as messages: refused without the grant, delivered with it.
    let no_irq = start(
        context,
        "rtc-irq",
        ProcessGrant {
            grants: GrantSet::new().port_range(0x70, 2),
            ..ProcessGrant::default()
        },
    )?;
    expect_exit("rtc-irq", no_irq, 2)?;
    let rtc = start(
        context,
        "rtc-irq",
        ProcessGrant {
            grants: GrantSet::new().port_range(0x70, 2).irq_line(8),
            ..ProcessGrant::default()
        },
    )?;
    expect_exit("rtc-irq", rtc, 0)?;
    // The kernel still schedules: a kernel thread runs and ends.
    let alive = sched::spawn("after-faults", Priority::Normal, || {})
        .map_err(|error| format!("{error}"))?;
    sched::sleep_for(5_000_000);
    let statistics = sched::statistics();
    kprintln!(
        "processes: system still running after the faults: thread {alive} ran; {} threads, {} switches",
        statistics.threads,
        statistics.switches
    );
    Ok(())
}

/// A native process calls a kernel-thread server 10,000 times with checksums.
pub fn process_ipc(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    let endpoint = ipc::create_endpoint(Some("checksum")).map_err(|error| format!("{error:?}"))?;
    sched::spawn("checksum-server", Priority::Normal, move || {
        while let Ok(message) = ipc::receive(endpoint, true) {
            let _ = ipc::reply(message.token, &fnv1a_64(&message.bytes).to_le_bytes());
        }
    })
    .map_err(|error| format!("{error}"))?;
    let client = start(context, "client", ProcessGrant::ipc(&["checksum"], &[]))?;
    expect_exit("client", client, 0)
}

/// A native process calls a Wasm server (`modules/checksum.wasm` on its own
/// kernel thread) 10,000 times with checksums: the same endpoint API.
pub fn process_wasm_ipc(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    let bytes = super::archive_file(context, "modules/checksum.wasm")?;
    crate::wasm_server::serve("checksum", "checksum", bytes)
        .map_err(|error| format!("{error:?}"))?;
    let client = start(context, "client", ProcessGrant::ipc(&["checksum"], &[]))?;
    expect_exit("client", client, 0)
}

/// The same module source built both ways: `modules/checksum` as a Wasm
/// module (served by a kernel thread's sandbox as `checksum-wasm`) and as a
/// native process (`bin/checksum-native`, SDK native backend, registers
/// `checksum`). The kernel sends both the same 500 requests and compares the
/// replies byte for byte; then the native client calls the native build
/// 10,000 times with checksums.
pub fn module_both_ways(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    let wasm = super::archive_file(context, "modules/checksum.wasm")?;
    crate::wasm_server::serve("checksum-wasm", "checksum", wasm)
        .map_err(|error| format!("{error:?}"))?;
    let native = start(
        context,
        "checksum-native",
        ProcessGrant::ipc(&[], &["checksum"]),
    )?;
    let native_endpoint = super::wait_for_name("checksum")?;
    let deadline = cella_kernel::time::now_nanoseconds() + TIMEOUT_NS;
    let wasm_endpoint = ipc::lookup("checksum-wasm").map_err(|error| format!("{error:?}"))?;
    let mut identical = 0;
    let mut seed = 0x9e37_79b9u32;
    for index in 0..500usize {
        let mut request = alloc::vec::Vec::new();
        if index % 100 == 7 {
            request.extend_from_slice(b"crc");
        } else {
            for _ in 0..(index % (ipc::MAX_MESSAGE_BYTES + 1)) {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                request.push((seed >> 24) as u8);
            }
        }
        let from_native = ipc::call(native_endpoint, &request, Some(deadline));
        let from_wasm = ipc::call(wasm_endpoint, &request, Some(deadline));
        match (&from_native, &from_wasm) {
            (Ok(native), Ok(wasm)) if native == wasm && !native.is_empty() => identical += 1,
            _ => kprintln!(
                "module_both_ways: request {index} ({} bytes): native {from_native:?}, wasm {from_wasm:?}",
                request.len()
            ),
        }
    }
    kprintln!("module_both_ways: 500 requests to both builds, identical replies: {identical}");
    if identical != 500 {
        return Err(String::from("the two builds answered differently"));
    }
    let client = start(context, "client", ProcessGrant::ipc(&["checksum"], &[]))?;
    expect_exit("client", client, 0)?;
    let _ = native;
    Ok(())
}

/// A Wasm module busy inside one long event (the checksum module's 64 KiB
/// CRC: tens of ms in the interpreter, several time slices, within its fuel)
/// does not stop anything else: a CPU-bound kernel thread and a native
/// process both progress while the event runs.
pub fn wasm_busy(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    let bytes = super::archive_file(context, "modules/checksum.wasm")?;
    crate::wasm_server::serve("busy", "checksum", bytes).map_err(|error| format!("{error:?}"))?;
    let endpoint = ipc::lookup("busy").map_err(|error| format!("{error:?}"))?;
    let counter = super::counter::CountingThread::start()?;
    let mut slow_events = 0;
    let mut progressed = 0;
    let mut hello = None;
    for round in 0..5 {
        let before = counter.count();
        if round == 0 {
            hello = Some(start(context, "hello", ProcessGrant::default())?);
        }
        let started = cella_kernel::time::now_nanoseconds();
        let reply = ipc::call(endpoint, b"crc", None).map_err(|error| format!("{error:?}"))?;
        let took = cella_kernel::time::now_nanoseconds() - started;
        let after = counter.count();
        kprintln!(
            "wasm_busy: CRC event {round}: {} ms ({} bytes of reply); counter thread advanced {} meanwhile",
            took / 1_000_000,
            reply.len(),
            after - before
        );
        if took > 2 * 10_000_000 {
            slow_events += 1;
            if after > before {
                progressed += 1;
            }
        }
    }
    drop(counter);
    let hello = hello.ok_or_else(|| String::from("hello not started"))?;
    let exit = finish("hello", hello)?;
    kprintln!(
        "wasm_busy: {slow_events} events longer than two slices, the counter progressed during {progressed}; hello ended with {exit:?}"
    );
    if slow_events == 0 {
        return Err(String::from(
            "no CRC event lasted two slices; nothing shown",
        ));
    }
    if progressed != slow_events {
        return Err(String::from(
            "the counter thread stalled while the module was busy",
        ));
    }
    if exit != ExitReason::Exited(0) {
        return Err(String::from(
            "the native process did not finish while the module was busy",
        ));
    }
    Ok(())
}
