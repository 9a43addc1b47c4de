//! Calls between modules (`ipc_call` / `on_reply`) through the router, with
//! the kernel mocked: the reply reaches the caller; a server that faults,
//! is stopped, restarts or is swapped settles the call by the replay rules;
//! a caller that restarts never sees the answer meant for its old instance;
//! a deadline fails a call nobody answers.

use super::*;
use crate::module_system::services::{KernelServices, Routed};
use crate::module_system::slot::ModuleState;
use crate::system_manifest::GrantLine;
use cella_wasm_host::abi::ErrorCode;

/// Milliseconds a test caller waits for an answer.
const DEADLINE_MS: u32 = 50;

/// A caller granted endpoint `target`: each message it gets becomes a call
/// to `target` with the same bytes. It logs `ok C V` for a reply (the
/// counter's count and version, one digit each), `error NN` for a failed
/// call and `call refused NN` when `ipc_call` itself refuses (NN: the error
/// code without its sign).
pub(super) fn caller_module(target: &str, version: u32) -> Vec<u8> {
    let text = format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname caller\nversion {version}\nstate 1\nendpoint {target}\n")
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x200) "ok ? ?")
  (data (i32.const 0x210) "error ??")
  (data (i32.const 0x220) "call refused ??")
  (func $digits (param $at i32) (param $code i32)
    (i32.store8 (local.get $at)
      (i32.add (i32.const 48) (i32.div_u (i32.sub (i32.const 0) (local.get $code)) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 1))
      (i32.add (i32.const 48) (i32.rem_u (i32.sub (i32.const 0) (local.get $code)) (i32.const 10)))))
  (func (export "init") (result i32) (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0x400))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $result i32)
    (drop (call $receive (i32.const 0x100) (i32.const 64)))
    (local.set $result
      (call $call (call $cap (i32.const 0)) (i32.const 0x100) (local.get $length)
        (i32.const {DEADLINE_MS})))
    (if (i32.lt_s (local.get $result) (i32.const 0))
      (then
        (call $digits (i32.const 0x22d) (local.get $result))
        (drop (call $log (i32.const 3) (i32.const 0x220) (i32.const 15))))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32)
    (if (i32.eqz (local.get $status))
      (then
        (drop (call $receive (i32.const 0x180) (i32.const 8)))
        (i32.store8 (i32.const 0x203) (i32.add (i32.const 48) (i32.load8_u (i32.const 0x180))))
        (i32.store8 (i32.const 0x205) (i32.add (i32.const 48) (i32.load8_u (i32.const 0x184))))
        (drop (call $log (i32.const 3) (i32.const 0x200) (i32.const 6))))
      (else
        (call $digits (i32.const 0x216) (local.get $status))
        (drop (call $log (i32.const 3) (i32.const 0x210) (i32.const 8)))))))"#
    );
    wat::parse_str(text).expect("caller assembles")
}

/// The caller's plan: serves `caller`, granted endpoint `target`.
fn caller_plan(target: &str) -> ModulePlan {
    let mut plan = plan("caller", &[]);
    plan.grants.push(GrantLine::Endpoint {
        name: String::from(target),
    });
    plan
}

/// Boots `caller` (calling `target`) and the counters `servers` (with
/// restart settings), plus `extra` archive files.
pub(super) fn boot_calls(
    target: &str,
    servers: &[(&str, &[(&str, &str)])],
    extra: &[(&str, Vec<u8>)],
) -> System {
    let mut plans: Vec<ModulePlan> = servers
        .iter()
        .map(|(name, restart)| plan(name, restart))
        .collect();
    let mut files: Vec<(String, Vec<u8>)> = plans
        .iter()
        .map(|plan| {
            (
                plan.file.clone(),
                module(&plan.name, 1, Behaviour::default()),
            )
        })
        .collect();
    files.push((String::from("caller.wasm"), caller_module(target, 1)));
    files.extend(
        extra
            .iter()
            .map(|(path, bytes)| (String::from(*path), bytes.clone())),
    );
    plans.push(caller_plan(target));
    let mut system = boot_files(plans, &files);
    settle(&mut system);
    system
}

/// What the caller logged so far.
pub(super) fn caller_log(system: &System) -> Vec<String> {
    system
        .kernel
        .platform
        .log_lines()
        .into_iter()
        .filter(|line| line.module == "caller")
        .map(|line| line.message)
        .collect()
}

/// Makes the caller call with `bytes` and lets everything settle.
pub(super) fn call(system: &mut System, bytes: &[u8]) {
    queue(system, "caller", bytes);
    settle(system);
}

