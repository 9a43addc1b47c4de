//! `ipc_call` and `on_reply`: a module calls an endpoint, the reply or the
//! failure comes back as an event, deadlines fail calls with `TimedOut`, the
//! number of outstanding calls is bounded, and replies meant for an earlier
//! instance are dropped while a swapped-in version receives its
//! predecessor's.

mod common;

use cella_wasm_host::abi::ErrorCode;
use cella_wasm_host::{
    Delivery, Event, Grant, Limits, LoadErrorKind, Outgoing, QueueOutbox, Runtime, Sandbox,
    SimulatedPlatform,
};

type Host = Runtime<SimulatedPlatform, QueueOutbox>;
type Caller = Sandbox<SimulatedPlatform, QueueOutbox>;

const ENDPOINT: u64 = 7;

/// A caller: a message `[deadline ms, length, handle]` (three little-endian
/// words; handle 0: the granted endpoint) makes it call the endpoint with
/// `length` bytes of its memory and send `ipc_call`'s result (4 bytes) to
/// the endpoint; `on_reply` sends `[call, status, length, bytes...]` there.
fn caller(version: &str) -> Vec<u8> {
    let body = r#"
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "ping")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $handle i32)
    (drop (call $receive (i32.const 0x100) (i32.const 12)))
    (local.set $handle (i32.load (i32.const 0x108)))
    (if (i32.eqz (local.get $handle)) (then (local.set $handle (call $cap (i32.const 0)))))
    (i32.store (i32.const 0x110)
      (call $call (local.get $handle) (i32.const 0x300) (i32.load (i32.const 0x104))
        (i32.load (i32.const 0x100))))
    (drop (call $send (call $cap (i32.const 0)) (i32.const 0x110) (i32.const 4))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32)
    (i32.store (i32.const 0x1f0) (local.get $call))
    (i32.store (i32.const 0x1f4) (local.get $status))
    (i32.store (i32.const 0x1f8) (local.get $length))
    (drop (call $receive (i32.const 0x1fc) (i32.const 64)))
    (drop (call $send (call $cap (i32.const 0)) (i32.const 0x1f0)
      (i32.add (i32.const 12) (local.get $length)))))
  (func (export "save_state") (result i64) (i64.const 0x0000000000000000))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
"#;
    wat::parse_str(common::module_wat(
        "caller",
        version,
        "endpoint log\n",
        body,
    ))
    .expect("caller assembles")
}

fn grant() -> Grant {
    Grant::new().endpoint("log", ENDPOINT)
}

struct Setup {
    runtime: Host,
    sandbox: Caller,
    outbox: QueueOutbox,
    platform: SimulatedPlatform,
}

fn start(limits: Limits) -> Setup {
    let mut runtime = Host::new(limits);
    let module = runtime.load("caller", &caller("1"), &grant()).unwrap();
    let platform = SimulatedPlatform::new();
    let outbox = QueueOutbox::new(64);
    let sandbox = runtime
        .start(&module, platform.clone(), outbox.clone())
        .unwrap();
    Setup {
        runtime,
        sandbox,
        outbox,
        platform,
    }
}

fn words(deadline: i32, length: i32, handle: i32) -> Vec<u8> {
    [deadline, length, handle]
        .iter()
        .flat_map(|word| word.to_le_bytes())
        .collect()
}

