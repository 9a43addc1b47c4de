//! A module's calls to an endpoint a native process serves, with the
//! process mocked (`MockKernel::process_calls`): the process's answer or
//! failure reaches the caller as a reply event; its endpoint closing fails
//! the calls open on it; a caller that restarts before the answer never
//! sees it and leaves no record; a process that never answers holds
//! nothing past the longest call deadline; a thousand calls leave the
//! router's tables empty.

use super::calls::{boot_calls, call, caller_log, caller_module};
use super::*;
use crate::ipc::IpcError;
use cella_wasm_host::abi::{ErrorCode, MAX_CALL_DEADLINE_MILLISECONDS};

/// Boots the caller calling `net`, served by a "process", and a counter module.
fn boot_with_process() -> System {
    let mut system = boot_calls("net", &[("counter", &[])], &[]);
    system.kernel.process_served.push(String::from("net"));
    system
}

/// The token of the one call open on the process.
fn open_token(system: &System) -> u64 {
    let tokens: Vec<u64> = system.kernel.process_calls.keys().copied().collect();
    assert_eq!(tokens.len(), 1, "one call open: {tokens:?}");
    tokens[0]
}

/// What the caller logs for a failed call with `error`.
fn failed(error: IpcError) -> String {
    format!("error {:02}", -error.error_code().syscall_code())
}

/// Nothing of the module's calls to processes is left anywhere.
fn assert_nothing_left(system: &System) {
    let caller = index(system, "caller");
    assert_eq!(system.router.calls_open(), 0);
    assert!(system.router.call_answers.is_empty());
    assert!(system.kernel.process_calls.is_empty());
    assert!(system.kernel.process_call_answers.is_empty());
    assert!(system.table.slots[caller].inbox.is_empty());
    let sandbox = system.table.slots[caller].sandbox.as_ref().unwrap();
    assert!(sandbox.outstanding_calls().is_empty());
}

#[test]
fn a_modules_call_answered_by_a_process_reaches_the_caller_as_a_reply() {
    let mut system = boot_with_process();
    call(&mut system, b"hello");
    assert!(
        caller_log(&system).is_empty(),
        "the call waits for the process"
    );
    let token = open_token(&system);
    assert_eq!(system.kernel.process_calls[&token].0, "net");
    assert_eq!(system.kernel.process_calls[&token].1, b"hello");
    assert_eq!(system.router.calls_open(), 1);
    assert!(
        system
            .kernel
            .process_answers(token, Ok(&[3, 0, 0, 0, 7, 0, 0, 0]))
    );
    settle(&mut system);
    assert_eq!(caller_log(&system), ["ok 3 7"]);
    assert_nothing_left(&system);
}

#[test]
fn a_call_the_process_fails_reaches_the_caller_as_that_error() {
    let mut system = boot_with_process();
    call(&mut system, b"hello");
    let token = open_token(&system);
    assert!(system.kernel.process_answers(token, Err(IpcError::Full)));
    settle(&mut system);
    assert_eq!(caller_log(&system), [failed(IpcError::Full)]);
    assert_nothing_left(&system);
}

#[test]
fn the_processs_endpoint_closing_fails_every_call_open_on_it() {
    let mut system = boot_with_process();
    for _ in 0..3 {
        call(&mut system, b"hello");
    }
    assert_eq!(system.router.calls_open(), 3);
    system.kernel.process_ends("net");
    settle(&mut system);
    let closed = failed(IpcError::Closed);
    assert_eq!(caller_log(&system), [closed.as_str(); 3]);
    assert_nothing_left(&system);
    // With nobody serving `net` any more, a call fails at once.
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system).len(), 4);
    assert_eq!(caller_log(&system)[3], closed);
    assert_nothing_left(&system);
}

#[test]
fn a_caller_restarted_before_the_answer_never_gets_it_and_leaves_no_record() {
    let mut system = boot_with_process();
    let caller = index(&system, "caller");
    call(&mut system, b"hello");
    let token = open_token(&system);
    let report = run(&mut system, restart("caller"));
    assert!(report.is_ok(), "{report:?}");
    settle(&mut system);
    assert_eq!(system.kernel.withdrawn_process_calls, [token]);
    assert_eq!(system.router.calls_open(), 0, "the record went");
    // The process answers late (its reply raced the withdrawal): dropped.
    let handled = system.table.slots[caller].events_handled;
    system
        .kernel
        .process_call_answers
        .push((token, Ok(vec![1, 0, 0, 0, 1, 0, 0, 0])));
    settle(&mut system);
    assert!(caller_log(&system).is_empty(), "no reply event ran");
    assert_eq!(system.table.slots[caller].events_handled, handled);
    assert_nothing_left(&system);
    // The new instance calls the process as the old one did.
    call(&mut system, b"again");
    let token = open_token(&system);
    assert!(
        system
            .kernel
            .process_answers(token, Ok(&[2, 0, 0, 0, 5, 0, 0, 0]))
    );
    settle(&mut system);
    assert_eq!(caller_log(&system), ["ok 2 5"]);
    assert_nothing_left(&system);
}

