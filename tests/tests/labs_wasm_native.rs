//! Lab 8's grader, Wasm vs native (`docs/labs/08-wasm-native.md`): the checksum server's
//! source runs as a Wasm module (`checksum`, serving `checksum-wasm`) and, once the student's `lab.toml` lists
//! it, as a native process (`checksum-ring3`, task 1); the client `round-trips` measures
//! both once it is granted the second endpoint (task 2). `lab08_grade` grades the student's
//! `lab.toml` (`cargo cella lab 8 --grade`); the grader's own test runs the page's finished
//! transcripts on the reference solution (every line checked, timing digits masked, then
//! full marks) and the same commands on the starting point (fewer).

mod labs_harness;

use labs_harness::{
    Files, Task, WAIT, boot_lab_wasm, check_finished, report, run_finished_steps, type_command,
};

/// The lab's directory.
const LAB: &str = "08-wasm-native";

/// Lab 8's score of a run's `output`: the tasks done.
fn score(output: &str) -> usize {
    report(
        "lab 8",
        &[
            Task {
                name: "task 1, the native build started from the lab's process table, answering",
                done: output.contains("process checksum-ring3 from the system manifest")
                    && output.contains("reply from checksum-ring3: 8 bytes: "),
            },
            Task {
                name: "task 2, the client measures both builds and gets the same answers",
                done: output.contains("[round-trips] checksum-ring3, the native process: ")
                    && output.contains("answers from both builds; the Wasm module's round trip is"),
            },
        ],
    )
}

/// The lab's system with `files`' `lab.toml` (the Wasm build of modules/checksum packed as
/// its module `checksum`, in the place of the test system's process of that name), booted
/// to the prompt.
fn boot(files: Files) -> cella_qemu_tests::Session {
    let wasm = cella_device_tests::wasm("cella-checksum");
    boot_lab_wasm(LAB, files, vec![("checksum", wasm)], Vec::new())
}

/// Lab 8's grader on `files`: the page's commands typed, the tasks done.
fn grade(files: Files) -> usize {
    let mut session = boot(files);
    run_finished_steps(&mut session, LAB);
    score(&session.output())
}

/// The kernel memory `ps` shows for process `name` (`kernel memory N of M KiB`), in KiB.
fn kernel_memory(session: &mut cella_qemu_tests::Session, name: &str) -> u64 {
    let echoed = type_command(session, "ps");
    let end = session.wait_for_from(echoed, "cella> ", WAIT);
    let output = session.output();
    let line = output[echoed..end]
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("`ps` lists no process {name}"));
    let rest = &line[line.find("kernel memory ").expect("a process line") + 14..];
    rest.split(' ')
        .next()
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no kernel memory in `{line}`"))
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab08_grade() {
    assert_eq!(grade(Files::Student), 2, "lab 8: not every task is done");
}

#[test]
fn grader_of_lab_08_passes_the_reference_as_its_page_shows_and_fails_the_starting_point() {
    let mut session = boot(Files::Reference);
    check_finished(&mut session, LAB);
    assert_eq!(score(&session.output()), 2);
    // Measurement after measurement costs the kernel nothing that stays: the client's and
    // the native server's kernel memory is the same after 20 more runs.
    let before = [
        kernel_memory(&mut session, "round-trips"),
        kernel_memory(&mut session, "checksum-ring3"),
    ];
    for _ in 0..20 {
        let echoed = type_command(&mut session, "call round-trips 100 512");
        session.wait_for_from(echoed, "reply from round-trips: 1 byte: 00", WAIT);
    }
    let after = [
        kernel_memory(&mut session, "round-trips"),
        kernel_memory(&mut session, "checksum-ring3"),
    ];
    assert_eq!(
        before, after,
        "kernel memory of round-trips and checksum-ring3"
    );
    drop(session);
    assert!(grade(Files::Student) < 2);
}
