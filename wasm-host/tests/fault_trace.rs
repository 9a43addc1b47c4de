//! Every fault carries the faulting instance's last device accesses: at
//! start, at restart, in an event and at each swap stage. The module below
//! touches its port (offset 0 written with a stage's mark, offset 1 read)
//! and then traps, in whichever entry point the port's register 2 names:
//! 1 init, 2 on_message, 3 save_state, 4 restore_state (0: it never traps).

mod common;

use cella_wasm_host::{Access, Entry, Event, FaultKind, SwapStage, TrapCode, Width};

/// Touches the port with `mark` and traps when register 2 holds `stage`.
fn touch_and_maybe_trap(stage: u32, mark: u32) -> String {
    format!(
        "(drop (call $port_out8 (global.get $port) (i32.const 0) (i32.const {mark})))
         (drop (call $port_in8 (global.get $port) (i32.const 1)))
         (if (i64.eq (call $port_in8 (global.get $port) (i32.const 2)) (i64.const {stage}))
           (then (unreachable)))"
    )
}

fn module(version: &str) -> Vec<u8> {
    let body = format!(
        r#"(import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
(import "cella" "port_in8" (func $port_in8 (param i32 i32) (result i64)))
(import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
(memory (export "memory") 1)
(global $port (mut i32) (i32.const 0))
(func (export "init") (result i32)
  (global.set $port (call $cap_handle (i32.const 0)))
  {init}
  (i32.const 0))
(func (export "on_message") (param $request i32) (param $length i32)
  {message})
(func (export "save_state") (result i64)
  {save}
  (i64.or (i64.shl (i64.const 4) (i64.const 32)) (i64.const 0x100)))
(func (export "state_buffer") (param $length i32) (result i32) (i32.const 0x200))
(func (export "restore_state") (param $pointer i32) (param $length i32) (param $version i32) (result i32)
  (global.set $port (call $cap_handle (i32.const 0)))
  {restore}
  (i32.const 0))"#,
        init = touch_and_maybe_trap(1, 0x11),
        message = touch_and_maybe_trap(2, 0x22),
        save = touch_and_maybe_trap(3, 0x33),
        restore = touch_and_maybe_trap(4, 0x44),
    );
    wat::parse_str(common::module_wat(
        "tracer",
        version,
        "port 0x3f8 8\n",
        &body,
    ))
    .unwrap()
}

/// The stage register: the module traps in the entry point it names.
fn trap_in(platform: &cella_wasm_host::SimulatedPlatform, stage: u8) {
    use cella_wasm_host::Platform;
    platform
        .clone()
        .port_write(0x3fa, Width::Byte, u32::from(stage));
}

/// The fault's trace ends with the mark written, the read of register 1
/// and the read of the stage register.
fn assert_traced(fault: &cella_wasm_host::Fault, mark: u32, stage: u32) {
    assert_eq!(
        fault.kind,
        FaultKind::Trap(TrapCode::UnreachableCodeReached)
    );
    let last: Vec<Access> = fault
        .recent_accesses
        .iter()
        .rev()
        .take(3)
        .rev()
        .copied()
        .collect();
    assert_eq!(
        last,
        [
            Access::PortWrite {
                port: 0x3f8,
                width: Width::Byte,
                value: mark
            },
            Access::PortRead {
                port: 0x3f9,
                width: Width::Byte,
                value: 0
            },
            Access::PortRead {
                port: 0x3fa,
                width: Width::Byte,
                value: stage
            },
        ],
        "{fault}"
    );
    let text: Vec<String> = last.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            format!("write port 0x3f8 1 <- {mark:#x}"),
            "read port 0x3f9 1 -> 0x0".to_string(),
            format!("read port 0x3fa 1 -> {stage:#x}"),
        ]
    );
}

#[test]
fn a_fault_in_init_carries_the_accesses_init_made() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    trap_in(&platform, 1);
    let module = runtime
        .load("tracer", &module("1"), &common::grant())
        .unwrap();
    let fault = runtime
        .start(
            &module,
            platform.clone(),
            cella_wasm_host::QueueOutbox::new(4),
        )
        .err()
        .expect("init traps");
    assert_eq!(fault.entry, Entry::Init);
    assert_traced(&fault, 0x11, 1);
}

#[test]
fn a_fault_at_restart_carries_the_new_instance_accesses() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    let module = runtime
        .load("tracer", &module("1"), &common::grant())
        .unwrap();
    let mut sandbox = runtime
        .start(
            &module,
            platform.clone(),
            cella_wasm_host::QueueOutbox::new(4),
        )
        .unwrap();
    trap_in(&platform, 1);
    let fault = runtime.restart(&mut sandbox).unwrap_err();
    assert_eq!(fault.entry, Entry::Init);
    assert_traced(&fault, 0x11, 1);
    // The dead sandbox reports the same accesses when asked again.
    let again = sandbox.deliver(Event::Irq { line: 4 }).unwrap_err();
    assert_eq!(again.kind, FaultKind::Dead);
    assert_eq!(again.recent_accesses, fault.recent_accesses);
}

#[test]
fn a_fault_in_an_event_carries_its_accesses() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    let module = runtime
        .load("tracer", &module("1"), &common::grant())
        .unwrap();
    let mut sandbox = runtime
        .start(
            &module,
            platform.clone(),
            cella_wasm_host::QueueOutbox::new(4),
        )
        .unwrap();
    trap_in(&platform, 2);
    let fault = sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: b"x",
        })
        .unwrap_err();
    assert_eq!(fault.entry, Entry::Message);
    assert_traced(&fault, 0x22, 2);
}

#[test]
fn a_failed_swap_carries_the_accesses_of_the_instance_that_failed() {
    for (stage, mark, expected) in [(3, 0x33, SwapStage::Save), (4, 0x44, SwapStage::Restore)] {
        let mut runtime = common::runtime();
        let platform = common::platform();
        let old = runtime
            .load("tracer", &module("1"), &common::grant())
            .unwrap();
        let new = runtime
            .load("tracer", &module("2"), &common::grant())
            .unwrap();
        let mut sandbox = runtime
            .start(&old, platform.clone(), cella_wasm_host::QueueOutbox::new(4))
            .unwrap();
        trap_in(&platform, stage);
        let error = runtime.swap(&mut sandbox, &new).unwrap_err();
        assert_eq!(error.stage, expected);
        assert_traced(&error.fault, mark, u32::from(stage));
        assert!(sandbox.is_alive(), "the old instance goes on");
    }
}
