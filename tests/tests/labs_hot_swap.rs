//! Lab 6's grader, hot swap with state transfer (`docs/labs/06-hot-swap.md`): `tally` 1.0.0
//! counts the numbers `ticker` sends every 5 ms; the student's 2.0.0 bumps the state
//! format and counts gaps, and is swapped in under that traffic. The grader types the
//! page's finished commands and scores the swap's answer and the report after it.
//! `lab06_grade` grades the student's `tally-v2.wat` (`cargo cella lab 6 --grade`); the
//! grader's own test runs the page's transcripts on the reference solution (every line
//! checked, then full marks) and the same commands on the starting point (fewer).

mod labs_harness;

use labs_harness::{Files, Task, boot_lab_archive, check_finished, report, run_finished_steps};

/// The lab's directory.
const LAB: &str = "06-hot-swap";

/// The swap target's name in the boot archive, as the lab's `lab.toml` packs it.
const TARGET: &str = "modules/tally-v2.wasm";

/// The figures of the last line of `output` holding `marker`: every run of digits after it.
fn figures(output: &str, marker: &str) -> Option<Vec<u64>> {
    let line = output.lines().rev().find(|line| line.contains(marker))?;
    let rest = &line[line.find(marker)? + marker.len()..];
    Some(
        rest.split(|c: char| !c.is_ascii_digit())
            .filter(|digits| !digits.is_empty())
            .filter_map(|digits| digits.parse().ok())
            .collect(),
    )
}

/// Lab 6's score of a run's `output`: the tasks done.
fn score(output: &str) -> usize {
    let bumped = output.contains("tally: swapped 1.0.0 -> 2.0.0 (state format 1 -> 2")
        && output.contains("tally: restored state format 1");
    let before = figures(output, "tally: 1.0.0: ").and_then(|numbers| numbers.first().copied());
    // `2.0.0: N messages, last M, G gaps`.
    let after = figures(output, "tally: 2.0.0: ");
    let in_order = match (before, after.as_deref()) {
        (Some(before), Some(&[count, last, gaps])) => count == last && gaps == 0 && count > before,
        _ => false,
    };
    report(
        "lab 6",
        &[
            Task {
                name: "task 1, state format 2 takes over format 1",
                done: bumped,
            },
            Task {
                name: "task 2, under traffic nothing is lost and the gaps are counted",
                done: in_order,
            },
        ],
    )
}

/// Boots lab 6 with `files`: `tally` and `ticker` from the lab's directory, the swap
/// target compiled from `files`' `tally-v2.wat`.
fn boot(files: Files) -> cella_qemu_tests::Session {
    let v1 = Files::Student.path(LAB, "tally.wat");
    let ticker = Files::Student.path(LAB, "ticker.wat");
    let v2 = cella::wat_source::compile(&files.path(LAB, "tally-v2.wat"))
        .unwrap_or_else(|error| panic!("{error}"));
    boot_lab_archive(
        LAB,
        files,
        &[("tally", &v1), ("ticker", &ticker)],
        vec![(TARGET.to_owned(), v2)],
    )
}

/// Lab 6's grader on `files`: the page's commands typed, the tasks done.
fn grade(files: Files) -> usize {
    let mut session = boot(files);
    run_finished_steps(&mut session, LAB);
    score(&session.output())
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab06_grade() {
    assert_eq!(grade(Files::Student), 2, "lab 6: not every task is done");
}

#[test]
fn grader_of_lab_06_passes_the_reference_as_its_page_shows_and_fails_the_starting_point() {
    let mut session = boot(Files::Reference);
    check_finished(&mut session, LAB);
    assert_eq!(score(&session.output()), 2);
    drop(session);
    assert!(grade(Files::Student) < 2);
}

#[test]
fn the_report_after_the_swap_is_read_and_judged() {
    let done = "tally: swapped 1.0.0 -> 2.0.0 (state format 1 -> 2, generation 8) in 9 us\n\
                INFO  tally: restored state format 1\n\
                INFO  tally: 1.0.0: 40 messages, last 40\n\
                INFO  tally: 2.0.0: 90 messages, last 90, 0 gaps\n";
    assert_eq!(score(done), 2);
    let lost = done.replace(
        "90 messages, last 90, 0 gaps",
        "88 messages, last 90, 1 gaps",
    );
    assert_eq!(score(&lost), 1);
    let restarted = done.replace("90 messages, last 90", "50 messages, last 90");
    assert_eq!(score(&restarted), 1);
    assert_eq!(
        figures(done, "tally: 2.0.0: ").as_deref(),
        Some(&[90, 90, 0][..])
    );
}
