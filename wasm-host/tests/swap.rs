//! Hot swap: counter v1 hands its count to v2, which goes on counting; a v2
//! that traps (or refuses) leaves v1 running with its IRQ line unmasked.

mod common;

use cella_wasm_host::abi::{ErrorCode, HostFunction};
use cella_wasm_host::{
    Access, Delivery, Event, FaultKind, Outgoing, QueueOutbox, SwapStage, TrapCode,
};

const V1: &str = include_str!("modules/counter_v1.wat");
const V2: &str = include_str!("modules/counter_v2.wat");
const V2_TRAPS: &str = include_str!("modules/counter_v2_traps.wat");

/// Sends one request; returns the reply as little-endian i32 words.
fn count(sandbox: &mut common::Box_, outbox: &QueueOutbox, request: u32) -> Vec<i32> {
    assert_eq!(
        sandbox.deliver(Event::Message {
            request,
            bytes: b"tick"
        }),
        Ok(Delivery::Handled { count: 1 })
    );
    let replies = outbox.drain();
    let [
        Outgoing::Reply {
            request: answered,
            message,
            ..
        },
    ] = replies.as_slice()
    else {
        panic!("expected one reply, got {replies:?}");
    };
    assert_eq!(*answered, request);
    message
        .chunks(4)
        .map(|word| i32::from_le_bytes(word.try_into().unwrap()))
        .collect()
}

fn setup() -> (
    common::Host,
    common::Box_,
    QueueOutbox,
    cella_wasm_host::SimulatedPlatform,
) {
    let mut runtime = common::runtime();
    let platform = common::platform();
    let outbox = QueueOutbox::new(8);
    let v1 = runtime
        .load("counter", &wat::parse_str(V1).unwrap(), &common::grant())
        .unwrap();
    let sandbox = runtime
        .start(&v1, platform.clone(), outbox.clone())
        .unwrap();
    (runtime, sandbox, outbox, platform)
}

#[test]
fn v2_restores_v1_state_and_continues_counting() {
    let (mut runtime, mut sandbox, outbox, platform) = setup();
    for expected in 1..=3 {
        let reply = count(&mut sandbox, &outbox, expected as u32);
        assert_eq!(
            (reply[0], reply[2]),
            (expected, 1),
            "count and version of v1"
        );
    }
    let old_generation = sandbox.generation();
    let v2 = runtime
        .load("counter", &wat::parse_str(V2).unwrap(), &common::grant())
        .unwrap();
    runtime.swap(&mut sandbox, &v2).unwrap();
    assert_eq!(sandbox.module().version(), "2");
    assert_ne!(sandbox.generation(), old_generation);
    let reply = count(&mut sandbox, &outbox, 10);
    assert_eq!((reply[0], reply[2]), (4, 2), "v2 goes on from v1's count");
    // The IRQ handle carried in the blob was v1's: stale for v2.
    assert_eq!(reply[3], ErrorCode::StaleHandle.code());
    assert!(sandbox.recent_accesses().contains(&Access::Refused {
        function: HostFunction::IrqEnable,
        error: ErrorCode::StaleHandle,
        attempt: None,
    }));
    assert!(
        platform.irq_enabled(4),
        "v2 unmasked the line with its fresh handle"
    );
    assert_eq!(
        sandbox.deliver(Event::Irq { line: 4 }),
        Ok(Delivery::Handled { count: 1 })
    );
}

#[test]
fn v2_trapping_in_restore_leaves_v1_running() {
    let (mut runtime, mut sandbox, outbox, platform) = setup();
    count(&mut sandbox, &outbox, 1);
    count(&mut sandbox, &outbox, 2);
    let bad = runtime
        .load(
            "counter",
            &wat::parse_str(V2_TRAPS).unwrap(),
            &common::grant(),
        )
        .unwrap();
    let error = runtime.swap(&mut sandbox, &bad).unwrap_err();
    assert_eq!(error.stage, SwapStage::Restore);
    assert_eq!(
        error.fault.kind,
        FaultKind::Trap(TrapCode::UnreachableCodeReached)
    );
    assert_eq!(error.fault.module, "counter");
    assert!(sandbox.is_alive());
    assert_eq!(sandbox.module().version(), "1");
    assert!(platform.irq_enabled(4), "v1's IRQ line is unmasked again");
    let reply = count(&mut sandbox, &outbox, 3);
    assert_eq!((reply[0], reply[2]), (3, 1), "v1 keeps counting");
    // And a good v2 can still take over afterwards.
    let v2 = runtime
        .load("counter", &wat::parse_str(V2).unwrap(), &common::grant())
        .unwrap();
    runtime.swap(&mut sandbox, &v2).unwrap();
    assert_eq!(count(&mut sandbox, &outbox, 4)[0], 4);
}

