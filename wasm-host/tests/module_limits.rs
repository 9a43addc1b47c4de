//! A module's own limits (`limit` in the system manifest, carried by its
//! grant) replace the runtime's for that module alone: fuel per event,
//! memory pages and requests held unanswered.

mod common;

use cella_system::system_manifest::{ModuleLimits, ModulePlan};
use cella_wasm_host::{Delivery, Event, FaultKind, Grant, QueueOutbox};

/// Grows its memory by one page per message (keeping the result in byte 0),
/// then counts down from 1,000,000.
const WORKER: &str = r#"(module
    (@custom "cella.manifest" "cella 1\nname worker\nversion 1\n")
    (memory (export "memory") 1)
    (func (export "init") (result i32) (i32.const 0))
    (func (export "on_message") (param $request i32) (param $length i32)
      (local $left i32)
      (i32.store (i32.const 0) (memory.grow (i32.const 1)))
      (local.set $left (i32.mul (i32.const 10000) (i32.const 100)))
      (loop $again
        (local.set $left (i32.sub (local.get $left) (i32.const 1)))
        (br_if $again (local.get $left)))))"#;

fn limited(limits: ModuleLimits) -> Grant {
    let plan = ModulePlan {
        name: "worker".into(),
        limits,
        ..ModulePlan::default()
    };
    Grant::from_plan(&plan, |_| None)
}

#[test]
fn a_modules_own_fuel_and_memory_limits_apply_to_it_alone() {
    let mut runtime = common::runtime();
    let bytes = wat::parse_str(WORKER).unwrap();
    let outbox = QueueOutbox::new(8);
    // The runtime's default fuel (1,000,000) does not finish a loop of
    // 1,000,000 iterations; the module's own 10,000,000 does.
    let generous = runtime
        .load(
            "worker",
            &bytes,
            &limited(ModuleLimits {
                fuel_per_event: Some(10_000_000),
                memory_pages: Some(1),
                ..ModuleLimits::default()
            }),
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&generous, common::platform(), outbox.clone())
        .unwrap();
    let message = Event::Message {
        request: 0,
        bytes: b"go",
    };
    assert_eq!(sandbox.deliver(message), Ok(Delivery::Handled { count: 1 }));
    // Its own memory limit of one page: memory.grow returned -1.
    assert_eq!(sandbox.memory_pages(), 1);
    let plain = runtime
        .load("worker", &bytes, &limited(ModuleLimits::default()))
        .unwrap();
    let mut default = runtime
        .start(&plain, common::platform(), outbox.clone())
        .unwrap();
    let fault = default.deliver(message).unwrap_err();
    assert!(
        matches!(fault.kind, FaultKind::OutOfFuel { .. }),
        "{fault:?}"
    );
    // The default allows 16 pages: the grow went through before the fuel ran out.
    assert_eq!(default.memory_pages(), 2);
}

#[test]
fn a_modules_own_limit_of_unanswered_requests_applies() {
    let mut runtime = common::runtime();
    let bytes = wat::parse_str(
        r#"(module
            (@custom "cella.manifest" "cella 1\nname mute\nversion 1\n")
            (memory (export "memory") 1)
            (func (export "init") (result i32) (i32.const 0))
            (func (export "on_message") (param i32 i32)))"#,
    )
    .unwrap();
    let module = runtime
        .load(
            "mute",
            &bytes,
            &limited(ModuleLimits {
                pending_requests: Some(2),
                ..ModuleLimits::default()
            }),
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&module, common::platform(), QueueOutbox::new(8))
        .unwrap();
    for request in 1..=2 {
        let event = Event::Message {
            request,
            bytes: b"?",
        };
        assert_eq!(sandbox.deliver(event), Ok(Delivery::Handled { count: 1 }));
    }
    let third = Event::Message {
        request: 3,
        bytes: b"?",
    };
    assert_eq!(sandbox.deliver(third), Ok(Delivery::Refused));
}
