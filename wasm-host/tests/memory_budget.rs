//! The embedder's memory budget: a linear memory is created or grown only if the platform
//! says the memory may be taken; otherwise `memory.grow` returns -1 and instantiation fails
//! with a fault, never a panic or a trap in the host.

mod common;

use cella_wasm_host::{Delivery, Event, FaultKind, Outgoing, QueueOutbox};

const PAGE: usize = 65536;

/// Grows its memory by one page per message and replies with memory.grow's result.
const GROWER: &str = r#"(module
    (@custom "cella.manifest" "cella 1\nname grower\nversion 1\n")
    (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
    (memory (export "memory") 2)
    (func (export "init") (result i32) (i32.const 0))
    (func (export "on_message") (param $request i32) (param $length i32)
      (i32.store (i32.const 0) (memory.grow (i32.const 1)))
      (drop (call $ipc_reply (local.get $request) (i32.const 0) (i32.const 4)))))"#;

fn grow(sandbox: &mut common::Box_, outbox: &QueueOutbox, request: u32) -> i32 {
    let delivered = sandbox.deliver(Event::Message {
        request,
        bytes: b"grow",
    });
    assert_eq!(delivered, Ok(Delivery::Handled { count: 1 }));
    match outbox.drain().as_slice() {
        [Outgoing::Reply { message, .. }] => i32::from_le_bytes(message[..4].try_into().unwrap()),
        other => panic!("expected one reply, got {other:?}"),
    }
}

#[test]
fn memory_grows_only_within_the_platform_budget_and_then_grow_returns_minus_one() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    // The initial two pages and two more.
    platform.set_memory_budget(4 * PAGE);
    let outbox = QueueOutbox::new(8);
    let module = runtime
        .load("grower", &wat::parse_str(GROWER).unwrap(), &common::grant())
        .unwrap();
    let mut sandbox = runtime
        .start(&module, platform.clone(), outbox.clone())
        .unwrap();
    assert_eq!(grow(&mut sandbox, &outbox, 1), 2, "third page: old size 2");
    assert_eq!(grow(&mut sandbox, &outbox, 2), 3, "fourth page");
    assert_eq!(grow(&mut sandbox, &outbox, 3), -1, "the budget is spent");
    assert_eq!(grow(&mut sandbox, &outbox, 4), -1);
    assert!(sandbox.is_alive());
    assert_eq!(sandbox.memory_pages(), 4);
}

#[test]
fn a_module_whose_initial_memory_does_not_fit_the_budget_does_not_start() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    platform.set_memory_budget(PAGE);
    let module = runtime
        .load("grower", &wat::parse_str(GROWER).unwrap(), &common::grant())
        .unwrap();
    let fault = runtime
        .start(&module, platform, QueueOutbox::new(8))
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&fault.kind, FaultKind::Instantiation(_)),
        "{fault:?}"
    );
}