/// Makes the caller call with `bytes` and steps until the request waits in
/// module `server`'s inbox.
fn call_until_queued(system: &mut System, server: &str, bytes: &[u8]) {
    queue(system, "caller", bytes);
    step_until_queued_for(system, server);
}

#[test]
fn a_module_calls_another_and_gets_the_reply() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    call(&mut system, b"hello");
    call(&mut system, b"again");
    assert_eq!(caller_log(&system), ["ok 1 1", "ok 2 1"]);
    let counter = index(&system, "counter");
    assert!(system.router.requests_to(counter).is_empty());
}

#[test]
fn a_server_that_faults_on_the_request_fails_the_call_and_the_next_call_reaches_its_new_instance() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    // The counter traps on a 4-byte message.
    call(&mut system, b"trap");
    assert_eq!(caller_log(&system), ["error 14"], "Closed, not a hang");
    let counter = index(&system, "counter");
    assert_eq!(system.table.slots[counter].tracker.restarts, 1);
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["error 14", "ok 1 1"]);
    assert!(system.router.requests_to(counter).is_empty());
}

#[test]
fn a_call_to_a_server_waiting_for_its_restart_is_replayed_to_the_new_instance() {
    let mut system = boot_calls("counter", &[("counter", &[("backoff", "40ms")])], &[]);
    let counter = index(&system, "counter");
    // Two faults: the first restarts at once, the second after the backoff.
    for _ in 0..2 {
        queue(&mut system, "counter", b"trap");
        settle(&mut system);
    }
    assert!(matches!(
        system.table.slots[counter].state,
        ModuleState::RestartPending { .. }
    ));
    call(&mut system, b"hello");
    assert!(
        caller_log(&system).is_empty(),
        "the call waits for the server"
    );
    assert_eq!(system.table.slots[counter].inbox.len(), 1);
    // The restart is due within the caller's deadline.
    system.kernel.clock += 45 * 1_000_000;
    settle(&mut system);
    assert_eq!(system.table.slots[counter].state, ModuleState::Running);
    assert_eq!(
        caller_log(&system),
        ["ok 1 1"],
        "replayed to the new instance"
    );
}

#[test]
fn a_call_nobody_answers_in_time_fails_with_timed_out_and_the_late_answer_is_dropped() {
    let mut system = boot_calls("counter", &[("counter", &[("backoff", "200ms")])], &[]);
    let counter = index(&system, "counter");
    for _ in 0..2 {
        queue(&mut system, "counter", b"trap");
        settle(&mut system);
    }
    call(&mut system, b"hello");
    assert!(caller_log(&system).is_empty());
    system.kernel.clock += u64::from(DEADLINE_MS) * 1_000_000;
    settle(&mut system);
    assert_eq!(caller_log(&system), ["error 17"], "TimedOut");
    // The server comes back and answers: the caller no longer waits.
    system.kernel.clock += 200 * 1_000_000;
    settle(&mut system);
    assert_eq!(system.table.slots[counter].state, ModuleState::Running);
    assert!(system.router.requests_to(counter).is_empty(), "answered");
    assert_eq!(
        caller_log(&system),
        ["error 17"],
        "the late answer is dropped"
    );
    let caller = index(&system, "caller");
    assert!(system.table.slots[caller].is_running());
}

#[test]
fn a_stopped_server_fails_the_calls_queued_for_it_and_refuses_new_ones() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    call_until_queued(&mut system, "counter", b"hello");
    let report = run(&mut system, stop("counter"));
    assert!(report.is_ok(), "{report:?}");
    settle(&mut system);
    assert_eq!(caller_log(&system), ["error 14"]);
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["error 14", "error 14"]);
}

#[test]
fn a_call_to_a_held_server_fails_with_closed_and_start_brings_the_calls_back() {
    let policy = [("hold-after", "1"), ("backoff", "1ms")];
    let mut system = boot_calls("counter", &[("counter", &policy)], &[]);
    let counter = index(&system, "counter");
    // The counter traps on a 4-byte message; its second fault is past the
    // policy and holds it.
    for _ in 0..2 {
        call(&mut system, b"trap");
        for _ in 0..20 {
            settle(&mut system);
            system.wait_for_work();
        }
    }
    assert_eq!(system.table.slots[counter].state, ModuleState::Held);
    assert_eq!(caller_log(&system), ["error 14", "error 14"]);
    // A held server fails a call at once instead of keeping it waiting.
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["error 14", "error 14", "error 14"]);
    assert!(system.router.requests_to(counter).is_empty());
    assert!(system.table.slots[counter].inbox.is_empty());
    let report = run(&mut system, start("counter"));
    assert!(report.is_ok(), "{report:?}");
    call(&mut system, b"hello");
    assert_eq!(
        caller_log(&system),
        ["error 14", "error 14", "error 14", "ok 1 1"]
    );
}

