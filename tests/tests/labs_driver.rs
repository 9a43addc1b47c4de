//! Lab 7's grader, a driver and its device model (`docs/labs/07-driver.md`): the beacon
//! driver (`labs/07-driver`, what `cargo cella new driver` writes) runs in the Wasm host on
//! this machine against a model of the beacon device (a register file: id `0x42` at offset
//! 0, control at 1, data at 2), and the grader scores what it does there (tasks 1 and 2).
//! The lab's system, booted in QEMU, has no beacon at its ports: the page's finished
//! transcript shows the driver refusing the device it finds. `lab07_grade` grades the
//! student's crate (`cargo cella lab 7 --grade`); the grader's own test scores the
//! reference solution (`tests/labs/07-driver`, full marks) and the starting point (fewer),
//! and runs the page's transcript on the reference in one boot.

mod labs_harness;

use cella_device_tests::{log_messages, port_accesses, replies_to, try_start, wasm};
use cella_wasm_host::{Device, Event, Grant, Registers, SimulatedPlatform, Width};
use labs_harness::{Task, boot_lab_wasm, check_finished, report};

/// The lab's directory.
const LAB: &str = "07-driver";

/// The student's package and the reference solution's.
const STUDENT: &str = "cella-lab-beacon";
const REFERENCE: &str = "cella-lab-beacon-reference";

/// The beacon's first port and its registers.
const BASE: u16 = 0x2e8;
const DATA: u16 = 2;

/// A machine with a device at the beacon's ports whose id register reads `id`.
fn machine(id: u64) -> SimulatedPlatform {
    let platform = SimulatedPlatform::new();
    let mut registers = Registers::new(8);
    registers.write(0, Width::Byte, id);
    platform.attach_ports(BASE, 8, registers);
    platform
}

/// The grant of `labs/07-driver/lab.toml`.
fn grant() -> Grant {
    Grant::new().port_range(BASE, 8)
}

/// Task 1 on `package`: 20 requests in a row, of 1 to 20 bytes, each answered
/// `[0x42, 0x01, length]` with the length written to DATA.
fn answers_from_the_device(package: &str) -> bool {
    let platform = machine(0x42);
    let Ok(mut sandbox) = try_start(package, &grant(), &platform) else {
        return false;
    };
    (1..=20u8).all(|length| {
        let request = u32::from(length);
        let bytes = vec![b'x'; usize::from(length)];
        let before = platform.accesses().len();
        if sandbox
            .deliver(Event::Message {
                request,
                bytes: &bytes,
            })
            .is_err()
        {
            return false;
        }
        let accesses = port_accesses(&platform.accesses()[before..]);
        let wrote = accesses.contains(&('w', BASE + DATA, u32::from(length)));
        wrote && replies_to(&sandbox.outbox().drain(), request) == [vec![0x42, 0x01, length]]
    })
}

/// Task 2 on `package`: a device whose id is not a beacon's is refused at start, with a
/// line that says so, and nothing is written to it.
fn refuses_another_device(package: &str) -> bool {
    let platform = machine(0xff);
    let refused = try_start(package, &grant(), &platform).is_err();
    let written = port_accesses(&platform.accesses())
        .iter()
        .any(|(kind, _, _)| *kind == 'w');
    let said = log_messages(&platform)
        .iter()
        .any(|line| line.contains("not a beacon"));
    refused && !written && said
}

/// Lab 7's grade of `package`: the tasks done.
fn grade(package: &str) -> usize {
    report(
        "lab 7",
        &[
            Task {
                name: "task 1, requests answered from the device's data register",
                done: answers_from_the_device(package),
            },
            Task {
                name: "task 2, a device that is not a beacon is refused, untouched",
                done: refuses_another_device(package),
            },
        ],
    )
}

#[test]
#[ignore = "the student's grade, run by `cargo cella lab N --grade`"]
fn lab07_grade() {
    assert_eq!(grade(STUDENT), 2, "lab 7: not every task is done");
}

#[test]
fn grader_of_lab_07_passes_the_reference_as_its_page_shows_and_fails_the_starting_point() {
    assert_eq!(grade(REFERENCE), 2);
    assert!(grade(STUDENT) < 2);
    let mut session = boot_lab_wasm(
        LAB,
        labs_harness::Files::Student,
        vec![("beacon", wasm(REFERENCE))],
        Vec::new(),
    );
    check_finished(&mut session, LAB);
}
