//! Endpoint capabilities carry rights: a requested (granted) endpoint holds
//! `SEND`, every endpoint the module serves is a capability with `RECEIVE`
//! only, in the top slots of the table so `cap_handle` and the handles made
//! at run time keep their numbers, and a send or call through a handle
//! without `SEND` is `Denied` while the module runs on. Restarts and swaps
//! keep the served endpoints.

mod common;

use cella_wasm_host::abi::{ErrorCode, Rights};
use cella_wasm_host::{
    Capability, Delivery, Event, Grant, Handle, LoadErrorKind, MAX_SERVED_ENDPOINTS, Outgoing,
    QueueOutbox, SLOTS, Sandbox, SimulatedPlatform,
};

type Client = Sandbox<SimulatedPlatform, QueueOutbox>;

const LOG: u64 = 7;
const SERVED: u64 = 9;
const OTHER_SERVED: u64 = 11;

/// Operations of the client's messages (`[operation, handle]`).
const SEND: i32 = 0;
const CALL: i32 = 1;
const CALL_LENDING: i32 = 2;
const CAP_HANDLE: i32 = 3;

/// A module requesting `endpoint log` and a DMA pool; `init` allocates one
/// buffer. A message `[operation, argument]` (two little-endian words)
/// sends, calls or calls lending the buffer through handle `argument`, or
/// asks `cap_handle(argument)`, and replies with the host call's result.
fn client(version: &str) -> Vec<u8> {
    let body = r#"
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $alloc (param i32 i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_call_lending"
    (func $lend (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "ping")
  (func (export "init") (result i32)
    (i32.store (i32.const 0x80) (call $alloc (call $cap (i32.const 1)) (i32.const 4096)))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $operation i32) (local $argument i32) (local $result i32)
    (drop (call $receive (i32.const 0x100) (i32.const 8)))
    (local.set $operation (i32.load (i32.const 0x100)))
    (local.set $argument (i32.load (i32.const 0x104)))
    (if (i32.eq (local.get $operation) (i32.const 0))
      (then (local.set $result
        (call $send (local.get $argument) (i32.const 0x300) (i32.const 4)))))
    (if (i32.eq (local.get $operation) (i32.const 1))
      (then (local.set $result
        (call $call (local.get $argument) (i32.const 0x300) (i32.const 4) (i32.const 1000)))))
    (if (i32.eq (local.get $operation) (i32.const 2))
      (then (local.set $result
        (call $lend (local.get $argument) (i32.const 0x300) (i32.const 4) (i32.const 1000)
          (i32.load (i32.const 0x80)) (i32.const 1)))))
    (if (i32.eq (local.get $operation) (i32.const 3))
      (then (local.set $result (call $cap (local.get $argument)))))
    (i32.store (i32.const 0x200) (local.get $result))
    (drop (call $reply (local.get $request) (i32.const 0x200) (i32.const 4))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32))
  (func (export "save_state") (result i64) (i64.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
"#;
    wat::parse_str(common::module_wat(
        "client",
        version,
        "endpoint log\ndma 4096\n",
        body,
    ))
    .expect("client assembles")
}

/// `endpoint log` to send to, 4 KiB of DMA, and two endpoints it serves.
fn grant() -> Grant {
    Grant::new()
        .endpoint("log", LOG)
        .dma_bytes(4096)
        .serve(SERVED)
        .serve(OTHER_SERVED)
}

fn start() -> (common::Host, Client, QueueOutbox) {
    let mut runtime = common::runtime();
    let module = runtime.load("client", &client("1"), &grant()).unwrap();
    let outbox = QueueOutbox::new(64);
    let sandbox = runtime
        .start(&module, SimulatedPlatform::new(), outbox.clone())
        .unwrap();
    (runtime, sandbox, outbox)
}

/// Runs `[operation, argument]` in the client; the host call's result, and
/// what else the client handed the outbox.
fn run(
    sandbox: &mut Client,
    outbox: &QueueOutbox,
    request: u32,
    operation: i32,
    argument: i32,
) -> (i32, Vec<Outgoing>) {
    let message: Vec<u8> = [operation, argument]
        .iter()
        .flat_map(|word| word.to_le_bytes())
        .collect();
    let delivery = sandbox
        .deliver(Event::Message {
            request,
            bytes: &message,
        })
        .expect("the client does not fault");
    assert_eq!(delivery, Delivery::Handled { count: 1 });
    let mut result = None;
    let mut others = Vec::new();
    for outgoing in outbox.drain() {
        match outgoing {
            Outgoing::Reply {
                request: answered,
                message,
                ..
            } if answered == request => {
                result = Some(i32::from_le_bytes(message.try_into().expect("4 bytes")));
            }
            other => others.push(other),
        }
    }
    (result.expect("the client replied"), others)
}

/// The instance's endpoint capabilities, in slot order.
fn endpoints(sandbox: &Client) -> Vec<Capability> {
    sandbox
        .capabilities()
        .into_iter()
        .filter(|capability| matches!(capability, Capability::Endpoint { .. }))
        .collect()
}

/// The client's endpoint capabilities: the one it requests, then the two it
/// serves.
fn endpoint_capabilities() -> Vec<Capability> {
    vec![
        Capability::Endpoint {
            id: LOG,
            rights: Rights::SEND,
        },
        Capability::Endpoint {
            id: SERVED,
            rights: Rights::RECEIVE,
        },
        Capability::Endpoint {
            id: OTHER_SERVED,
            rights: Rights::RECEIVE,
        },
    ]
}

#[test]
fn the_served_endpoints_take_the_top_slots_with_receive_only() {
    let (_runtime, mut sandbox, outbox) = start();
    let capabilities = sandbox.capabilities();
    assert_eq!(
        capabilities[..2],
        [
            Capability::Endpoint {
                id: LOG,
                rights: Rights::SEND
            },
            Capability::DmaPool {
                budget: 4096,
                used: 4096
            },
        ]
    );
    // The buffer `init` allocated follows the requests; the served
    // endpoints come last.
    assert!(matches!(capabilities[2], Capability::DmaBuffer { .. }));
    assert_eq!(capabilities[3..], endpoint_capabilities()[1..]);
    // `cap_handle` gives the requests their numbers and names nothing else.
    let generation = sandbox.generation();
    assert_eq!(
        run(&mut sandbox, &outbox, 1, CAP_HANDLE, 0).0,
        Handle::encode(generation, 0)
    );
    assert_eq!(
        run(&mut sandbox, &outbox, 2, CAP_HANDLE, 2).0,
        ErrorCode::BadArgument.code()
    );
    // The served endpoints are in the top slots, the first in the last.
    let handles = [
        served_handle(&sandbox, 0),
        served_handle(&sandbox, 1),
        Handle::encode(generation, 2),
    ];
    assert_eq!(handles[0], Handle::encode(generation, SLOTS - 1));
    assert_eq!(handles[1], Handle::encode(generation, SLOTS - 2));
    // A send through each names it: the first two are the served
    // endpoints (`Denied`, no send right), the third the buffer (`Denied`,
    // the wrong kind); the slot below the served ones holds nothing.
    for (request, handle) in (3..).zip(handles) {
        assert_eq!(
            run(&mut sandbox, &outbox, request, SEND, handle).0,
            ErrorCode::Denied.code()
        );
    }
    assert_eq!(
        run(
            &mut sandbox,
            &outbox,
            6,
            SEND,
            Handle::encode(generation, SLOTS - 3)
        )
        .0,
        ErrorCode::BadHandle.code()
    );
}

/// The handle of the `index`-th endpoint the client serves.
fn served_handle(sandbox: &Client, index: usize) -> i32 {
    Handle::encode(sandbox.generation(), SLOTS - 1 - index)
}

#[test]
fn a_send_or_call_through_a_served_endpoint_is_denied_and_the_module_runs_on() {
    let (_runtime, mut sandbox, outbox) = start();
    let served = served_handle(&sandbox, 0);
    for (request, operation) in [(1, SEND), (2, CALL), (3, CALL_LENDING)] {
        let (result, sent) = run(&mut sandbox, &outbox, request, operation, served);
        assert_eq!(result, ErrorCode::Denied.code(), "operation {operation}");
        assert!(sent.is_empty(), "operation {operation} sent {sent:?}");
        assert!(sandbox.is_alive());
    }
    assert_eq!(sandbox.counters().violations, 3);
    // The refused lending left the buffer unlent.
    assert!(
        sandbox
            .capabilities()
            .iter()
            .any(|capability| matches!(capability, Capability::DmaBuffer { lent_for: None, .. }))
    );
    // The granted endpoint's handle still sends and calls.
    let log = Handle::encode(sandbox.generation(), 0);
    let (result, sent) = run(&mut sandbox, &outbox, 4, SEND, log);
    assert_eq!(result, 0);
    assert!(matches!(sent[..], [Outgoing::Send { endpoint: LOG, .. }]));
    let (result, sent) = run(&mut sandbox, &outbox, 5, CALL, log);
    assert!(result > 0, "call id {result}");
    assert!(matches!(sent[..], [Outgoing::Call { endpoint: LOG, .. }]));
}

#[test]
fn a_restart_and_a_swap_keep_the_endpoint_capabilities() {
    let (mut runtime, mut sandbox, _outbox) = start();
    assert_eq!(endpoints(&sandbox), endpoint_capabilities());
    let before = sandbox.generation();
    runtime.restart(&mut sandbox).expect("restarts");
    assert_ne!(sandbox.generation(), before);
    assert_eq!(endpoints(&sandbox), endpoint_capabilities());
    let version_two = runtime.load("client", &client("2"), &grant()).unwrap();
    runtime.swap(&mut sandbox, &version_two).expect("swaps");
    assert_eq!(sandbox.module().version(), "2");
    assert_eq!(endpoints(&sandbox), endpoint_capabilities());
    // The new instance's send through its served endpoint is refused as
    // the first one's was.
    let outbox = sandbox.outbox().clone();
    let served = served_handle(&sandbox, 0);
    assert_eq!(
        run(&mut sandbox, &outbox, 1, SEND, served).0,
        ErrorCode::Denied.code()
    );
}

#[test]
fn more_served_endpoints_than_a_module_may_hold_are_refused_at_load() {
    let runtime = common::runtime();
    let serving =
        |count: usize| (0..count).fold(grant(), |grant, index| grant.serve(100 + index as u64));
    let error = runtime
        .load("client", &client("1"), &serving(MAX_SERVED_ENDPOINTS - 1))
        .unwrap_err();
    assert_eq!(
        error.kind,
        LoadErrorKind::TooManyServed {
            count: MAX_SERVED_ENDPOINTS + 1
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "cannot load module client: it serves {} endpoints; a module serves at most {MAX_SERVED_ENDPOINTS}",
            MAX_SERVED_ENDPOINTS + 1
        )
    );
    let module = runtime
        .load("client", &client("1"), &serving(MAX_SERVED_ENDPOINTS - 2))
        .expect("64 served endpoints load");
    assert_eq!(module.served().len(), MAX_SERVED_ENDPOINTS);
}