#[test]
fn a_swapped_caller_receives_the_processs_answer_to_its_predecessors_call() {
    let mut system = boot_calls(
        "net",
        &[("counter", &[])],
        &[("caller-v2.wasm", caller_module("net", 2))],
    );
    system.kernel.process_served.push(String::from("net"));
    call(&mut system, b"hello");
    let token = open_token(&system);
    let report = run(&mut system, swap("caller", "caller-v2.wasm"));
    assert!(report.is_ok(), "{report:?}");
    assert!(
        system
            .kernel
            .process_answers(token, Ok(&[4, 0, 0, 0, 2, 0, 0, 0]))
    );
    settle(&mut system);
    assert_eq!(caller_log(&system), ["ok 4 2"]);
    assert_nothing_left(&system);
}

#[test]
fn a_process_that_never_answers_holds_the_call_no_longer_than_the_longest_deadline() {
    let mut system = boot_with_process();
    call(&mut system, b"hello");
    let token = open_token(&system);
    // The caller's own deadline (50 ms) fails the call in the caller.
    system.kernel.clock += 60 * 1_000_000;
    settle(&mut system);
    assert_eq!(caller_log(&system), [failed(IpcError::TimedOut)]);
    assert_eq!(system.router.calls_open(), 1, "kept for a late answer");
    system.kernel.clock += u64::from(MAX_CALL_DEADLINE_MILLISECONDS) * 1_000_000;
    settle(&mut system);
    assert_eq!(system.kernel.withdrawn_process_calls, [token]);
    assert_nothing_left(&system);
}

#[test]
fn a_call_lending_a_buffer_to_a_process_is_refused_with_denied() {
    let mut system = boot_with_process();
    let caller = index(&system, "caller");
    let generation = system.table.slots[caller].generation;
    let loan = cella_wasm_host::Loan {
        device_address: 0x10_0000,
        size: 4096,
        writable: false,
    };
    let endpoint = system.router.endpoint_id("net").expect("granted");
    system.router.route_call(
        "caller",
        generation,
        endpoint,
        7,
        b"lend".to_vec(),
        Some(loan),
        &mut system.table,
        &mut system.kernel,
    );
    assert!(
        system.kernel.process_calls.is_empty(),
        "the process got nothing"
    );
    assert_eq!(system.router.ended_loans, [loan], "the hold ends");
    let answer = &system.router.call_answers[0];
    assert_eq!(
        (answer.call, answer.outcome.clone()),
        (7, Err(ErrorCode::Denied))
    );
}

#[test]
fn a_removed_modules_endpoint_served_by_a_process_takes_the_modules_calls() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    call(&mut system, b"hello");
    assert_eq!(caller_log(&system), ["ok 1 1"]);
    let report = run(
        &mut system,
        Command::Remove {
            module: String::from("counter"),
            force: false,
        },
    );
    assert!(report.is_ok(), "{report:?}");
    let opened = system
        .kernel
        .opened
        .iter()
        .position(|name| name == "counter")
        .unwrap() as u64;
    assert_eq!(
        system.kernel.closed_process_endpoints,
        [opened],
        "its process-side endpoint closed, so a process may serve the name"
    );
    system.kernel.process_served.push(String::from("counter"));
    call(&mut system, b"hello");
    let token = open_token(&system);
    assert!(
        system
            .kernel
            .process_answers(token, Ok(&[9, 0, 0, 0, 9, 0, 0, 0]))
    );
    settle(&mut system);
    assert_eq!(caller_log(&system), ["ok 1 1", "ok 9 9"]);
    assert_nothing_left(&system);
}

#[test]
fn a_thousand_calls_to_a_process_in_a_row_leave_the_routers_tables_empty() {
    let mut system = boot_with_process();
    for round in 0..1_000u32 {
        call(&mut system, b"hello");
        let token = open_token(&system);
        let count = (round % 10) as u8;
        let answer = if round % 3 == 2 {
            Err(IpcError::Full)
        } else {
            Ok(&[count, 0, 0, 0, 1, 0, 0, 0][..])
        };
        assert!(system.kernel.process_answers(token, answer));
        settle(&mut system);
        let expected = if round % 3 == 2 {
            failed(IpcError::Full)
        } else {
            format!("ok {count} 1")
        };
        assert_eq!(caller_log(&system).last(), Some(&expected), "round {round}");
    }
    assert_eq!(caller_log(&system).len(), 1_000);
    assert_nothing_left(&system);
    assert!(system.router.requests.is_empty());
    assert!(system.kernel.withdrawn_process_calls.is_empty());
}
