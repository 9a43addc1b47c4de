//! `test=faults`: the fault-injection campaign, MINIX 3 style. Fault after
//! fault, a mutant of a running driver (made by `cella-faults` from the
//! driver's own `.wasm`, one fault of one kind at a seeded site) is hot-swapped
//! in while a workload runs through the drivers ([`workload`]); if the fault
//! has not shown itself, the faulty instance is restarted so that its `init`
//! runs too. Then the good version comes back: swapped in over a faulty
//! instance that still runs, or started fresh in place of one that is down.
//! For each fault the campaign records how it was detected, how the driver
//! came back and how long that took, and whether anything outside the driver
//! was touched: another module's fault, or a wrong or missing answer from
//! another driver. Console lines (`fault-echo`) carry checksums the host
//! checks. The table is printed at the end ([`tally`]).
//!
//! Command line: `faults=N` (default 300), `fault_seed=S` (default 1),
//! `fault_drivers=a,b` (default the four drivers), `fault_report=K` (print
//! the table every K faults as well), `fault_lines=1` (one line per fault).

mod pci_state;
mod tally;
mod workload;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_faults::{FaultKind, InjectError};
use cella_kernel::boot::BootContext;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;
use cella_kernel::time;
use cella_wasm_host::LoadedModule;
use tally::{Detection, Outcome, Recovery, Tally};
use workload::{Answer, Answers, Expected};

const DEFAULT_DRIVERS: [&str; 4] = ["uart16550", "ps2-keyboard", "cmos-rtc", "pci"];
/// Faults before the first heap reading (worker threads, queues reach their size).
const WARM_UP_FAULTS: u64 = 44;
/// Heap growth tolerated over the campaign (allocator fragmentation).
const TOLERATED_GROWTH_BYTES: usize = 128 * 1024;
/// Faults whose collateral is described line by line (the rest are counted).
const TROUBLES_SHOWN: u32 = 50;

/// A driver under test: where it is and its good version.
struct Driver {
    name: String,
    index: usize,
    bytes: &'static [u8],
    good: LoadedModule,
    /// It exports `save_state`: versions are hot-swapped with the state.
    /// Without it a version is replaced by a restart into it (its `init`
    /// builds its state afresh).
    swappable: bool,
}

fn driver(system: &System, name: &str) -> Result<Driver, String> {
    let index = system
        .find(name)
        .ok_or_else(|| format!("no module {name} in the system manifest"))?;
    let slot = system.module(index);
    let good = slot
        .module
        .clone()
        .ok_or_else(|| format!("{name} was never loaded"))?;
    let bytes = match system.boot_archive().find(&slot.plan.file) {
        Ok(Some(entry)) => entry.data,
        _ => return Err(format!("{} is not in the boot archive", slot.plan.file)),
    };
    if !slot.is_running() {
        return Err(format!("{name} is not running"));
    }
    Ok(Driver {
        name: String::from(name),
        index,
        bytes,
        good,
        swappable: cella_faults::exports_function(bytes, "save_state"),
    })
}

