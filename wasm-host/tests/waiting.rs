//! `ipc_wait`: a handler calls an endpoint and waits for the answer inside
//! itself. The instance is suspended until the answer or the call's
//! deadline, takes nothing else meanwhile, goes on with the reply written
//! where it asked, and cannot wait where it may not (`init`) or have its
//! state saved half way through a handler.

mod common;

use cella_wasm_host::OperationName;
use cella_wasm_host::abi::ErrorCode;
use cella_wasm_host::{
    Delivery, Event, FaultKind, Grant, Limits, Outgoing, QueueOutbox, Runtime, Sandbox,
    SimulatedPlatform, StateError,
};

type Host = Runtime<SimulatedPlatform, QueueOutbox>;
type Waiter = Sandbox<SimulatedPlatform, QueueOutbox>;

const ENDPOINT: u64 = 7;

/// A message `[deadline ms, capacity, times]` makes the waiter call the
/// endpoint with "ping" and wait for the answer, `times` times in a row,
/// then send `[last ipc_wait result, first word of its own message, reply
/// bytes...]` to the endpoint. `init` tries to wait and keeps what it got
/// at 0x600; a message `[0, 0, 0]` sends that back. `on_reply` sends "R".
fn waiter() -> Vec<u8> {
    let body = r#"
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_wait" (func $wait (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "ping")
  (data (i32.const 0x310) "R")
  (func (export "init") (result i32)
    (i32.store (i32.const 0x600) (call $wait (i32.const 1) (i32.const 0x500) (i32.const 16)))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $times i32) (local $result i32)
    (drop (call $receive (i32.const 0x100) (i32.const 12)))
    (if (i32.eqz (i32.load (i32.const 0x100)))
      (then
        (drop (call $send (call $cap (i32.const 0)) (i32.const 0x600) (i32.const 4)))
        (return)))
    (local.set $times (i32.load (i32.const 0x108)))
    (loop $again
      (local.set $result
        (call $wait
          (call $call (call $cap (i32.const 0)) (i32.const 0x300) (i32.const 4)
            (i32.load (i32.const 0x100)))
          (i32.const 0x508) (i32.load (i32.const 0x104))))
      (local.set $times (i32.sub (local.get $times) (i32.const 1)))
      (br_if $again (i32.gt_s (local.get $times) (i32.const 0))))
    ;; The handler's own message is still readable after the waits.
    (drop (call $receive (i32.const 0x200) (i32.const 12)))
    (i32.store (i32.const 0x500) (local.get $result))
    (i32.store (i32.const 0x504) (i32.load (i32.const 0x200)))
    (drop (call $send (call $cap (i32.const 0)) (i32.const 0x500)
      (i32.add (i32.const 8)
        (select (local.get $result) (i32.const 0) (i32.gt_s (local.get $result) (i32.const 0)))))))
  (func (export "on_reply") (param i32 i32 i32)
    (drop (call $send (call $cap (i32.const 0)) (i32.const 0x310) (i32.const 1))))
  (func (export "save_state") (result i64) (i64.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
"#;
    wat::parse_str(common::module_wat("waiter", "1", "endpoint log\n", body))
        .expect("waiter assembles")
}

struct Setup {
    sandbox: Waiter,
    outbox: QueueOutbox,
    platform: SimulatedPlatform,
}

fn start() -> Setup {
    let mut runtime = Host::new(Limits::default());
    let module = runtime
        .load("waiter", &waiter(), &Grant::new().endpoint("log", ENDPOINT))
        .unwrap();
    let platform = SimulatedPlatform::new();
    let outbox = QueueOutbox::new(64);
    let sandbox = runtime
        .start(&module, platform.clone(), outbox.clone())
        .unwrap();
    Setup {
        sandbox,
        outbox,
        platform,
    }
}

fn words(values: [i32; 3]) -> Vec<u8> {
    values.iter().flat_map(|word| word.to_le_bytes()).collect()
}

fn word(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The messages sent and the ids of the calls made since the last look.
fn drained(outbox: &QueueOutbox) -> (Vec<Vec<u8>>, Vec<u32>) {
    let mut sends = Vec::new();
    let mut calls = Vec::new();
    for item in outbox.drain() {
        match item {
            Outgoing::Send { message, .. } => sends.push(message),
            Outgoing::Call { call, .. } => calls.push(call),
            Outgoing::Reply { .. } => panic!("the waiter replies to nothing"),
        }
    }
    (sends, calls)
}

fn message(setup: &mut Setup, values: [i32; 3]) -> Result<Delivery, cella_wasm_host::Fault> {
    let bytes = words(values);
    setup.sandbox.deliver(Event::Message {
        request: 0,
        bytes: &bytes,
    })
}

#[test]
fn a_handler_waits_for_its_answer_and_goes_on_with_the_reply() {
    let mut setup = start();
    let delivery = message(&mut setup, [100, 64, 1]).unwrap();
    let (sends, calls) = drained(&setup.outbox);
    assert!(sends.is_empty(), "the handler went on before its answer");
    assert_eq!(calls.len(), 1);
    let call = calls[0];
    assert_eq!(delivery, Delivery::Waiting { call });
    assert_eq!(setup.sandbox.waiting_for(), Some(call));
    assert!(setup.sandbox.wait_deadline().is_some());
    // The trace says what the handler was doing: the message it took, its
    // call (by the operation its request names) and the wait.
    let trace: Vec<String> = setup
        .sandbox
        .recent_accesses()
        .iter()
        .map(|access| access.to_string())
        .collect();
    let wanted = [
        String::from("took a message of 12 bytes"),
        format!("call {call:#x}: 4 bytes to endpoint {ENDPOINT}: `ping`"),
        format!("wait for the answer to call {call:#x}"),
    ];
    assert!(trace.ends_with(&wanted), "{trace:?}");

    // Nothing else reaches a suspended instance.
    assert_eq!(message(&mut setup, [100, 64, 1]), Ok(Delivery::NotNow));
    assert_eq!(
        setup.sandbox.deliver(Event::Irq { line: 4 }),
        Ok(Delivery::NotNow)
    );
    assert_eq!(
        setup.sandbox.deliver(Event::Reply {
            call: call + 1,
            outcome: Ok(b"other")
        }),
        Ok(Delivery::NotNow)
    );
    assert_eq!(
        setup.sandbox.deliver(Event::Timer),
        Ok(Delivery::NothingDue),
        "its deadline has not passed"
    );
    assert!(drained(&setup.outbox).0.is_empty());

    let resumed = setup.sandbox.deliver(Event::Reply {
        call,
        outcome: Ok(b"pong!"),
    });
    assert_eq!(resumed, Ok(Delivery::Handled { count: 1 }));
    assert_eq!(setup.sandbox.waiting_for(), None);
    let (sends, calls) = drained(&setup.outbox);
    assert!(calls.is_empty());
    assert_eq!(sends.len(), 1, "the answer ran no on_reply: {sends:?}");
    assert_eq!(
        word(&sends[0], 0),
        5,
        "ipc_wait returned the reply's length"
    );
    assert_eq!(
        word(&sends[0], 4),
        100,
        "its own message was still readable"
    );
    assert_eq!(&sends[0][8..], b"pong!");
    // The call is closed: a late copy of the answer is dropped.
    assert_eq!(
        setup.sandbox.deliver(Event::Reply {
            call,
            outcome: Ok(b"again")
        }),
        Ok(Delivery::UnknownCall)
    );
}

#[test]
fn a_deadline_resumes_the_handler_with_timed_out() {
    let mut setup = start();
    setup.platform.set_now(1_000);
    let Ok(Delivery::Waiting { call }) = message(&mut setup, [10, 64, 1]) else {
        panic!("the handler did not wait");
    };
    let deadline = setup.sandbox.wait_deadline().unwrap();
    assert_eq!(deadline, 1_000 + 10_000_000);
    setup.platform.set_now(deadline);
    assert_eq!(
        setup.sandbox.deliver(Event::Timer),
        Ok(Delivery::Handled { count: 1 })
    );
    let (sends, _) = drained(&setup.outbox);
    assert_eq!(word(&sends[0], 0), ErrorCode::TimedOut.code());
    assert_eq!(
        setup.sandbox.deliver(Event::Reply {
            call,
            outcome: Ok(b"late")
        }),
        Ok(Delivery::UnknownCall)
    );
}

#[test]
fn a_reply_that_does_not_fit_is_too_long_and_failures_pass_through() {
    let mut setup = start();
    let Ok(Delivery::Waiting { call }) = message(&mut setup, [100, 4, 1]) else {
        panic!("the handler did not wait");
    };
    setup
        .sandbox
        .deliver(Event::Reply {
            call,
            outcome: Ok(b"longer than four"),
        })
        .unwrap();
    let (sends, _) = drained(&setup.outbox);
    assert_eq!(word(&sends[0], 0), ErrorCode::TooLong.code());
    assert_eq!(sends[0].len(), 8, "nothing was written");

    let Ok(Delivery::Waiting { call }) = message(&mut setup, [100, 64, 1]) else {
        panic!("the handler did not wait");
    };
    setup
        .sandbox
        .deliver(Event::Reply {
            call,
            outcome: Err(ErrorCode::Closed),
        })
        .unwrap();
    assert_eq!(
        word(&drained(&setup.outbox).0[0], 0),
        ErrorCode::Closed.code()
    );
}

#[test]
fn init_may_not_wait() {
    let mut setup = start();
    assert_eq!(
        message(&mut setup, [0, 0, 0]),
        Ok(Delivery::Handled { count: 1 })
    );
    let (sends, _) = drained(&setup.outbox);
    assert_eq!(word(&sends[0], 0), ErrorCode::Denied.code());
}

#[test]
fn a_suspended_instance_cannot_save_its_state_until_its_handler_ends() {
    let mut setup = start();
    let Ok(Delivery::Waiting { call }) = message(&mut setup, [100, 64, 1]) else {
        panic!("the handler did not wait");
    };
    let refused = setup.sandbox.save_state().unwrap_err();
    assert_eq!(refused.kind, FaultKind::BadState(StateError::Waiting));
    assert!(setup.sandbox.is_alive(), "a refused save kills nothing");
    setup
        .sandbox
        .deliver(Event::Reply {
            call,
            outcome: Ok(b"ok"),
        })
        .unwrap();
    assert!(setup.sandbox.save_state().is_ok());
}

#[test]
fn many_waits_in_one_handler_each_resume_it_and_nothing_is_left_over() {
    let mut setup = start();
    let rounds = 300;
    let mut delivery = message(&mut setup, [100, 64, rounds]).unwrap();
    let mut answered = 0;
    while let Delivery::Waiting { call } = delivery {
        let (_, calls) = drained(&setup.outbox);
        assert_eq!(calls, [call]);
        answered += 1;
        delivery = setup
            .sandbox
            .deliver(Event::Reply {
                call,
                outcome: Ok(b"pong"),
            })
            .unwrap();
    }
    assert_eq!(answered, rounds);
    assert_eq!(delivery, Delivery::Handled { count: 1 });
    let (sends, _) = drained(&setup.outbox);
    assert_eq!(word(&sends[0], 0), 4);
    assert!(setup.sandbox.outstanding_calls().is_empty());
    assert_eq!(setup.sandbox.waiting_for(), None);
}

#[test]
fn an_operation_name_is_a_typed_request_s_first_word_or_nothing() {
    assert_eq!(OperationName::of(b"read\0\x01\x02").as_str(), "read");
    assert_eq!(OperationName::of(b"space").as_str(), "space");
    assert_eq!(OperationName::of(b"read_lent\0").as_str(), "read_lent");
    for not_one in [
        &b""[..],
        b"\0abc",
        b"Hello world",
        b"\xff\xfe",
        b"a_name_longer_than_sixteen",
    ] {
        assert_eq!(OperationName::of(not_one).as_str(), "", "{not_one:?}");
    }
}