#[test]
fn a_swapped_server_answers_the_call_queued_for_the_old_version() {
    let mut system = boot_calls(
        "counter",
        &[("counter", &[])],
        &[(
            "counter-v2.wasm",
            module("counter", 2, Behaviour::default()),
        )],
    );
    call(&mut system, b"hello");
    call_until_queued(&mut system, "counter", b"again");
    let report = run(&mut system, swap("counter", "counter-v2.wasm"));
    assert!(report.is_ok(), "{report:?}");
    settle(&mut system);
    // The count carried over: the second call is the new version's second message.
    assert_eq!(caller_log(&system), ["ok 1 1", "ok 2 2"]);
}

#[test]
fn a_restarted_caller_never_gets_the_answer_meant_for_its_old_instance() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    let caller = index(&system, "caller");
    let counter = index(&system, "counter");
    call_until_queued(&mut system, "counter", b"hello");
    // The counter takes the call and is away with it while the caller restarts.
    system.kernel.hold_events = true;
    system.step();
    assert!(system.table.slots[counter].inbox.is_empty(), "taken");
    assert_eq!(system.router.requests_to(counter).len(), 1);
    let old = system.table.slots[caller].generation;
    let report = run(&mut system, restart("caller"));
    assert!(report.is_ok(), "{report:?}");
    let handled = system.table.slots[caller].events_handled;
    system.kernel.hold_events = false;
    settle(&mut system);
    assert!(system.table.slots[caller].generation != old);
    assert!(caller_log(&system).is_empty(), "no reply event ran");
    assert_eq!(
        system.table.slots[caller].events_handled, handled,
        "the answer never reached the new instance's inbox"
    );
    assert!(system.router.requests_to(counter).is_empty(), "answered");
    // The new instance calls as the old one did; the counter ran both.
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["ok 2 1"]);
    assert_eq!(system.router.calls_open(), 0);
}

#[test]
fn a_call_no_server_took_is_withdrawn_when_its_caller_restarts_and_never_runs() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    let counter = index(&system, "counter");
    for round in 0..20 {
        // Once waiting in the counter's inbox, once still on the endpoint's
        // queue (routed by hand, so nothing takes it off).
        if round % 2 == 0 {
            queue(&mut system, "caller", b"hello");
            step_until_queued_for(&mut system, "counter");
        } else {
            let caller = index(&system, "caller");
            let call = Routed::Call {
                from: String::from("caller"),
                generation: system.table.slots[caller].generation,
                endpoint: system.router.endpoint_id("counter").expect("served"),
                call: 1,
                bytes: b"hello".to_vec(),
                loan: None,
            };
            system
                .router
                .route(call, &mut system.table, &mut system.kernel);
            assert!(system.table.slots[counter].inbox.is_empty());
        }
        assert_eq!(system.router.calls_open(), 1, "round {round}");
        let report = run(&mut system, restart("caller"));
        assert!(report.is_ok(), "{report:?}");
        assert!(system.table.slots[counter].inbox.is_empty(), "taken back");
        assert!(system.router.requests_to(counter).is_empty());
        assert_eq!(system.router.calls_open(), 0);
        assert!(
            system
                .kernel
                .process_queues
                .values()
                .all(|queue| queue.is_empty()),
            "nothing is left on the endpoint's queue"
        );
        settle(&mut system);
    }
    // The counter never ran a withdrawn call: this is its first message.
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["ok 1 1"]);
}

#[test]
fn a_swapped_caller_receives_the_answers_to_its_predecessors_calls() {
    let caller_v2 = caller_module("counter", 2);
    let mut system = boot_calls(
        "counter",
        &[("counter", &[])],
        &[("caller-v2.wasm", caller_v2)],
    );
    call_until_queued(&mut system, "counter", b"hello");
    let report = run(&mut system, swap("caller", "caller-v2.wasm"));
    assert!(report.is_ok(), "{report:?}");
    settle(&mut system);
    assert_eq!(caller_log(&system), ["ok 1 1"]);
    let caller = index(&system, "caller");
    let version = system.table.slots[caller]
        .module
        .as_ref()
        .unwrap()
        .version();
    assert_eq!(version, "2", "the new version took the answer");
}

#[test]
fn a_call_to_an_endpoint_nobody_serves_fails_at_once() {
    let mut system = boot_calls("nobody", &[("counter", &[])], &[]);
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["error 14"]);
}

