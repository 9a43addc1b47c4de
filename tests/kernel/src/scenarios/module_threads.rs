//! `test=module_threads`: a module of the system manifest that is busy inside
//! its fuel budget does not stop the other modules, threads or processes.
//!
//! Two modules from the processes test archive, under a 50 M fuel budget per
//! event: `busy` (modules/checksum: a 64 KiB CRC-32 per `crc` request, tens of
//! milliseconds in the interpreter) and `rtc` (the cmos-rtc driver). While
//! `busy` handles one CRC request on its worker thread, 20 requests wait for
//! `rtc`; the event loop hands them to `rtc`'s worker one at a time, and a
//! counting kernel thread counts. The four threads share the CPU in 10 ms
//! slices, so `rtc` answers a few of them during the CRC, the counter
//! counts, and `rtc` answers the rest afterwards. With one thread for all
//! modules, `rtc` could answer none until the CRC was done.

use alloc::format;
use alloc::string::String;
use cella_kernel::boot::BootContext;
use cella_kernel::system_manifest::SystemManifest;
use cella_kernel::{irq, kprintln, time};
use cella_wasm_host::Limits;

const MANIFEST: &str = "cella-system 1
module busy modules/checksum.wasm
serve busy
module rtc modules/cmos-rtc.wasm
serve rtc
grant port 0x70 2
";
const ROUNDS: usize = 3;
const RTC_REQUESTS: u64 = 20;
/// Two scheduler slices: an event this long was preempted at least once.
const LONG_EVENT: u64 = 20_000_000;

pub fn run(context: &BootContext) -> Result<(), String> {
    irq::start();
    let archive = context
        .archive
        .ok_or_else(|| String::from("no boot archive"))?;
    let manifest = SystemManifest::parse(MANIFEST).map_err(|error| format!("{error:?}"))?;
    let limits = Limits {
        fuel_per_event: 50_000_000,
        ..Limits::default()
    };
    let mut system =
        cella_kernel::module_host::services::boot_with_limits(&manifest, archive, limits);
    let (Some(busy), Some(rtc)) = (system.find("busy"), system.find("rtc")) else {
        return Err(String::from("the modules are not in the table"));
    };
    if !system.modules_down().is_empty() {
        return Err(format!("modules down: {:?}", system.modules_down()));
    }
    let counter = super::counter::CountingThread::start()?;
    // Let the boot's own request to `rtc` (the kernel asks it the time) finish.
    super::run_until(&mut system, |system| {
        !system.module(rtc).away && system.module(rtc).inbox.is_empty()
    })?;
    let mut long_events = 0;
    for round in 0..ROUNDS {
        let busy_before = system.module(busy).events_handled;
        let rtc_before = system.module(rtc).events_handled;
        let replies_before = system.probe_replies();
        let counted_before = counter.count();
        if !system.send_probe("busy", b"crc") {
            return Err(String::from("no server for `busy`"));
        }
        super::run_until(&mut system, |system| system.module(busy).away)?;
        let started = time::now_nanoseconds();
        for _ in 0..RTC_REQUESTS {
            system.send_probe("rtc", b"time");
        }
        super::run_until(&mut system, |system| {
            system.module(busy).events_handled > busy_before
        })?;
        let took = time::now_nanoseconds() - started;
        let rtc_during = system.module(rtc).events_handled - rtc_before;
        let counted = counter.count() - counted_before;
        super::run_until(&mut system, |system| {
            system.probe_replies() >= replies_before + 1 + RTC_REQUESTS
        })?;
        kprintln!(
            "module_threads: round {round}: busy's CRC event took {} ms; meanwhile rtc handled {rtc_during} of {RTC_REQUESTS} requests and the counter thread counted {counted}",
            took / 1_000_000
        );
        if took > LONG_EVENT {
            long_events += 1;
            if rtc_during == 0 || counted == 0 {
                return Err(format!(
                    "round {round}: during a {} ms event of busy, rtc handled {rtc_during} of {RTC_REQUESTS}, the counter counted {counted}",
                    took / 1_000_000
                ));
            }
        }
    }
    drop(counter);
    if long_events == 0 {
        return Err(String::from(
            "no CRC event lasted two slices: nothing was shown",
        ));
    }
    kprintln!(
        "module_threads: {long_events} of {ROUNDS} busy events lasted over two slices; during each, rtc answered requests and the counter thread ran"
    );
    Ok(())
}
