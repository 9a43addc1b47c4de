//! The fault-injection campaign, CI-sized: 300 mutants of the running drivers (uart16550,
//! ps2-keyboard, cmos-rtc, pci; every fault kind) hot-swapped in under a workload. Every
//! driver comes back, no other module faults, no other driver answers wrongly, the kernel
//! heap ends where it was, and no console line is damaged outside the faulty driver.

use cella::fault_echo;
use cella_qemu_tests::{BootRequest, boot};

const FAULTS: u64 = 300;

#[test]
fn three_hundred_faults_leave_the_system_whole() {
    let run = boot(BootRequest {
        cmdline: format!("test=faults faults={FAULTS} fault_seed=1"),
        ..BootRequest::scenario("faults")
    });
    run.expect_kernel_success();
    for line in run.lines().filter(|line| line.starts_with("faults")) {
        println!("{line}");
    }
    let summary = run.expect_line(&format!("faults: {FAULTS} faults into 4 drivers"));
    for needle in [
        &format!("{FAULTS} of {FAULTS} drivers back, 0 not back") as &str,
        "; 0 faults of other modules;",
        "; 0 wrong or missing answers from other drivers;",
        "; 0 injector errors;",
    ] {
        if !summary.contains(needle) {
            run.fail(format!("expected `{needle}` in the summary"));
        }
    }
    // Every kind went into some driver.
    for kind in [
        "destination",
        "source",
        "pointer",
        "delete",
        "branch",
        "loop",
        "trap",
        "argument",
        "result",
        "irq-ack",
        "state",
    ] {
        let row = run.expect_line(&format!("faults-table: {kind} "));
        let injected: u64 = row
            .split_whitespace()
            .nth(2)
            .and_then(|count| count.parse().ok())
            .unwrap_or(0);
        if injected == 0 {
            run.fail(format!("no fault of kind {kind} was injected: {row}"));
        }
    }
    // Faults were detected, by more than one mechanism.
    let total = run.expect_line("faults-table: total ");
    let counts: Vec<u64> = total
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    // faults, nosite, trap, fuel, ...
    if counts.len() < 6 || counts[2] == 0 || counts[3] == 0 {
        run.fail(format!(
            "expected traps and fuel exhaustion among the detections: {total}"
        ));
    }
    run.expect_line("scenario faults: passed");
    let echo = fault_echo::check(&run.serial);
    println!("{}", echo.summary());
    if !echo.passed() {
        run.fail(format!(
            "console lines damaged outside the faulty driver: {}",
            echo.summary()
        ));
    }
}
