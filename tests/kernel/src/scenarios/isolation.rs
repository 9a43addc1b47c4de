//! Hostile native processes against their grants (scenario `isolation`):
//! reply rights bound to the receiver, kernel memory charged and never
//! leaked, console lines that cannot be forged, refusals rate-limited, calls
//! that end when the server dies or the deadline passes, and `register` with
//! a full handle table. The programs are `forger`, `mortal` and `hog`
//! (`userland/`); `checksum-native` is the server they must not disturb.

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
use spin::Mutex;

const SECOND: u64 = 1_000_000_000;

fn deadline(seconds: u64) -> Option<u64> {
    Some(time::now_nanoseconds() + seconds * SECOND)
}

fn expect_report(report: EndpointId, what: &str) -> Result<(), String> {
    let message = ipc::receive_until(report, deadline(20))
        .map_err(|error| format!("no `{what}` report: {error:?}"))?;
    if message.bytes == what.as_bytes() {
        Ok(())
    } else {
        Err(format!(
            "expected `{what}`, got `{}`",
            String::from_utf8_lossy(&message.bytes)
        ))
    }
}

fn expect_exit(name: &str, thread: u32, code: i64) -> Result<(), String> {
    match proc::wait(thread, 30 * SECOND) {
        Some(ExitReason::Exited(found)) if found == code => Ok(()),
        other => Err(format!("{name}: expected exit({code}), got {other:?}")),
    }
}

/// Where a call made on another thread leaves its result.
type Outcome = Arc<Mutex<Option<Result<Vec<u8>, ipc::IpcError>>>>;

/// A call made on a kernel thread of its own, so a hang shows as a timeout.
fn call_elsewhere(
    name: &'static str,
    endpoint: EndpointId,
    request: &'static [u8],
    limit: Option<u64>,
) -> Result<Outcome, String> {
    let outcome = Arc::new(Mutex::new(None));
    let written = outcome.clone();
    sched::spawn(name, Priority::Normal, move || {
        let result = ipc::call(endpoint, request, limit);
        *written.lock() = Some(result);
    })
    .map_err(|error| format!("{error}"))?;
    Ok(outcome)
}

fn wait_outcome(outcome: &Outcome, seconds: u64) -> Option<Result<Vec<u8>, ipc::IpcError>> {
    let until = time::now_nanoseconds() + seconds * SECOND;
    loop {
        if let Some(result) = outcome.lock().take() {
            return Some(result);
        }
        if time::now_nanoseconds() > until {
            return None;
        }
        sched::sleep_for(1_000_000);
    }
}

/// Runs the scenario.
pub fn run(context: &BootContext) -> Result<(), String> {
    cella_kernel::irq::start();
    proc::initialise();
    // A Wasm module whose `init` logs text imitating kernel lines.
    let forger = super::archive_file(context, "modules/log-forger.wasm")?;
    crate::wasm_server::serve("log-forger", "log-forger", forger)
        .map_err(|error| format!("log-forger: {error:?}"))?;
    // Its `init` runs on its own thread: wait until its flood is over (the
    // dropped count stops moving).
    let until = time::now_nanoseconds() + 10 * SECOND;
    let mut dropped = 0;
    loop {
        sched::sleep_for(50_000_000);
        let now_dropped = cella_kernel::module_host::platform::lines_dropped("log-forger").0;
        if (now_dropped != 0 && now_dropped == dropped) || time::now_nanoseconds() > until {
            break;
        }
        dropped = now_dropped;
    }
    kprintln!("isolation: module log-forger: {dropped} warnings dropped");
    console_flood()?;
    let checksum = start(
        context,
        "checksum-native",
        ProcessGrant::ipc(&[], &["checksum"]),
    )?;
    let checksum_endpoint = super::wait_for_name("checksum")?;
    let expected = ipc::call(checksum_endpoint, b"hello", deadline(5))
        .map_err(|error| format!("checksum: {error:?}"))?;
    reply_rights(context, checksum_endpoint, &expected)?;
    server_death(context)?;
    kernel_memory(context)?;
    // The server the forger tried to disturb still answers, and was not faulted.
    let again = ipc::call(checksum_endpoint, b"hello", deadline(5))
        .map_err(|error| format!("checksum after the hostile processes: {error:?}"))?;
    let alive = proc::running().iter().any(|row| row.thread == checksum);
    kprintln!(
        "isolation: checksum still running: {alive}; same reply as before: {}",
        again == expected
    );
    if !alive || again != expected {
        return Err(String::from("the checksum server was disturbed"));
    }
    Ok(())
}

/// Messages to the log-forger module, each of which makes it log 64 lines:
/// its console limit holds what reaches the console, and counts the rest.
fn console_flood() -> Result<(), String> {
    const CALLS: u64 = 20;
    let endpoint = super::wait_for_name("log-forger")?;
    let (_, before) = cella_kernel::module_host::platform::lines_dropped("log-forger");
    let started = time::now_nanoseconds();
    for _ in 0..CALLS {
        ipc::call(endpoint, b"flood", deadline(10))
            .map_err(|error| format!("log-forger: {error:?}"))?;
    }
    let elapsed = time::now_nanoseconds() - started;
    let (_, after) = cella_kernel::module_host::platform::lines_dropped("log-forger");
    kprintln!(
        "isolation: console flood: {} lines in {} ms, {} held back",
        CALLS * 64,
        elapsed / 1_000_000,
        after - before
    );
    Ok(())
}