fn word(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// A call as the outbox got it: (generation, call id, endpoint, request).
type CallOut = (u32, u32, u64, Vec<u8>);

/// What the caller sent to the endpoint (the results it reports), and the
/// calls it made.
fn sent(outbox: &QueueOutbox) -> (Vec<Vec<u8>>, Vec<CallOut>) {
    let mut sends = Vec::new();
    let mut calls = Vec::new();
    for item in outbox.drain() {
        match item {
            Outgoing::Send { message, .. } => sends.push(message),
            Outgoing::Call {
                generation,
                call,
                endpoint,
                message,
                ..
            } => calls.push((generation, call, endpoint, message)),
            Outgoing::Reply { .. } => panic!("the caller replies to nothing"),
        }
    }
    (sends, calls)
}

/// Makes the caller call with `[deadline, length, handle]`; returns what
/// `ipc_call` returned to it.
fn make_call(setup: &mut Setup, deadline: i32, length: i32, handle: i32) -> i32 {
    let message = words(deadline, length, handle);
    let delivery = setup.sandbox.deliver(Event::Message {
        request: 0,
        bytes: &message,
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let (sends, _) = sent(&setup.outbox);
    word(&sends[0], 0)
}

#[test]
fn a_call_goes_out_and_its_reply_runs_on_reply_with_readable_bytes() {
    let mut setup = start(Limits::default());
    let message = words(100, 4, 0);
    setup
        .sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &message,
        })
        .unwrap();
    let (sends, calls) = sent(&setup.outbox);
    let call = word(&sends[0], 0);
    assert!(call > 0, "ipc_call returned {call}");
    let generation = setup.sandbox.generation();
    assert_eq!(
        calls,
        [(generation, call as u32, ENDPOINT, b"ping".to_vec())]
    );
    assert_eq!(setup.sandbox.outstanding_calls(), [call as u32]);
    assert_eq!(call as u32 >> 8, generation & 0x7f_ffff);

    let delivery = setup.sandbox.deliver(Event::Reply {
        call: call as u32,
        outcome: Ok(b"pong"),
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let (sends, _) = sent(&setup.outbox);
    let record = &sends[0];
    assert_eq!(word(record, 0), call);
    assert_eq!(word(record, 4), 0);
    assert_eq!(word(record, 8), 4);
    assert_eq!(&record[12..], b"pong");
    assert!(setup.sandbox.outstanding_calls().is_empty());

    // Answered once: a second reply to the same call is not delivered.
    let again = setup.sandbox.deliver(Event::Reply {
        call: call as u32,
        outcome: Ok(b"pong"),
    });
    assert_eq!(again, Ok(Delivery::UnknownCall));
    assert!(setup.outbox.is_empty());
}

#[test]
fn a_failed_call_reports_the_error_code_as_its_status() {
    let mut setup = start(Limits::default());
    let call = make_call(&mut setup, 100, 4, 0);
    let delivery = setup.sandbox.deliver(Event::Reply {
        call: call as u32,
        outcome: Err(ErrorCode::Closed),
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let (sends, _) = sent(&setup.outbox);
    assert_eq!(word(&sends[0], 4), ErrorCode::Closed.code());
    assert_eq!(word(&sends[0], 8), 0);
}

#[test]
fn a_due_deadline_fails_the_call_with_timed_out_and_a_late_reply_is_dropped() {
    let mut setup = start(Limits::default());
    setup.platform.set_now(1_000_000);
    let call = make_call(&mut setup, 5, 4, 0) as u32;
    assert_eq!(setup.sandbox.next_call_deadline(), Some(6_000_000));
    setup.platform.set_now(5_999_999);
    // Nothing due: the caller has no `on_timer`, so the timer event finds no handler.
    assert_eq!(setup.sandbox.deliver(Event::Timer), Ok(Delivery::NoHandler));
    setup.platform.set_now(6_000_000);
    assert_eq!(
        setup.sandbox.deliver(Event::Timer),
        Ok(Delivery::Handled { count: 1 })
    );
    let (sends, _) = sent(&setup.outbox);
    assert_eq!(word(&sends[0], 0) as u32, call);
    assert_eq!(word(&sends[0], 4), ErrorCode::TimedOut.code());
    assert_eq!(setup.sandbox.next_call_deadline(), None);
    let late = setup.sandbox.deliver(Event::Reply {
        call,
        outcome: Ok(b"late"),
    });
    assert_eq!(late, Ok(Delivery::UnknownCall));
}

#[test]
fn deadlines_are_capped() {
    let mut setup = start(Limits::default());
    make_call(&mut setup, i32::MAX, 4, 0);
    let cap = u64::from(cella_wasm_host::abi::MAX_CALL_DEADLINE_MILLISECONDS) * 1_000_000;
    assert_eq!(setup.sandbox.next_call_deadline(), Some(cap));
}

#[test]
fn bad_calls_are_refused_with_their_codes_and_nothing_leaves() {
    let mut setup = start(Limits::default());
    let too_long = cella_wasm_host::abi::MAX_MESSAGE_BYTES as i32 + 1;
    assert_eq!(
        make_call(&mut setup, 100, too_long, 0),
        ErrorCode::TooLong.code()
    );
    assert_eq!(
        make_call(&mut setup, 0, 4, 0),
        ErrorCode::BadArgument.code()
    );
    assert_eq!(
        make_call(&mut setup, -1, 4, 0),
        ErrorCode::BadArgument.code()
    );
    assert_eq!(
        make_call(&mut setup, 100, -4, 0),
        ErrorCode::BadArgument.code()
    );
    assert_eq!(
        make_call(&mut setup, 100, 70_000, 0),
        ErrorCode::TooLong.code()
    );
    // A handle this instance does not hold: an endpoint it was not granted.
    assert_eq!(
        make_call(&mut setup, 100, 4, 0x7f00),
        ErrorCode::BadHandle.code()
    );
    assert!(setup.sandbox.outstanding_calls().is_empty());
    assert!(setup.outbox.is_empty());
}

#[test]
fn outstanding_calls_are_bounded_by_the_limit() {
    let limits = Limits {
        max_outstanding_calls: 2,
        ..Limits::default()
    };
    let mut setup = start(limits);
    let first = make_call(&mut setup, 100, 4, 0);
    let second = make_call(&mut setup, 100, 4, 0);
    assert!(first > 0 && second > 0 && first != second);
    assert_eq!(
        make_call(&mut setup, 100, 4, 0),
        ErrorCode::Exhausted.code()
    );
    setup
        .sandbox
        .deliver(Event::Reply {
            call: first as u32,
            outcome: Ok(b""),
        })
        .unwrap();
    sent(&setup.outbox);
    assert!(make_call(&mut setup, 100, 4, 0) > 0);
}

#[test]
fn a_call_the_router_refuses_is_not_outstanding() {
    let mut setup = start(Limits::default());
    // A full outbox: the call's hand-over fails with Busy.
    let mut filler = setup.outbox.clone();
    for _ in 0..64 {
        cella_wasm_host::Outbox::send(&mut filler, "test", 1, b"x").unwrap();
    }
    let message = words(100, 4, 0);
    let delivery = setup.sandbox.deliver(Event::Message {
        request: 0,
        bytes: &message,
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let (_, calls) = sent(&setup.outbox);
    assert!(calls.is_empty());
    assert!(setup.sandbox.outstanding_calls().is_empty());
    assert_eq!(setup.sandbox.next_call_deadline(), None);
}

#[test]
fn a_restarted_instance_drops_replies_meant_for_the_old_one() {
    let mut setup = start(Limits::default());
    let call = make_call(&mut setup, 100, 4, 0) as u32;
    setup.runtime.restart(&mut setup.sandbox).unwrap();
    assert!(setup.sandbox.outstanding_calls().is_empty());
    let delivery = setup.sandbox.deliver(Event::Reply {
        call,
        outcome: Ok(b"pong"),
    });
    assert_eq!(delivery, Ok(Delivery::UnknownCall));
    // The new instance's calls carry its own generation.
    let fresh = make_call(&mut setup, 100, 4, 0) as u32;
    assert_ne!(fresh >> 8, call >> 8);
}

#[test]
fn a_swapped_in_version_receives_the_replies_to_its_predecessors_calls() {
    let mut setup = start(Limits::default());
    let call = make_call(&mut setup, 100, 4, 0) as u32;
    let new = setup
        .runtime
        .load("caller", &caller("2"), &grant())
        .unwrap();
    setup.runtime.swap(&mut setup.sandbox, &new).unwrap();
    assert_eq!(setup.sandbox.module().version(), "2");
    assert_eq!(setup.sandbox.outstanding_calls(), [call]);
    let delivery = setup.sandbox.deliver(Event::Reply {
        call,
        outcome: Ok(b"pong"),
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
}

#[test]
fn a_module_that_imports_ipc_call_must_export_on_reply() {
    let body = r#"
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (func (export "init") (result i32) (i32.const 0))
"#;
    let bytes = wat::parse_str(common::module_wat("deaf", "1", "", body)).unwrap();
    let error = Host::new(Limits::default())
        .load("deaf", &bytes, &Grant::new())
        .unwrap_err();
    assert_eq!(
        error.kind,
        LoadErrorKind::MissingExport { name: "on_reply" }
    );
    assert!(error.to_string().contains("on_reply"), "{error}");
}

#[test]
fn a_call_pays_fuel_for_its_bytes() {
    let mut setup = start(Limits::default());
    let before = setup.sandbox.counters().host_call_bytes;
    make_call(&mut setup, 100, 4000, 0);
    let after = setup.sandbox.counters().host_call_bytes;
    // 4000 bytes of the call, 12 received, 4 sent.
    assert_eq!(after - before, 4000 + 12 + 4);
}

#[test]
fn a_thousand_calls_and_replies_leave_nothing_behind() {
    let mut setup = start(Limits::default());
    let pages = setup.sandbox.memory_pages();
    for round in 0..1000 {
        let call = make_call(&mut setup, 100, 4, 0);
        assert!(call > 0, "round {round}: {call}");
        let outcome = if round % 2 == 0 {
            Ok(&b"pong"[..])
        } else {
            Err(ErrorCode::Closed)
        };
        let delivery = setup.sandbox.deliver(Event::Reply {
            call: call as u32,
            outcome,
        });
        assert_eq!(
            delivery,
            Ok(Delivery::Handled { count: 1 }),
            "round {round}"
        );
        sent(&setup.outbox);
    }
    assert!(setup.sandbox.outstanding_calls().is_empty());
    assert_eq!(setup.sandbox.memory_pages(), pages);
    assert!(setup.sandbox.is_alive());
}
