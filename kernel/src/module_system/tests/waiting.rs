//! Handlers that wait for an answer inside themselves (`ipc_wait`), with
//! the kernel mocked: the answer resumes the handler; the waiting module
//! takes nothing else meanwhile and its other messages follow in order; a
//! swap hands over only after the waiting handler ended; a server that
//! faults resumes the waiter with `Closed`.

use super::*;
use crate::system_manifest::GrantLine;

/// A module granted endpoint `counter`: each message it gets becomes a
/// call to `counter` with the same bytes, waited for in the handler. It
/// logs `got C V` for the answer (the counter's count and version, one
/// digit each) or `error NN` for a failed wait, and `late` if an answer
/// ever reaches `on_reply`.
fn waiter_module(version: u32) -> Vec<u8> {
    let text = format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname waiter\nversion {version}\nstate 1\nendpoint counter\n")
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_wait" (func $wait (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x200) "got ? ?")
  (data (i32.const 0x210) "error ??")
  (data (i32.const 0x220) "late")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0x400))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $result i32)
    (drop (call $receive (i32.const 0x100) (i32.const 64)))
    (local.set $result
      (call $wait
        (call $call (call $cap (i32.const 0)) (i32.const 0x100) (local.get $length) (i32.const 50))
        (i32.const 0x180) (i32.const 8)))
    (if (i32.ge_s (local.get $result) (i32.const 0))
      (then
        (i32.store8 (i32.const 0x204) (i32.add (i32.const 48) (i32.load8_u (i32.const 0x180))))
        (i32.store8 (i32.const 0x206) (i32.add (i32.const 48) (i32.load8_u (i32.const 0x184))))
        (drop (call $log (i32.const 3) (i32.const 0x200) (i32.const 7))))
      (else
        (i32.store8 (i32.const 0x216)
          (i32.add (i32.const 48) (i32.div_u (i32.sub (i32.const 0) (local.get $result)) (i32.const 10))))
        (i32.store8 (i32.const 0x217)
          (i32.add (i32.const 48) (i32.rem_u (i32.sub (i32.const 0) (local.get $result)) (i32.const 10))))
        (drop (call $log (i32.const 3) (i32.const 0x210) (i32.const 8))))))
  (func (export "on_reply") (param i32 i32 i32)
    (drop (call $log (i32.const 3) (i32.const 0x220) (i32.const 4)))))"#
    );
    wat::parse_str(text).expect("waiter assembles")
}

/// Boots `counter` and `waiter` (with `waiter-v2.wasm` in the archive).
fn boot_waiting() -> System {
    let counter = plan("counter", &[]);
    let mut waiter = plan("waiter", &[]);
    waiter.grants.push(GrantLine::Endpoint {
        name: String::from("counter"),
    });
    let files = [
        (
            String::from("counter.wasm"),
            module("counter", 1, Behaviour::default()),
        ),
        (String::from("waiter.wasm"), waiter_module(1)),
        (String::from("waiter-v2.wasm"), waiter_module(2)),
    ];
    let mut system = boot_files(alloc::vec![counter, waiter], &files);
    settle(&mut system);
    system
}

fn waiter_log(system: &System) -> Vec<String> {
    system
        .kernel
        .platform
        .log_lines()
        .into_iter()
        .filter(|line| line.module == "waiter")
        .map(|line| line.message)
        .collect()
}

/// Steps until the waiter's handler waits for its answer.
fn step_until_waiting(system: &mut System) {
    let at = index(system, "waiter");
    for _ in 0..100 {
        system.take_completed();
        if system.table.slots[at].waiting_for().is_some() {
            return;
        }
        system.step();
    }
    panic!("the waiter never waited");
}

#[test]
fn the_answer_resumes_the_waiting_handler_and_its_next_messages_follow_in_order() {
    let mut system = boot_waiting();
    queue(&mut system, "waiter", b"first");
    queue(&mut system, "waiter", b"second");
    queue(&mut system, "waiter", b"third");
    step_until_waiting(&mut system);
    let at = index(&system, "waiter");
    assert_eq!(
        system.table.slots[at].inbox.len(),
        2,
        "the next messages wait behind the handler"
    );
    settle(&mut system);
    assert_eq!(waiter_log(&system), ["got 1 1", "got 2 1", "got 3 1"]);
    assert_eq!(system.table.slots[at].waiting_for(), None);
}

#[test]
fn a_swap_hands_over_only_after_the_waiting_handler_ended() {
    let mut system = boot_waiting();
    queue(&mut system, "waiter", b"first");
    step_until_waiting(&mut system);
    let id = submit(&mut system, swap("waiter", "waiter-v2.wasm"));
    settle(&mut system);
    let report = system.operations.take_report(id);
    assert!(matches!(report, Some(Ok(Report::Swapped(_)))), "{report:?}");
    assert_eq!(
        waiter_log(&system),
        ["got 1 1"],
        "the old instance finished"
    );
    queue(&mut system, "waiter", b"after");
    settle(&mut system);
    assert_eq!(waiter_log(&system), ["got 1 1", "got 2 1"]);
    let at = index(&system, "waiter");
    assert_eq!(
        system.table.slots[at]
            .sandbox
            .as_ref()
            .map(|sandbox| String::from(sandbox.module().version())),
        Some(String::from("2"))
    );
}

#[test]
fn a_server_that_faults_resumes_the_waiter_with_closed() {
    let mut system = boot_waiting();
    // The counter traps on a 4-byte message.
    queue(&mut system, "waiter", b"trap");
    settle(&mut system);
    assert_eq!(waiter_log(&system), ["error 14"]);
    queue(&mut system, "waiter", b"hello");
    settle(&mut system);
    assert_eq!(waiter_log(&system), ["error 14", "got 1 1"]);
}

#[test]
fn a_waiter_that_faults_while_waiting_loses_its_handler_and_the_late_answer_is_dropped() {
    let mut system = boot_waiting();
    queue(&mut system, "waiter", b"first");
    step_until_waiting(&mut system);
    // The counter takes the call and is away with it while the waiter restarts.
    let counter = index(&system, "counter");
    system.kernel.hold_events = true;
    for _ in 0..100 {
        if !system.router.requests_to(counter).is_empty()
            && system.table.slots[counter].inbox.is_empty()
        {
            break;
        }
        system.step();
    }
    assert!(system.table.slots[counter].inbox.is_empty(), "taken");
    assert!(run(&mut system, restart("waiter")).is_ok());
    system.kernel.hold_events = false;
    settle(&mut system);
    assert!(waiter_log(&system).is_empty(), "{:?}", waiter_log(&system));
    queue(&mut system, "waiter", b"again");
    settle(&mut system);
    assert_eq!(waiter_log(&system), ["got 2 1"]);
}
