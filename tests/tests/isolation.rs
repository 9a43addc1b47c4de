//! Hostile native processes may not reach past their grants (scenario
//! `isolation`), and the syscall fuzzer leaves the system healthy (scenario
//! `fuzz`). The hostile programs live in `userland/` and run only in these
//! test boots, never from the production manifest.

mod programs;

use cella_qemu_tests::BootRun;
use programs::{boot_with_programs, boot_with_programs_and};
use std::sync::OnceLock;

/// One boot of `isolation`, shared by the tests below (each checks one point).
fn isolation() -> &'static BootRun {
    static RUN: OnceLock<BootRun> = OnceLock::new();
    RUN.get_or_init(|| boot_with_programs("isolation"))
}

fn number_after(line: &str, marker: &str) -> Option<i64> {
    line.split(marker)
        .nth(1)?
        .split(|character: char| {
            !(character == '-' || character == '+' || character.is_ascii_digit())
        })
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_reply_right_belongs_to_the_receiver_of_the_call_alone() {
    let run = isolation();
    run.expect_kernel_success();
    run.expect_line("forger: blind replies accepted: 0 of 20000");
    run.expect_line(
        "isolation: 200 calls to checksum during the blind forging: 200 right, 0 forged",
    );
    // Its own call: answered once; the same token again is a bad token (-17).
    run.expect_line("forger: reply to its own call -> 0, the same token again -> -15");
    run.expect_line("the forger's answer to its own call: Ok([111, 107])");
    // A token leaked from another receiver answers nothing, and the real
    // receiver's reply still goes through.
    run.expect_line("forger: reply with another receiver's token -> -15");
    run.expect_line(
        "isolation: the real receiver's reply after the forger's try: Ok(()); the caller got `the real answer`",
    );
    run.expect_line("isolation: checksum still running: true; same reply as before: true");
}

#[test]
fn guest_log_text_cannot_start_a_line_or_imitate_the_kernel() {
    let run = isolation();
    run.expect_kernel_success();
    for line in run.lines() {
        let line = line.trim_start_matches('\r');
        let forged_elsewhere = line.contains("forged by") && !line.contains("forger");
        if line.starts_with("PANIC") || forged_elsewhere {
            run.fail(format!("a guest forged the line `{line}`"));
        }
    }
    run.expect_line(
        "[forger] forger: two lines in one\\nPANIC at kernel/src/forged.rs:1:1: forged by a process\\r\\nINFO  boot: forged by a process\\e[2J",
    );
    run.expect_line(
        "INFO  log-forger: a module line\\nPANIC at kernel/src/forged.rs:2:2: forged by a module\\nINFO  boot: forged by a module",
    );
}

#[test]
fn refused_calls_are_rate_limited_and_counted_in_ps() {
    let run = isolation();
    run.expect_kernel_success();
    run.expect_line("forger: 2000 of 2000 lookups refused");
    let warnings = run
        .lines()
        .filter(|line| line.contains("process forger: refused lookup"))
        .count();
    if warnings == 0 || warnings > 20 {
        run.fail(format!(
            "{warnings} refusal lines for 2000 refusals (want 1..=20)"
        ));
    }
    let row = run.expect_line("isolation: ps: forger");
    let dropped = number_after(row, "KiB, ").unwrap_or(-1);
    if dropped as usize + warnings != 2000 {
        run.fail(format!(
            "`{row}`: {dropped} dropped + {warnings} printed is not the 2000 refusals"
        ));
    }
}

#[test]
fn a_process_console_lines_are_rate_limited_and_counted_in_ps() {
    let run = isolation();
    run.expect_kernel_success();
    let printed = run
        .lines()
        .filter(|line| line.starts_with("[forger] forger: a flood of lines"))
        .count() as i64;
    let row = run.expect_line("isolation: ps: forger");
    let held_back = number_after(row, "dropped, ").unwrap_or(-1);
    // 200 lines a second: the flood of 1,000 lines takes far less than a
    // second, so it may span two windows at most.
    if held_back <= 0 || printed + held_back != 1000 || printed > 400 {
        run.fail(format!(
            "`{row}`: {printed} flood lines printed and {held_back} held back of 1000"
        ));
    }
    // The lines after the pause are printed again.
    run.expect_line("forger: call with a 50 ms deadline nobody answers");
}

#[test]
fn a_modules_warnings_are_rate_limited_and_counted() {
    let run = isolation();
    run.expect_kernel_success();
    let printed = run
        .lines()
        .filter(|line| line.starts_with("WARN  log-forger: a flood of warnings"))
        .count();
    let line = run.expect_line("isolation: module log-forger: ");
    let dropped = number_after(line, "log-forger: ").unwrap_or(-1);
    if printed == 0 || printed > 10 || printed as i64 + dropped != 60 {
        run.fail(format!(
            "`{line}`: {printed} printed and {dropped} dropped of 60 warnings"
        ));
    }
}

#[test]
fn a_modules_console_lines_are_rate_limited_and_counted() {
    let run = isolation();
    run.expect_kernel_success();
    let printed = run
        .lines()
        .filter(|line| line.starts_with("INFO  log-forger: a flood of lines"))
        .count() as i64;
    let line = run.expect_line("isolation: console flood: ");
    let sent = number_after(line, "flood: ").unwrap_or(-1);
    let milliseconds = number_after(line, "lines in ").unwrap_or(-1);
    let held_back = number_after(line, "ms, ").unwrap_or(-1);
    // 200 lines per second and module: the flood spans at most this many
    // windows (one more for the window it started in).
    let most = 200 * (milliseconds / 1000 + 2);
    if sent != 1280 || held_back <= 0 || printed + held_back != sent || printed > most {
        run.fail(format!(
            "`{line}`: {printed} lines printed, {held_back} held back of {sent}; at most {most} may be printed"
        ));
    }
    if !run.lines().any(|line| {
        line.starts_with("INFO  log-forger: a flood of lines (")
            && line.ends_with("earlier lines not shown)")
    }) {
        // The first line of a new window says how many were held back, unless
        // the flood ended inside its first window.
        if milliseconds >= 1000 {
            run.fail("no line said how many lines were held back before it");
        }
    }
}

#[test]
fn a_call_ends_at_its_deadline_or_when_its_server_dies() {
    let run = isolation();
    run.expect_kernel_success();
    let line = run.expect_line("forger: call with a 50 ms deadline nobody answers -> -17 after ");
    let waited = number_after(line, " after ").unwrap_or(-1);
    if !(50..2000).contains(&waited) {
        run.fail(format!("`{line}`: waited {waited} ms for a 50 ms deadline"));
    }
    run.expect_order(
        "mortal: received a call (token set: true); exiting without a reply",
        "a call (no deadline) to a server that exited without answering: Some(Err(Closed))",
    );
}

#[test]
fn kernel_memory_is_charged_to_the_process_and_failed_calls_leak_nothing() {
    let run = isolation();
    run.expect_kernel_success();
    // With room to fill its handle table: 255 endpoints, then the table is full
    // (`Exhausted`, -8).
    run.expect_line("hog: irq_attach until refused: 255 endpoints, then -8");
    run.expect_line("hog: 200000 irq_attach with the table full: 200000 refused (last -8)");
    // With the default allowance: refused for memory (`Exhausted`, -8) long
    // before that.
    let line = run.expect_line("hog: irq_attach until refused: 1");
    if !line.ends_with("endpoints, then -8") {
        run.fail(format!(
            "`{line}`: the default allowance did not refuse with -8"
        ));
    }
    run.expect_line("hog: 200000 irq_attach with the table full: 200000 refused (last -8)");
    for label in ["8 MiB", "the default"] {
        let line = run.expect_line(&format!("isolation: hog ({label}): heap "));
        let growth =
            number_after(line, "KiB after the 200000 refused attaches (").unwrap_or(i64::MAX);
        if growth > 16 * 1024 {
            run.fail(format!("`{line}`: the heap grew by {growth} bytes"));
        }
    }
}

#[test]
fn register_with_a_full_handle_table_leaves_no_name_behind() {
    let run = isolation();
    run.expect_kernel_success();
    // Once with the table full, once with the allowance spent: both `Exhausted`.
    let refused = run
        .lines()
        .filter(|line| line.contains("hog: register with the table full -> -8"))
        .count();
    if refused != 2 {
        run.fail(format!("{refused} refused registers with -8, want 2"));
    }
    run.expect_line(
        "isolation: hog (8 MiB): `hog-name` registered after the refused register: false",
    );
    run.expect_line(
        "isolation: hog (the default): `hog-name` registered after the refused register: false",
    );
}

/// The fuzzer's size: `CELLA_FUZZ_CALLS` calls for each of the
/// comma-separated `CELLA_FUZZ_SEEDS` (the long mode; raise
/// `CELLA_TEST_TIMEOUT` with it), else the CI size below.
fn fuzz_plan() -> (u64, Vec<String>) {
    let calls = std::env::var("CELLA_FUZZ_CALLS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let seeds = std::env::var("CELLA_FUZZ_SEEDS")
        .unwrap_or_else(|_| String::from("0x5eed0001,0x5eed0002"))
        .split(',')
        .map(str::to_owned)
        .collect();
    (calls, seeds)
}

#[test]
fn the_syscall_fuzzer_leaves_the_system_healthy() {
    let (calls, seeds) = fuzz_plan();
    let run = boot_with_programs_and(
        "fuzz",
        &format!("fuzz_calls={calls} fuzz_seeds={}", seeds.join(",")),
    );
    run.expect_kernel_success();
    let tallies: Vec<&str> = run
        .lines()
        .filter(|line| line.contains("fuzz: seed 0x") && line.contains(" calls in "))
        .collect();
    if tallies.len() != seeds.len() {
        run.fail(format!(
            "{} of {} fuzz runs reported a tally",
            tallies.len(),
            seeds.len()
        ));
    }
    for line in &tallies {
        if !line.contains(&format!(": {calls} calls in ")) || !line.ends_with("unexpected 0") {
            run.fail(format!(
                "`{line}`: not {calls} calls, or answers outside the ABI's error codes"
            ));
        }
    }
    let right = run
        .lines()
        .filter(|line| line.contains("fuzz: call checksum hello after the run: right reply: true"))
        .count();
    if right != seeds.len() {
        run.fail(format!(
            "checksum answered right after {right} of {} runs",
            seeds.len()
        ));
    }
    run.expect_line("fuzz: ps: checksum-native");
    run.expect_line("fuzz: mem: heap ");
    let total = run.expect_line(&format!("fuzz: {} seeds x {calls} calls in ", seeds.len()));
    // The figures, for `--nocapture` (docs/reliability.md quotes a long run).
    for line in run
        .lines()
        .filter(|line| line.contains("fuzz: seed 0x") || line.starts_with("fuzz: mem:"))
    {
        println!("{line}");
    }
    println!("{total}\nQEMU wall time {:.1} s", run.elapsed.as_secs_f64());
}
