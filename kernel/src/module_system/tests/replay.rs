//! The replay rule that reads a typed interface: a request an instance took
//! and left unanswered is asked again of the next instance when its
//! operation is idempotent, and answered with an error otherwise.

use super::*;
use crate::ipc::IpcError;

/// A server that defers its answers: a request is kept unanswered, a
/// 2-byte message (`go`) answers the kept one with `ok`, a 1-byte one (`!`)
/// traps.
fn deferring_server() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname deferring\nversion 1.0.0\n")
  (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x30) "ok")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (if (i32.eq (local.get $length) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $length) (i32.const 2))
      (then
        (if (i32.load (i32.const 0x20))
          (then
            (drop (call $ipc_reply (i32.load (i32.const 0x20)) (i32.const 0x30) (i32.const 2)))
            (i32.store (i32.const 0x20) (i32.const 0))))
        (return)))
    (if (local.get $request) (then (i32.store (i32.const 0x20) (local.get $request))))))"#,
    )
    .expect("the deferring server assembles")
}

/// Boots the deferring server serving `endpoint`.
fn boot_serving(endpoint: &str) -> System {
    let plan = ModulePlan {
        serves: alloc::vec![String::from(endpoint)],
        ..plan("deferring", &[])
    };
    let mut system = boot_files(
        alloc::vec![plan],
        &[(String::from("deferring.wasm"), deferring_server())],
    );
    settle(&mut system);
    system
}

/// A process asks `count` (reply token 7), then the server crashes while
/// the request waits unanswered; returns what the process got after a `go`
/// to whatever instance runs then.
fn crash_while_holding_a_request(endpoint: &str) -> Vec<(u64, Result<Vec<u8>, IpcError>)> {
    let mut system = boot_serving(endpoint);
    let at = index(&system, "deferring");
    process_call(&mut system, endpoint, 7, b"count");
    settle(&mut system);
    assert!(
        system.kernel.process_answers.is_empty(),
        "the server kept it unanswered"
    );
    assert_eq!(system.router.requests_to(at).len(), 1);
    queue(&mut system, "deferring", b"!");
    settle(&mut system);
    assert_eq!(system.table.slots[at].tracker.restarts, 1);
    queue(&mut system, "deferring", b"go");
    settle(&mut system);
    assert!(
        system.router.requests_to(at).is_empty(),
        "nothing left open"
    );
    core::mem::take(&mut system.kernel.process_answers)
}

#[test]
fn an_idempotent_request_held_at_a_fault_is_asked_again_of_the_next_instance() {
    // `count` is an idempotent operation of the `pci` interface.
    assert_eq!(
        crash_while_holding_a_request("pci"),
        [(7, Ok(b"ok".to_vec()))]
    );
}

#[test]
fn a_request_without_a_typed_interface_held_at_a_fault_fails_with_closed() {
    assert_eq!(
        crash_while_holding_a_request("clock"),
        [(7, Err(IpcError::Closed))]
    );
}
