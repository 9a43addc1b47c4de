//! The graders of labs 1 to 4. `cargo cella lab N --grade` runs the QEMU tests whose names contain
//! `labNN_grade`: each boots the test system with the lab's module from `labs/NN-NAME/`,
//! compiled from the student's WAT and given its entry of that lab's `lab.toml`, runs the
//! lab's steps and prints the points of each task; it fails unless every task is done.
//!
//! A third kind of test boots each lab with its reference solution and runs the transcripts
//! of its page's "What a finished lab shows", checking every line shown.
//!
//! The grades are ignored by `cargo cella test` (the starting points fail them by design);
//! `--grade` runs them with `--ignored`. Each grader is itself tested
//! (`grader_of_lab_NN_...`, run by `cargo cella test`): full marks on the reference
//! solution kept in `tests/labs/`, and fewer on the starting point in `labs/` as shipped.

mod labs_harness;

use labs_harness::{Task, WAIT, boot_lab, first_of, report, type_command, workspace};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Lab 1's grader on `source`: the tasks done.
fn grade_lab_01(source: &Path) -> usize {
    let session = boot_lab("01-memory-bounds", "peek", source);
    // Either way the start ends: up, or failed.
    let ended = first_of(
        &session,
        0,
        &["module peek 1.0.0 up", "module peek failed to start"],
        WAIT,
    );
    let output = session.output();
    report(
        "lab 1",
        &[
            Task {
                name: "task 1, the last byte is inside",
                done: output.contains("peek: last byte ok"),
            },
            Task {
                name: "task 2, a word over the end traps",
                done: ended == Some(1)
                    && output
                        .contains("module peek faulted in init: trap: memory access out of bounds"),
            },
        ],
    )
}

/// Lab 2's grader on `source`: the tasks done.
fn grade_lab_02(source: &Path) -> usize {
    let mut session = boot_lab("02-fuel", "burner", source);
    let up = first_of(
        &session,
        0,
        &["module burner 1.0.0 up", "module burner failed to start"],
        WAIT,
    );
    let counted = session.output().contains("burner: counted to 50000");
    let from = type_command(&mut session, "send burner spin");
    let stopped = first_of(
        &session,
        from,
        &["module burner faulted in on_message: out of fuel (budget"],
        Duration::from_secs(15),
    )
    .is_some();
    let restarted = stopped
        && first_of(
            &session,
            from,
            &["supervisor: burner restarted (generation"],
            WAIT,
        )
        .is_some();
    report(
        "lab 2",
        &[
            Task {
                name: "task 1, counting inside the budget",
                done: up == Some(0) && counted,
            },
            Task {
                name: "task 2, a runaway event is stopped and the module restarted",
                done: stopped && restarted,
            },
        ],
    )
}

/// Lab 3's grader on `source`: the tasks done.
fn grade_lab_03(source: &Path) -> usize {
    let mut session = boot_lab("03-handles", "forger", source);
    let up = first_of(
        &session,
        0,
        &["module forger 1.0.0 up", "module forger failed to start"],
        WAIT,
    );
    let forged = up == Some(0) && session.output().contains("forger: forged handle refused");
    // A fresh instance: the one before it is its predecessor, whose handles are stale.
    let from = type_command(&mut session, "restart forger");
    session.wait_for_from(from, "forger: running", WAIT);
    let from = type_command(&mut session, "send forger stale");
    let stale = first_of(
        &session,
        from,
        &["forger: stale handle refused"],
        Duration::from_secs(15),
    )
    .is_some();
    report(
        "lab 3",
        &[
            Task {
                name: "task 1, a forged handle is refused",
                done: forged,
            },
            Task {
                name: "task 2, a stale handle is refused",
                done: stale,
            },
        ],
    )
}

/// Lab 4's grader on `source`: the tasks done.
fn grade_lab_04(source: &Path) -> usize {
    let session = boot_lab("04-capabilities", "asker", source);
    let loaded = first_of(
        &session,
        0,
        &["module asker 1.0.0 up", "module asker refused at load"],
        WAIT,
    );
    report(
        "lab 4",
        &[
            Task {
                name: "task 1, the request fits the grant",
                done: loaded == Some(0),
            },
            Task {
                name: "task 2, the handle of the right capability",
                done: loaded == Some(0) && session.output().contains("asker: wrote the POST port"),
            },
        ],
    )
}

/// The student's file of lab `lab`.
fn student(lab: &str, file: &str) -> PathBuf {
    workspace().join("labs").join(lab).join(file)
}

/// The reference solution of lab `lab`.
fn reference(lab: &str, file: &str) -> PathBuf {
    workspace().join("tests/labs").join(lab).join(file)
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab01_grade() {
    assert_eq!(
        grade_lab_01(&student("01-memory-bounds", "peek.wat")),
        2,
        "lab 1: not every task is done"
    );
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab02_grade() {
    assert_eq!(
        grade_lab_02(&student("02-fuel", "burner.wat")),
        2,
        "lab 2: not every task is done"
    );
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab03_grade() {
    assert_eq!(
        grade_lab_03(&student("03-handles", "forger.wat")),
        2,
        "lab 3: not every task is done"
    );
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab04_grade() {
    assert_eq!(
        grade_lab_04(&student("04-capabilities", "asker.wat")),
        2,
        "lab 4: not every task is done"
    );
}

/// The starting point: the student's file in `labs/` as the repository ships it.
fn starting_point(lab: &str, file: &str) -> PathBuf {
    student(lab, file)
}

#[test]
fn grader_of_lab_01_passes_the_reference_and_fails_the_starting_point() {
    assert_eq!(grade_lab_01(&reference("01-memory-bounds", "peek.wat")), 2);
    assert!(grade_lab_01(&starting_point("01-memory-bounds", "peek.wat")) < 2);
}

#[test]
fn grader_of_lab_02_passes_the_reference_and_fails_the_starting_point() {
    assert_eq!(grade_lab_02(&reference("02-fuel", "burner.wat")), 2);
    assert!(grade_lab_02(&starting_point("02-fuel", "burner.wat")) < 2);
}

#[test]
fn grader_of_lab_03_passes_the_reference_and_fails_the_starting_point() {
    assert_eq!(grade_lab_03(&reference("03-handles", "forger.wat")), 2);
    assert!(grade_lab_03(&starting_point("03-handles", "forger.wat")) < 2);
}

#[test]
fn grader_of_lab_04_passes_the_reference_and_fails_the_starting_point() {
    assert_eq!(grade_lab_04(&reference("04-capabilities", "asker.wat")), 2);
    assert!(grade_lab_04(&starting_point("04-capabilities", "asker.wat")) < 2);
}

/// Boots lab `lab` with its reference solution and checks the transcripts of its page's
/// "What a finished lab shows".
fn check_finished_lab(lab: &str, module: &str, file: &str) {
    let mut session = boot_lab(lab, module, &reference(lab, file));
    labs_harness::check_finished(&mut session, lab);
}

#[test]
fn finished_lab_01_shows_what_its_page_says() {
    check_finished_lab("01-memory-bounds", "peek", "peek.wat");
}

#[test]
fn finished_lab_02_shows_what_its_page_says() {
    check_finished_lab("02-fuel", "burner", "burner.wat");
}

#[test]
fn finished_lab_03_shows_what_its_page_says() {
    check_finished_lab("03-handles", "forger", "forger.wat");
}

#[test]
fn finished_lab_04_shows_what_its_page_says() {
    check_finished_lab("04-capabilities", "asker", "asker.wat");
}