#[test]
fn a_call_to_the_supervisor_endpoint_is_denied() {
    let mut system = boot_calls("supervisor", &[("counter", &[])], &[]);
    call(&mut system, b"ps");
    assert_eq!(caller_log(&system), ["error 01"]);
}

#[test]
fn a_hundred_calls_in_a_row_half_of_them_faulting_the_server_leave_nothing_behind() {
    let policy = [("hold-after", "1000"), ("backoff", "1ms"), ("max", "1ms")];
    let mut system = boot_calls("counter", &[("counter", &policy)], &[]);
    let counter = index(&system, "counter");
    let caller = index(&system, "caller");
    for round in 0..100 {
        call(&mut system, b"hello");
        call(&mut system, b"trap");
        let log = caller_log(&system);
        assert_eq!(
            log[log.len() - 2..],
            ["ok 1 1", "error 14"],
            "round {round}"
        );
        // Let the backoff pass.
        for _ in 0..200 {
            if system.table.slots[counter].is_running() {
                break;
            }
            system.wait_for_work();
            settle(&mut system);
        }
        assert!(system.table.slots[counter].is_running(), "round {round}");
    }
    assert!(system.router.requests_to(counter).is_empty());
    assert!(system.router.call_answers.is_empty());
    assert!(system.table.slots[caller].inbox.is_empty());
    let sandbox = system.table.slots[caller].sandbox.as_ref().unwrap();
    assert!(sandbox.outstanding_calls().is_empty());
    assert_eq!(system.table.slots[counter].tracker.restarts, 100);
}

#[test]
fn modules_and_processes_share_the_endpoints_one_queue_its_order_and_its_back_pressure() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    let caller = index(&system, "caller");
    let counter = index(&system, "counter");
    let generation = system.table.slots[caller].generation;
    let endpoint = system.router.endpoint_id("counter").expect("served");
    let opened = system.router.opened_endpoint(endpoint).expect("opened");
    // The counter takes at most two events into its inbox.
    system.table.slots[counter].plan.limits.queue = Some(2);
    // Fill its kernel IPC queue as processes would, let the router move
    // what the inbox takes, and fill the queue again.
    let mut sent = 0;
    for _ in 0..2 {
        while system.kernel.send_on(opened, b"x").is_ok() {
            sent += 1;
        }
        system.router.look_again = true;
        system
            .router
            .take_endpoint_messages(&mut system.table, &mut system.kernel);
    }
    assert_eq!(sent, crate::ipc::QUEUE_CAPACITY + 2);
    assert_eq!(system.table.slots[counter].inbox.len(), 2);
    // A module's call meets the same full queue.
    system.kernel.outbox.0.borrow_mut().push_back(Routed::Call {
        from: String::from("caller"),
        generation,
        endpoint,
        call: 5,
        bytes: b"hello".to_vec(),
        loan: None,
    });
    system.route_queued();
    assert_eq!(system.router.calls_open(), 0);
    let answer = &system.router.call_answers[0];
    assert_eq!(
        (answer.call, answer.outcome.clone()),
        (5, Err(ErrorCode::Busy))
    );
    system.router.call_answers.clear();
    settle(&mut system);
    // Everything queued was handled, in order; the next call comes after.
    call(&mut system, b"hello");
    // The counter writes its count as one character, `'0' + count`.
    let count = (sent + 1) as u8;
    assert_eq!(
        caller_log(&system),
        [format!("ok {} 1", char::from(b'0' + count))]
    );
    assert_eq!(system.router.calls_open(), 0);
}

#[test]
fn a_burst_routed_in_one_pass_reaches_the_server_whole_and_in_order() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    let counter = index(&system, "counter");
    let endpoint = system.router.endpoint_id("counter").expect("served");
    // Four queues' worth, as the kernel's console output can come.
    let burst = 4 * crate::ipc::QUEUE_CAPACITY;
    for number in 0..burst {
        system.kernel.outbox.0.borrow_mut().push_back(Routed::Send {
            from: String::from("caller"),
            endpoint,
            bytes: format!("m{number}").into_bytes(),
        });
    }
    system.route_queued();
    let inbox: Vec<Vec<u8>> = system.table.slots[counter]
        .inbox
        .iter()
        .map(|pending| match pending {
            Pending::Message { bytes, .. } => bytes.clone(),
            _ => Vec::new(),
        })
        .collect();
    let expected: Vec<Vec<u8>> = (0..burst)
        .map(|number| format!("m{number}").into_bytes())
        .collect();
    assert_eq!(inbox, expected);
}
