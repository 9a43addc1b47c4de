//! Lab 10's grader, the trusted computing base (`docs/labs/10-tcb.md`): `prober` tries to
//! reach a port the kernel drives through each check of the Wasm host (task 1), and makes
//! an indirect call the engine must refuse (task 2). The grader types the page's finished
//! commands and scores the run. `lab10_grade` grades the student's `prober.wat` (`cargo
//! cella lab 10 --grade`); the grader's own test runs the page's transcripts on the
//! reference solution (every line checked, then full marks) and the same commands on the
//! starting point (fewer).

mod labs_harness;

use labs_harness::{Files, Task, boot_lab_modules, check_finished, report, run_finished_steps};

/// The lab's directory.
const LAB: &str = "10-tcb";

/// The engine's words for an indirect call it refused.
const INDIRECT_TRAPS: [&str; 3] = [
    "table access out of bounds",
    "indirect call through an empty table slot",
    "indirect call with the wrong signature",
];

/// Lab 10's score of a run's `output`: the tasks done.
fn score(output: &str) -> usize {
    let engine = INDIRECT_TRAPS.iter().any(|words| {
        output.contains(&format!(
            "module prober faulted in on_message: trap: {words}"
        ))
    });
    report(
        "lab 10",
        &[
            Task {
                name: "task 1, the host refuses port 0x40 three ways",
                done: output.contains("prober: 0x40 refused three ways"),
            },
            Task {
                name: "task 2, the engine refuses an indirect call past the table",
                done: engine,
            },
        ],
    )
}

/// Lab 10's grader on `files`: the page's commands typed, the tasks done.
fn grade(files: Files) -> usize {
    let source = files.path(LAB, "prober.wat");
    let mut session = boot_lab_modules(LAB, files, &[("prober", &source)]);
    run_finished_steps(&mut session, LAB);
    score(&session.output())
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab10_grade() {
    assert_eq!(grade(Files::Student), 2, "lab 10: not every task is done");
}

#[test]
fn grader_of_lab_10_passes_the_reference_as_its_page_shows_and_fails_the_starting_point() {
    let source = Files::Reference.path(LAB, "prober.wat");
    let mut session = boot_lab_modules(LAB, Files::Reference, &[("prober", &source)]);
    check_finished(&mut session, LAB);
    assert_eq!(score(&session.output()), 2);
    drop(session);
    assert!(grade(Files::Student) < 2);
}