/// Points 1, 3, 4 and the call deadline: the `forger`.
fn reply_rights(
    context: &BootContext,
    checksum: EndpointId,
    expected: &[u8],
) -> Result<(), String> {
    let report =
        ipc::create_endpoint(Some("forger-report")).map_err(|error| format!("{error:?}"))?;
    let forger = start(
        context,
        "forger",
        ProcessGrant::ipc(&["forger-report"], &["forger"]),
    )?;
    // Calls to the checksum server while the forger answers blind tokens.
    let mut good = 0;
    let mut forged = 0;
    for _ in 0..200 {
        match ipc::call(checksum, b"hello", deadline(5)) {
            Ok(reply) if reply == expected => good += 1,
            Ok(reply) if reply == b"FORGED" => forged += 1,
            _ => {}
        }
    }
    kprintln!(
        "isolation: 200 calls to checksum during the blind forging: {good} right, {forged} forged"
    );
    expect_report(report, "ready")?;
    let inbox = ipc::lookup("forger").map_err(|error| format!("{error:?}"))?;
    let own = ipc::call(inbox, b"ping", deadline(5));
    kprintln!("isolation: the forger's answer to its own call: {own:?}");
    // A call received by this thread; its token leaks to the forger.
    let leaky = ipc::create_endpoint(Some("leaky")).map_err(|error| format!("{error:?}"))?;
    let outcome = call_elsewhere("leaky-caller", leaky, b"question", deadline(10))?;
    let message =
        ipc::receive_until(leaky, deadline(5)).map_err(|error| format!("leaky: {error:?}"))?;
    ipc::send(inbox, &message.token.to_le_bytes()).map_err(|error| format!("{error:?}"))?;
    expect_report(report, "tried")?;
    let answered = ipc::reply_from(sched::current(), message.token, b"the real answer");
    let received = wait_outcome(&outcome, 5);
    kprintln!(
        "isolation: the real receiver's reply after the forger's try: {answered:?}; the caller got {}",
        match &received {
            Some(Ok(bytes)) => format!("`{}`", String::from_utf8_lossy(bytes)),
            other => format!("{other:?}"),
        }
    );
    expect_report(report, "flooded")?;
    for line in cella_kernel::module_host::services::process_rows().lines() {
        kprintln!("isolation: ps: {line}");
    }
    ipc::send(inbox, b"bye").map_err(|error| format!("{error:?}"))?;
    expect_exit("forger", forger, 0)?;
    ipc::close_endpoint(report);
    ipc::close_endpoint(leaky);
    if forged != 0 || good != 200 {
        return Err(String::from(
            "calls to checksum were answered by the forger",
        ));
    }
    if own != Ok(b"ok".to_vec()) {
        return Err(String::from("the forger's own call was not answered `ok`"));
    }
    if answered.is_err() || received != Some(Ok(b"the real answer".to_vec())) {
        return Err(String::from("a leaked token let the forger answer"));
    }
    Ok(())
}

/// Point 5: a call whose server exits without answering fails, it does not hang.
fn server_death(context: &BootContext) -> Result<(), String> {
    let mortal = start(context, "mortal", ProcessGrant::ipc(&[], &["mortal"]))?;
    let endpoint = super::wait_for_name("mortal")?;
    let outcome = call_elsewhere("mortal-caller", endpoint, b"last words?", None)?;
    expect_exit("mortal", mortal, 0)?;
    let result = wait_outcome(&outcome, 5);
    kprintln!(
        "isolation: a call (no deadline) to a server that exited without answering: {result:?}"
    );
    match result {
        Some(Err(ipc::IpcError::Closed)) => Ok(()),
        None => Err(String::from(
            "the caller still waits 5 s after its server died",
        )),
        Some(other) => Err(format!("expected Closed, got {other:?}")),
    }
}

/// Points 2 and 6: the `hog`, with an allowance large enough to fill its
/// handle table (8 MiB), then with the default one.
fn kernel_memory(context: &BootContext) -> Result<(), String> {
    for (label, allowance) in [("8 MiB", 8 << 20), ("the default", 0)] {
        let report =
            ipc::create_endpoint(Some("hog-report")).map_err(|error| format!("{error:?}"))?;
        let before = mm::heap::statistics().used;
        let grant = ProcessGrant {
            grants: GrantSet::new().irq_line(5).endpoint("hog-report"),
            kernel_memory: allowance,
            ..ProcessGrant::ipc(&[], &["hog-name"])
        };
        let hog = start(context, "hog", grant)?;
        let mut heap = Vec::new();
        for step in ["start", "full", "after"] {
            let message = ipc::receive_until(report, deadline(60))
                .map_err(|error| format!("hog: no `{step}` call: {error:?}"))?;
            heap.push(mm::heap::statistics().used);
            if step == "after" {
                let name_left = ipc::lookup("hog-name").is_ok();
                kprintln!(
                    "isolation: hog ({label}): `hog-name` registered after the refused register: {name_left}"
                );
                if name_left {
                    return Err(String::from("a refused register left its name behind"));
                }
            }
            let _ = ipc::reply_from(sched::current(), message.token, b"ok");
        }
        expect_exit("hog", hog, 0)?;
        ipc::close_endpoint(report);
        let after_exit = mm::heap::statistics().used;
        let growth = heap[2] as i64 - heap[1] as i64;
        kprintln!(
            "isolation: hog ({label}): heap {} KiB before, {} KiB with the table full, {} KiB after the 200000 refused attaches ({growth:+} bytes), {} KiB after its exit",
            before / 1024,
            heap[1] / 1024,
            heap[2] / 1024,
            after_exit / 1024
        );
        if growth > 16 * 1024 {
            return Err(format!("the refused attaches leaked {growth} bytes"));
        }
        if after_exit > before + 16 * 1024 {
            return Err(format!(
                "the hog's exit left {} bytes behind",
                after_exit - before
            ));
        }
    }
    Ok(())
}