#[test]
fn v1_cannot_restore_so_swapping_back_fails_atomically() {
    let (mut runtime, mut sandbox, outbox, _platform) = setup();
    count(&mut sandbox, &outbox, 1);
    let v2 = runtime
        .load("counter", &wat::parse_str(V2).unwrap(), &common::grant())
        .unwrap();
    runtime.swap(&mut sandbox, &v2).unwrap();
    // v2's blob is format 2, which v2 itself refuses (it only reads format 1).
    let error = runtime.swap(&mut sandbox, &v2).unwrap_err();
    assert_eq!(
        error.fault.kind,
        FaultKind::BadState(cella_wasm_host::StateError::Rejected(2))
    );
    let v1 = runtime
        .load("counter", &wat::parse_str(V1).unwrap(), &common::grant())
        .unwrap();
    let error = runtime.swap(&mut sandbox, &v1).unwrap_err();
    assert_eq!(
        error.fault.kind,
        FaultKind::BadState(cella_wasm_host::StateError::NoRestoreExport)
    );
    assert_eq!(count(&mut sandbox, &outbox, 2)[0], 2);
}

const SILENT: &str = r#"
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (i32.store (i32.const 0) (local.get $request)))
  (func (export "on_irq") (param i32) (unreachable))
  (func (export "save_state") (result i64) (i64.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
"#;

const ANSWERING: &str = r#"
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (drop (call $reply (i32.load (i32.const 0x10)) (i32.const 0) (i32.const 2))))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0))
  (func (export "restore_state") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 0x10) (i32.const 5))
    (i32.const 0))
"#;

#[test]
fn pending_requests_carry_over_a_swap() {
    let mut runtime = common::runtime();
    let outbox = QueueOutbox::new(8);
    let silent = runtime
        .load(
            "silent",
            &common::wasm("silent", "irq 4\n", SILENT),
            &common::grant(),
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&silent, common::platform(), outbox.clone())
        .unwrap();
    sandbox
        .deliver(Event::Message {
            request: 5,
            bytes: b"question",
        })
        .unwrap();
    assert_eq!(sandbox.pending_requests(), [5]);
    assert!(outbox.is_empty());
    let answering = runtime
        .load(
            "silent",
            &common::wasm("silent", "", ANSWERING),
            &common::grant(),
        )
        .unwrap();
    runtime.swap(&mut sandbox, &answering).unwrap();
    assert_eq!(
        sandbox.pending_requests(),
        [5],
        "the unanswered request carried over"
    );
    // The new version answers request 5 (remembered in restore_state).
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: b"",
        })
        .unwrap();
    assert!(sandbox.pending_requests().is_empty());
    assert!(matches!(
        outbox.drain().as_slice(),
        [Outgoing::Reply { request: 5, .. }]
    ));
}

#[test]
fn swapping_a_dead_sandbox_fails_at_save_and_restart_revives_it() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    let silent = runtime
        .load(
            "silent",
            &common::wasm("silent", "irq 4\n", SILENT),
            &common::grant(),
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&silent, platform, QueueOutbox::new(1))
        .unwrap();
    let fault = sandbox.deliver(Event::Irq { line: 4 }).unwrap_err();
    assert_eq!(
        fault.kind,
        FaultKind::Trap(TrapCode::UnreachableCodeReached)
    );
    assert_eq!(fault.entry, cella_wasm_host::Entry::Irq);
    let error = runtime.swap(&mut sandbox, &silent).unwrap_err();
    assert_eq!(
        (error.stage, error.fault.kind),
        (SwapStage::Save, FaultKind::Dead)
    );
    runtime.restart(&mut sandbox).unwrap();
    assert!(sandbox.is_alive());
    runtime.swap(&mut sandbox, &silent).unwrap();
}
