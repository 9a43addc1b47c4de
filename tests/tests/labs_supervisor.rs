//! Lab 5's grader, the supervisor (`docs/labs/05-supervisor.md`): `flaky` faults on every
//! message after two device accesses; the grader sends it the page's three `crash`
//! messages and scores the fault record (task 1) and the restart policy of its
//! `lab.toml` (task 2). `lab05_grade` grades the student's files (`cargo cella lab 5
//! --grade`); the grader's own test runs the page's finished transcripts on the reference
//! solution (every line checked, then full marks) and the same commands on the starting
//! point (fewer).

mod labs_harness;

use labs_harness::{Files, Task, boot_lab_modules, check_finished, report, run_finished_steps};

/// The lab's directory.
const LAB: &str = "05-supervisor";

/// The number in `output` after `before` and up to ` ms` on each line holding `before`.
fn waits(output: &str, before: &str) -> Vec<u64> {
    output
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find(before)? + before.len()..];
            rest.split(" ms").next()?.trim().parse().ok()
        })
        .collect()
}

/// Lab 5's score of a run's `output`: the tasks done.
fn score(output: &str) -> usize {
    let recorded = output
        .contains("module flaky faulted in on_message: trap: it executed `unreachable`")
        && output.contains("before the fault: write port 0x80 1 <- 0x5a")
        && output.contains("before the fault: read port 0x80 1 -> 0x");
    let waits = waits(output, "supervisor: flaky restarts in ");
    let policy = waits.first() == Some(&0)
        && waits.get(1).is_some_and(|wait| (40..=50).contains(wait))
        && waits.len() == 2
        && output.contains("supervisor: flaky is on hold after 3 faults in 60 s");
    report(
        "lab 5",
        &[
            Task {
                name: "task 1, the fault record shows the device accesses",
                done: recorded,
            },
            Task {
                name: "task 2, 50 ms before the second restart, held at the third fault",
                done: policy,
            },
        ],
    )
}

/// Lab 5's grader on `files`: the page's commands typed, the tasks done.
fn grade(files: Files) -> usize {
    let source = files.path(LAB, "flaky.wat");
    let mut session = boot_lab_modules(LAB, files, &[("flaky", &source)]);
    run_finished_steps(&mut session, LAB);
    score(&session.output())
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab05_grade() {
    assert_eq!(grade(Files::Student), 2, "lab 5: not every task is done");
}

#[test]
fn grader_of_lab_05_passes_the_reference_as_its_page_shows_and_fails_the_starting_point() {
    let source = Files::Reference.path(LAB, "flaky.wat");
    let mut session = boot_lab_modules(LAB, Files::Reference, &[("flaky", &source)]);
    check_finished(&mut session, LAB);
    assert_eq!(score(&session.output()), 2);
    drop(session);
    assert!(grade(Files::Student) < 2);
}

#[test]
fn the_waits_are_read_from_the_supervisors_lines() {
    let output =
        "WARN  supervisor: flaky restarts in 0 ms\nx\nWARN  supervisor: flaky restarts in 49 ms\n";
    assert_eq!(waits(output, "supervisor: flaky restarts in "), [0, 49]);
    assert_eq!(score(output), 0);
}
