//! A real driver built both ways, and the SDK's native backend with devices:
//! `drivers-wasm/cmos-rtc` as a Wasm server and as a native process answer
//! the same time in the same format; a process whose manifest asks for more
//! than its grant does not start; `sdk-probe` (an SDK module in `userland/`)
//! gets port refusals as the Wasm host gives them, reads MMIO, takes IRQs
//! and timers as events and reports with `ipc_send`.

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::rtc;
use cella_kernel::boot::BootContext;
use cella_kernel::grants::GrantSet;
use cella_kernel::proc::{self, ExitReason, ProcessGrant};
use cella_kernel::{ipc, irq, kprintln, time};
use cella_wasm_host::Grant;

/// A `time` reply as a person reads it.
fn shown(reply: &[u8]) -> String {
    match rtc::time::reply(reply) {
        Ok(Ok(time)) => format!("{time}"),
        Ok(Err(error)) => format!("error: {error}"),
        Err(error) => format!("{} bytes that are not a time ({error})", reply.len()),
    }
}

const TIMEOUT_NS: u64 = 10_000_000_000;
const ROUNDS: usize = 20;
/// Exit code of a native module whose manifest exceeds its grant (`cella_sdk::native`).
const NOT_GRANTED_EXIT: i64 = 71;

/// Seconds since 1970 of the time a `time` reply of the `rtc` interface
/// carries, if it is one.
fn epoch_seconds(reply: &[u8]) -> Option<i64> {
    let time = rtc::time::reply(reply).ok()?.ok()?;
    let (year, month, day) = (
        i64::from(time.year),
        i64::from(time.month),
        i64::from(time.day),
    );
    let (hour, minute, second) = (
        i64::from(time.hour),
        i64::from(time.minute),
        i64::from(time.second),
    );
    // Days from civil (Howard Hinnant's algorithm).
    let shifted = if month <= 2 { year - 1 } else { year };
    let era = shifted.div_euclid(400);
    let year_of_era = shifted - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn rtc_both_ways(context: &BootContext) -> Result<(), String> {
    // Without its port grant the native build refuses to start, as the Wasm
    // loader refuses a module whose request exceeds the grant.
    let refused = start(context, "cmos-rtc-native", ProcessGrant::ipc(&[], &["rtc"]))?;
    match proc::wait(refused, TIMEOUT_NS) {
        Some(ExitReason::Exited(NOT_GRANTED_EXIT)) => {
            kprintln!("native_drivers: cmos-rtc-native without a port grant did not start");
        }
        other => return Err(format!("ungranted cmos-rtc-native: {other:?}")),
    }
    let wasm = super::archive_file(context, "modules/cmos-rtc.wasm")?;
    crate::wasm_server::serve_granted(
        "rtc-wasm",
        "cmos-rtc",
        wasm,
        Grant::new().port_range(0x70, 2),
    )
    .map_err(|error| format!("{error:?}"))?;
    let grant = ProcessGrant {
        grants: GrantSet::new().port_range(0x70, 2),
        ..ProcessGrant::ipc(&[], &["rtc"])
    };
    start(context, "cmos-rtc-native", grant)?;
    let native = super::wait_for_name("rtc")?;
    let wasm = super::wait_for_name("rtc-wasm")?;
    let deadline = time::now_nanoseconds() + TIMEOUT_NS;
    let mut matching = 0;
    let mut last = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let from_native = ipc::call(native, b"time", Some(deadline));
        let from_wasm = ipc::call(wasm, b"time", Some(deadline));
        match (&from_native, &from_wasm) {
            (Ok(native), Ok(wasm)) => {
                // Consecutive readings of one clock: at most a second apart.
                match (epoch_seconds(native), epoch_seconds(wasm)) {
                    (Some(a), Some(b)) if (a - b).abs() <= 1 => matching += 1,
                    _ => kprintln!(
                        "native_drivers: round {round}: native {}, wasm {}",
                        shown(native),
                        shown(wasm)
                    ),
                }
                last = (native.clone(), wasm.clone());
            }
            _ => kprintln!(
                "native_drivers: round {round}: native {from_native:?}, wasm {from_wasm:?}"
            ),
        }
    }
    kprintln!(
        "native_drivers: rtc native {} wasm {}",
        shown(&last.0),
        shown(&last.1)
    );
    kprintln!(
        "native_drivers: {ROUNDS} requests to both cmos-rtc builds, matching answers: {matching}"
    );
    if matching != ROUNDS {
        return Err(String::from("the two cmos-rtc builds answered differently"));
    }
    Ok(())
}

fn sdk_probe(context: &BootContext) -> Result<(), String> {
    let report =
        ipc::create_endpoint(Some("probe-report")).map_err(|error| format!("{error:?}"))?;
    let grant = ProcessGrant {
        grants: GrantSet::new()
            .port_range(0x70, 2)
            .mmio_region(0xfec0_0000, 0x1000)
            .irq_line(8)
            .endpoint("probe-report"),
        ..ProcessGrant::ipc(&[], &["sdk-probe"])
    };
    start(context, "sdk-probe", grant)?;
    let message = ipc::receive_until(report, Some(time::now_nanoseconds() + TIMEOUT_NS))
        .map_err(|error| format!("no report from sdk-probe: {error:?}"))?;
    let text = String::from_utf8_lossy(&message.bytes);
    kprintln!("native_drivers: sdk-probe: {text}");
    let expected = ["refusals as the Wasm host", "10 IRQs", "5 timers, 0 early"];
    if let Some(missing) = expected.iter().find(|part| !text.contains(*part)) {
        return Err(format!("sdk-probe's report lacks `{missing}`"));
    }
    Ok(())
}

/// The scenario `native_drivers`.
pub fn run(context: &BootContext) -> Result<(), String> {
    irq::start();
    proc::initialise();
    rtc_both_ways(context)?;
    sdk_probe(context)
}
