//! Lab 9's grader, DMA and the IOMMU (`docs/labs/09-dma-iommu.md`): `lender` holds a DMA
//! pool and checks at start what the host lets it do with a buffer (task 1) and what it
//! refuses (task 2); the page's finished transcripts show its grant and the escape variant
//! of the virtio-blk driver stopped by the IOMMU. `lab09_grade` grades the student's
//! `lender.wat` (`cargo cella lab 9 --grade`); the grader's own test runs the page's
//! transcripts on the reference solution (every line checked, then full marks) and the
//! same commands on the starting point (fewer).

mod labs_harness;

use labs_harness::{Files, Task, boot_lab_modules, check_finished, report, run_finished_steps};

/// The lab's directory.
const LAB: &str = "09-dma-iommu";

/// Lab 9's score of a run's `output`: the tasks done.
fn score(output: &str) -> usize {
    report(
        "lab 9",
        &[
            Task {
                name: "task 1, a DMA buffer written and read back through the host",
                done: output.contains("lender: round trip ok"),
            },
            Task {
                name: "task 2, past the buffer's end and past the pool refused",
                done: output.contains("lender: past the end refused")
                    && output.contains("lender: pool exhausted"),
            },
        ],
    )
}

/// Lab 9's grader on `files`: the page's commands typed, the tasks done.
fn grade(files: Files) -> usize {
    let source = files.path(LAB, "lender.wat");
    let mut session = boot_lab_modules(LAB, files, &[("lender", &source)]);
    run_finished_steps(&mut session, LAB);
    score(&session.output())
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab09_grade() {
    assert_eq!(grade(Files::Student), 2, "lab 9: not every task is done");
}

#[test]
fn grader_of_lab_09_passes_the_reference_as_its_page_shows_and_fails_the_starting_point() {
    let source = Files::Reference.path(LAB, "lender.wat");
    let mut session = boot_lab_modules(LAB, Files::Reference, &[("lender", &source)]);
    check_finished(&mut session, LAB);
    assert_eq!(score(&session.output()), 2);
    drop(session);
    assert!(grade(Files::Student) < 2);
}