fn setting(context: &BootContext, key: &str, default: u64) -> u64 {
    context
        .command_line
        .get(key)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Fault records since `since`: (time, module, reason).
fn faults_since(system: &System, since: u64) -> Vec<(u64, String, String)> {
    system
        .faults()
        .into_iter()
        .filter(|record| record.time >= since)
        .map(|record| (record.time, record.module, record.reason))
        .collect()
}

/// Counts what the answers say about the target and the others.
fn judge(answers: &Answers, target: &str, outcome: &mut Outcome) {
    for (driver, answer) in answers {
        match (*driver == target, answer) {
            (_, Answer::Right) => {}
            (true, Answer::Wrong) => outcome.wrong_inside += 1,
            (true, Answer::Missing) => {}
            (false, _) => {
                outcome.corrupted_elsewhere += 1;
                outcome.trouble.push(format!(
                    "{driver} answered {answer:?} while {target} was faulty"
                ));
            }
        }
    }
}

/// Makes `module` the driver's version and starts it (a fresh instance).
fn restart_into(system: &mut System, driver: &Driver, module: LoadedModule) -> Result<(), String> {
    system.replace_loaded_module(driver.index, module);
    system.restart_by_hand(&driver.name).map(|_| ())
}

/// Puts the faulty version in: a hot swap with the state, or for a driver
/// without `save_state` a restart into it. The error says why it was refused.
fn install_faulty(system: &mut System, driver: &Driver, bytes: Vec<u8>) -> Result<(), String> {
    if driver.swappable {
        return system.swap_to_bytes(driver.index, bytes).map(|_| ());
    }
    let plan = system.module(driver.index).plan.clone();
    let module = system.load_module_bytes(&plan, &bytes)?;
    restart_into(system, driver, module)
}

/// Brings the good version back; how.
fn recover(system: &mut System, driver: &Driver) -> Recovery {
    system.wait_until_home(driver.index);
    if driver.swappable
        && system.module(driver.index).is_running()
        && system
            .swap_to_bytes(driver.index, driver.bytes.to_vec())
            .is_ok()
    {
        return Recovery::SwapBack;
    }
    // Down, held, stateless, or its state refused by the good version: start the good one fresh.
    match restart_into(system, driver, driver.good.clone()) {
        Ok(()) => Recovery::Restart,
        Err(_) => Recovery::NotBack,
    }
}

/// Lets console output leave through the console driver before a fault goes
/// into it: lines written in earlier rounds must not die in its queue and be
/// counted against the driver that was under fault then. Runs the event loop
/// until the driver's inbox is empty and nothing happened for 5 ms (at most 200 ms).
fn drain_console(system: &mut System, driver: &Driver) {
    let limit = time::now_nanoseconds() + 200_000_000;
    let mut quiet_since = time::now_nanoseconds();
    loop {
        let now = time::now_nanoseconds();
        if now >= limit
            || (system.module(driver.index).inbox.is_empty() && now - quiet_since >= 5_000_000)
        {
            return;
        }
        if system.step() {
            quiet_since = time::now_nanoseconds();
        } else {
            system.wait_for_work();
        }
    }
}

/// What became of one attempt.
enum Attempt {
    Fault(Outcome),
    /// The kind has no site in this driver.
    NoSite,
    /// The running good version could not hand its state over (its own
    /// `save_state` refused, e.g. a transmit queue over the state limit):
    /// the fault never went in; not counted.
    NotHandedOver,
}

/// One fault: inject, swap in, exercise, recover, check.
fn one_fault(
    system: &mut System,
    driver: &Driver,
    kind: FaultKind,
    seed: u64,
    number: u64,
    expected: &Expected,
    devices: &pci_state::PciState,
) -> Result<Attempt, InjectError> {
    let injection = match cella_faults::inject(driver.bytes, kind, seed) {
        Ok(injection) => injection,
        Err(InjectError::NotApplicable) => return Ok(Attempt::NoSite),
        Err(error) => return Err(error),
    };
    let target = driver.name.as_str();
    if system.serves_console_output(driver.index) {
        drain_console(system, driver);
    }
    let started = time::now_nanoseconds();
    let mut outcome = Outcome {
        detection: Detection::None,
        recovery: Recovery::Kept,
        recovery_nanoseconds: 0,
        wrong_inside: 0,
        other_faulted: 0,
        corrupted_elsewhere: 0,
        devices_changed: 0,
        trouble: Vec::new(),
    };
    let mut detected_at = None;
    match install_faulty(system, driver, injection.bytes) {
        Err(why) if why.contains("failed at the save step") => {
            log::info!("faults: {target} could not hand over its state: {why}");
            return Ok(Attempt::NotHandedOver);
        }
        Err(why) => {
            log::info!("faults: {target} refused its faulty version: {why}");
            outcome.detection = Detection::from_reason(&why);
            detected_at = Some(time::now_nanoseconds());
        }
        Ok(_) => {
            let round = workload::start(system, number, target);
            let answers = workload::finish(system, round, target, expected);
            judge(&answers, target, &mut outcome);
            let mut first = faults_since(system, started)
                .into_iter()
                .find(|(_, module, _)| module == target);
            if first.is_none() && driver.swappable {
                // Not shown yet: run the faulty version's `init` too.
                let _ = system.restart_by_hand(target);
                let round = workload::start(system, number, target);
                let answers = workload::finish(system, round, target, expected);
                judge(&answers, target, &mut outcome);
                first = faults_since(system, started)
                    .into_iter()
                    .find(|(_, module, _)| module == target);
            }
            if let Some((at, _, reason)) = first {
                outcome.detection = Detection::from_reason(&reason);
                detected_at = Some(at);
            }
            // An undetected fault's recovery counts from the campaign's decision to recover.
            detected_at.get_or_insert(time::now_nanoseconds());
            outcome.recovery = recover(system, driver);
        }
    }
    // The good version must run and answer.
    let round = workload::requests(system);
    let answers = workload::finish(system, round, "", expected);
    let answered = answers.iter().all(|(_, answer)| *answer == Answer::Right);
    if !system.module(driver.index).is_running() || !answered {
        outcome.recovery = Recovery::NotBack;
        outcome.trouble.push(format!(
            "{target} not back: {}; answers after recovery {answers:?}",
            system.module(driver.index).state.name()
        ));
    }
    if !answered {
        // Whichever driver did not answer: collateral unless it is the target.
        judge(&answers, target, &mut outcome);
    }
    outcome.recovery_nanoseconds =
        time::now_nanoseconds().saturating_sub(detected_at.unwrap_or(started));
    // Device state the fault left behind (the driver is idle now).
    system.wait_until_all_home();
    outcome.devices_changed = devices.restore_into_changed(&pci_state::read_all());
    if outcome.devices_changed > 0 {
        outcome.trouble.push(format!(
            "{} PCI functions' registers changed (written back)",
            outcome.devices_changed
        ));
    }
    for (_, module, reason) in faults_since(system, started)
        .iter()
        .filter(|(_, module, _)| module != target)
    {
        outcome.other_faulted += 1;
        outcome.trouble.push(format!("{module} faulted: {reason}"));
    }
    Ok(Attempt::Fault(outcome))
}

fn heap_in_use(system: &mut System) -> usize {
    system.settle();
    let used = cella_kernel::mm::heap::statistics().used;
    system.reroute_console_output();
    used
}

/// Runs the campaign and prints its table.
pub fn run(system: &mut System, context: &BootContext) -> Result<(), String> {
    let faults = setting(context, "faults", 300);
    let base_seed = setting(context, "fault_seed", 1);
    let report_every = setting(context, "fault_report", 0);
    let fault_lines = setting(context, "fault_lines", 0) == 1;
    let names: Vec<String> = match context.command_line.get("fault_drivers") {
        Some(list) => list.split(',').map(String::from).collect(),
        None => DEFAULT_DRIVERS
            .iter()
            .map(|name| String::from(*name))
            .collect(),
    };
    system.run_for(200_000_000);
    let drivers = names
        .iter()
        .map(|name| driver(system, name))
        .collect::<Result<Vec<Driver>, String>>()?;
    let first = workload::pci_first_function(system)?;
    let expected = Expected {
        pci_identity: workload::pci_identity(&first)
            .ok_or_else(|| String::from("the pci driver's answer is not a function"))?,
    };
    let devices = pci_state::read_all();
    kprintln!(
        "faults: {faults} faults into {} ({} kinds), seed {base_seed}",
        names.join(", "),
        FaultKind::ALL.len()
    );
    let mut tally = Tally::new(&names);
    let started = time::now_nanoseconds();
    let mut heap_before = None;
    let mut number = 0u64;
    let mut attempt = 0u64;
    let mut troubles_shown = 0;
    while number < faults {
        // Every kind has a site in some driver, and a refused hand-over is rare:
        // many more attempts than faults mean the campaign cannot make progress.
        if attempt > faults.saturating_mul(4).saturating_add(1000) {
            return Err(format!(
                "only {number} faults made in {attempt} attempts ({} without a site, {} not handed over)",
                tally.total.no_site, tally.not_handed_over
            ));
        }
        if number == WARM_UP_FAULTS.min(faults / 2) && heap_before.is_none() {
            heap_before = Some(heap_in_use(system));
        }
        let which = (attempt % drivers.len() as u64) as usize;
        let kind_index = ((attempt / drivers.len() as u64) % FaultKind::ALL.len() as u64) as usize;
        let seed = base_seed.wrapping_mul(0x1_0000_0001).wrapping_add(attempt);
        attempt += 1;
        let kind = FaultKind::ALL[kind_index];
        match one_fault(
            system,
            &drivers[which],
            kind,
            seed,
            number,
            &expected,
            &devices,
        ) {
            Ok(Attempt::Fault(outcome)) => {
                if !outcome.trouble.is_empty() && troubles_shown < TROUBLES_SHOWN {
                    troubles_shown += 1;
                    kprintln!(
                        "faults: fault {number} ({kind} in {}, seed {seed}): {}",
                        drivers[which].name,
                        outcome.trouble.join("; ")
                    );
                }
                if fault_lines {
                    kprintln!(
                        "fault {number}: {kind} in {} (seed {seed}): detected by {}, {} in {} us, collateral: {}",
                        drivers[which].name,
                        outcome.detection.name(),
                        outcome.recovery.name(),
                        outcome.recovery_nanoseconds / 1000,
                        if outcome.trouble.is_empty() {
                            String::from("none")
                        } else {
                            outcome.trouble.join("; ")
                        }
                    );
                }
                tally.count(kind_index, which, &outcome);
                number += 1;
                if report_every > 0 && number.is_multiple_of(report_every) {
                    // Written by the kernel itself, not left queued in the UART driver
                    // that the next fault may take down.
                    system.settle();
                    kprintln!(
                        "faults: {number} done in {} s",
                        (time::now_nanoseconds() - started) / 1_000_000_000
                    );
                    tally.print();
                    system.reroute_console_output();
                }
            }
            Ok(Attempt::NoSite) => tally.no_site(kind_index, which),
            Ok(Attempt::NotHandedOver) => {
                tally.not_handed_over += 1;
                // Let its queue drain before the next attempt.
                system.run_for(20_000_000);
            }
            Err(error) => {
                tally.injector_errors += 1;
                kprintln!(
                    "faults: the injector failed on {} ({kind}, seed {seed}): {error}",
                    drivers[which].name
                );
            }
        }
    }
    let seconds = (time::now_nanoseconds() - started) / 1_000_000_000;
    let heap_after = heap_in_use(system);
    // The kernel writes the table itself: nothing waits in the driver at exit.
    system.settle();
    let heap_before = heap_before.unwrap_or(heap_after);
    tally.print();
    let total = &tally.total;
    let back = total.injected - total.not_back;
    kprintln!(
        "faults: {} faults into {} drivers in {seconds} s: {back} of {} drivers back, {} not back; {} faults of other modules; {} wrong or missing answers from other drivers; {} wrong answers from the faulty driver; {} PCI functions' registers changed by a fault (written back); {} injector errors; {} attempts not counted (the good version could not hand over its state); heap {} KiB after warm-up, {} KiB after ({} bytes more)",
        total.injected,
        drivers.len(),
        total.injected,
        total.not_back,
        total.other_faulted,
        total.corrupted_elsewhere,
        total.wrong_inside,
        total.devices_changed,
        tally.injector_errors,
        tally.not_handed_over,
        heap_before / 1024,
        heap_after / 1024,
        heap_after as i64 - heap_before as i64
    );
    let mut problems = Vec::new();
    if total.not_back > 0 {
        problems.push(format!("{} drivers not back", total.not_back));
    }
    if total.other_faulted > 0 {
        problems.push(format!("{} faults of other modules", total.other_faulted));
    }
    if total.corrupted_elsewhere > 0 {
        problems.push(format!(
            "{} wrong or missing answers from other drivers",
            total.corrupted_elsewhere
        ));
    }
    if tally.injector_errors > 0 {
        problems.push(format!("{} injector errors", tally.injector_errors));
    }
    if heap_after.saturating_sub(heap_before) > TOLERATED_GROWTH_BYTES {
        problems.push(format!(
            "the heap grew by {} bytes",
            heap_after - heap_before
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}
