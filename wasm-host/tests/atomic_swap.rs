//! Atomic hot swap: a failed swap changes nothing outside the new instance.
//! Its messages are held until the swap commits (and discarded when it
//! fails), no request is answered twice, IRQ lines come back per line as
//! they were, and predecessor and successor together never hold more DMA
//! than the grant.

mod common;

use cella_wasm_host::abi::ErrorCode;
use cella_wasm_host::{
    Delivery, Event, FaultKind, Grant, Outgoing, QueueOutbox, SimulatedPlatform, StateError,
    SwapStage,
};

/// Holds every request; answers all it holds (the ids it stored at 0x100..)
/// when a message without request id arrives.
const HOLDER: &str = r#"
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $index i32)
    (if (local.get $request)
      (then
        (i32.store (i32.add (i32.const 0x100) (i32.shl (i32.load (i32.const 0xfc)) (i32.const 2)))
          (local.get $request))
        (i32.store (i32.const 0xfc) (i32.add (i32.load (i32.const 0xfc)) (i32.const 1)))
        (return)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $index) (i32.load (i32.const 0xfc))))
        (drop (call $reply
          (i32.load (i32.add (i32.const 0x100) (i32.shl (local.get $index) (i32.const 2))))
          (i32.const 0) (i32.const 3)))
        (local.set $index (i32.add (local.get $index) (i32.const 1)))
        (br $next))))
  (func (export "save_state") (result i64)
    (i64.or (i64.shl (i64.const 4) (i64.const 32)) (i64.const 0xfc)))
"#;

/// The successor: in `restore_state` it answers request 5, sends a message
/// to `log` and then returns `$verdict` (0 accepts the state).
fn answering_in_restore(verdict: i32) -> String {
    format!(
        r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 0x10) (call $reply (i32.const 5) (i32.const 0) (i32.const 4)))
    (i32.store (i32.const 0x14) (call $send (call $cap_handle (i32.const 0)) (i32.const 0) (i32.const 4)))
    (i32.const {verdict}))
"#
    )
}

fn grant() -> Grant {
    Grant::new().endpoint("log", common::LOG_ENDPOINT)
}

/// A holder with requests 5 and 6 pending, and its outbox.
fn holder_with_requests() -> (common::Host, common::Box_, QueueOutbox) {
    let mut runtime = common::runtime();
    let outbox = QueueOutbox::new(16);
    let holder = runtime
        .load("holder", &common::wasm("holder", "", HOLDER), &grant())
        .unwrap();
    let mut sandbox = runtime
        .start(&holder, common::platform(), outbox.clone())
        .unwrap();
    for request in [5, 6] {
        sandbox
            .deliver(Event::Message {
                request,
                bytes: b"question",
            })
            .unwrap();
    }
    assert_eq!(sandbox.pending_requests(), [5, 6]);
    assert!(outbox.is_empty());
    (runtime, sandbox, outbox)
}

fn replies_to(outgoing: &[Outgoing], wanted: u32) -> usize {
    outgoing
        .iter()
        .filter(|message| matches!(message, Outgoing::Reply { request, .. } if *request == wanted))
        .count()
}

#[test]
fn a_failed_swap_sends_nothing_and_no_request_is_answered_twice() {
    let (mut runtime, mut sandbox, outbox) = holder_with_requests();
    let successor = runtime
        .load(
            "holder",
            &common::wasm("holder", "endpoint log\n", &answering_in_restore(9)),
            &grant(),
        )
        .unwrap();
    let error = runtime.swap(&mut sandbox, &successor).unwrap_err();
    assert_eq!(error.stage, SwapStage::Restore);
    assert_eq!(
        error.fault.kind,
        FaultKind::BadState(StateError::Rejected(9))
    );
    assert!(
        outbox.is_empty(),
        "the failed successor's reply and send escaped: {:?}",
        outbox.drain()
    );
    assert_eq!(
        sandbox.pending_requests(),
        [5, 6],
        "the old instance's requests are untouched"
    );
    // The old instance answers what it holds: request 5 once in all.
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: b"",
        })
        .unwrap();
    let sent = outbox.drain();
    assert_eq!(replies_to(&sent, 5), 1, "{sent:?}");
    assert_eq!(replies_to(&sent, 6), 1, "{sent:?}");
    assert!(sandbox.pending_requests().is_empty());
}

#[test]
fn a_committed_swap_releases_the_held_messages_in_order() {
    let (mut runtime, mut sandbox, outbox) = holder_with_requests();
    let successor = runtime
        .load(
            "holder",
            &common::wasm("holder", "endpoint log\n", &answering_in_restore(0)),
            &grant(),
        )
        .unwrap();
    runtime.swap(&mut sandbox, &successor).unwrap();
    let sent = outbox.drain();
    assert!(
        matches!(
            sent.as_slice(),
            [
                Outgoing::Reply { request: 5, .. },
                Outgoing::Send {
                    endpoint: common::LOG_ENDPOINT,
                    ..
                }
            ]
        ),
        "{sent:?}"
    );
    assert_eq!(sandbox.pending_requests(), [6], "request 5 was answered");
    // Sends after the commit go straight out.
    assert_eq!(
        sandbox.deliver(Event::Message {
            request: 7,
            bytes: b"more"
        }),
        Ok(Delivery::Handled { count: 1 })
    );
    assert_eq!(sandbox.pending_requests(), [6, 7]);
}

#[test]
fn a_reply_the_router_refuses_at_the_commit_stays_pending() {
    let mut runtime = common::runtime();
    let outbox = QueueOutbox::new(1);
    let holder = runtime
        .load("holder", &common::wasm("holder", "", HOLDER), &grant())
        .unwrap();
    let mut sandbox = runtime
        .start(&holder, common::platform(), outbox.clone())
        .unwrap();
    sandbox
        .deliver(Event::Message {
            request: 5,
            bytes: b"q",
        })
        .unwrap();
    // Fill the one-slot router so that nothing held can go out.
    use cella_wasm_host::Outbox as _;
    outbox.clone().send("other", 1, b"x").unwrap();
    let successor = runtime
        .load(
            "holder",
            &common::wasm("holder", "endpoint log\n", &answering_in_restore(0)),
            &grant(),
        )
        .unwrap();
    runtime.swap(&mut sandbox, &successor).unwrap();
    assert_eq!(outbox.len(), 1, "only the message that was there before");
    assert_eq!(
        sandbox.pending_requests(),
        [5],
        "the refused reply leaves request 5 pending, not lost"
    );
    let log = sandbox.platform().log_lines();
    assert!(
        log.iter()
            .any(|line| line.message.contains("refused by the router at the commit")),
        "{log:?}"
    );
}

/// Names IRQ 4 twice: `init` unmasks it through the first capability and
/// masks it through the second, so the line ends masked.
const TWO_CAPABILITIES_ONE_LINE: &str = r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "irq_enable" (func $irq_enable (param i32) (result i32)))
  (import "cella" "irq_disable" (func $irq_disable (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    (drop (call $irq_enable (call $cap_handle (i32.const 0))))
    (call $irq_disable (call $cap_handle (i32.const 1))))
  (func (export "on_message") (param i32 i32))
  (func (export "save_state") (result i64) (i64.const 0))
"#;

/// Unmasks IRQ 4 in `restore_state`, then rejects the state.
const UNMASKS_THEN_REJECTS: &str = r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "irq_enable" (func $irq_enable (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0))
  (func (export "restore_state") (param i32 i32 i32) (result i32)
    (drop (call $irq_enable (call $cap_handle (i32.const 0))))
    (i32.const 1))
"#;

#[test]
fn a_failed_swap_leaves_each_irq_line_as_it_was() {
    let mut runtime = common::runtime();
    let platform = common::platform();
    let grant = Grant::new().irq_line(4).irq_line(5);
    let old = runtime
        .load(
            "lines",
            &common::wasm("lines", "irq 4\nirq 4\n", TWO_CAPABILITIES_ONE_LINE),
            &grant,
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&old, platform.clone(), QueueOutbox::new(1))
        .unwrap();
    assert!(!platform.irq_enabled(4), "enabled then disabled: masked");
    let successor = runtime
        .load(
            "lines",
            &common::wasm("lines", "irq 4\n", UNMASKS_THEN_REJECTS),
            &grant,
        )
        .unwrap();
    for attempt in 0..3 {
        let error = runtime.swap(&mut sandbox, &successor).unwrap_err();
        assert_eq!(error.stage, SwapStage::Restore);
        assert!(
            !platform.irq_enabled(4),
            "attempt {attempt}: the failed swap unmasked line 4, which the running instance had masked"
        );
    }
    assert!(sandbox.is_alive());
    assert_eq!(sandbox.module().version(), "1");
}

/// Allocates `size` bytes from its pool in `init`.
fn allocating_in_init(size: u32) -> String {
    format!(
        r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $dma_alloc (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    (if (i32.lt_s (call $dma_alloc (call $cap_handle (i32.const 0)) (i32.const {size})) (i32.const 0))
      (then (return (i32.const 1))))
    (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0))
"#
    )
}

/// Allocates `size` bytes in `restore_state`, keeps the result at 0x10 and
/// returns `verdict`; a message allocates `size` more and replies with both
/// results.
fn allocating_in_restore(size: u32, verdict: i32) -> String {
    format!(
        r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $dma_alloc (param i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (i32.store (i32.const 0x14) (call $dma_alloc (call $cap_handle (i32.const 0)) (i32.const {size})))
    (drop (call $reply (local.get $request) (i32.const 0x10) (i32.const 8))))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32)
    (i32.store (i32.const 0x10) (call $dma_alloc (call $cap_handle (i32.const 0)) (i32.const {size})))
    (i32.const {verdict}))
"#
    )
}

#[test]
fn predecessor_and_successor_together_stay_inside_the_dma_grant() {
    const GRANT: u64 = 64 * 1024;
    let mut runtime = common::runtime();
    let platform = SimulatedPlatform::new();
    let outbox = QueueOutbox::new(4);
    let grant = Grant::new().dma_bytes(GRANT);
    let old = runtime
        .load(
            "dma",
            &common::wasm("dma", "dma 65536\n", &allocating_in_init(48 * 1024)),
            &grant,
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&old, platform.clone(), outbox.clone())
        .unwrap();
    assert_eq!(platform.dma_in_use(), 48 * 1024);
    let successor = runtime
        .load(
            "dma",
            &common::wasm("dma", "dma 65536\n", &allocating_in_restore(32 * 1024, 0)),
            &grant,
        )
        .unwrap();
    runtime.swap(&mut sandbox, &successor).unwrap();
    // The old instance's 48 KiB are freed at the commit; the successor's
    // 32 KiB during the swap would have made 80 KiB together.
    assert_eq!(
        platform.dma_in_use(),
        0,
        "the refused allocation made nothing"
    );
    sandbox
        .deliver(Event::Message {
            request: 1,
            bytes: b"",
        })
        .unwrap();
    let sent = outbox.drain();
    let [Outgoing::Reply { message, .. }] = sent.as_slice() else {
        panic!("expected one reply, got {sent:?}");
    };
    let in_restore = i32::from_le_bytes(message[0..4].try_into().unwrap());
    let after_commit = i32::from_le_bytes(message[4..8].try_into().unwrap());
    assert_eq!(
        in_restore,
        ErrorCode::Exhausted.code(),
        "48 KiB held by the predecessor + 32 KiB is over the 64 KiB grant"
    );
    assert!(
        after_commit > 0,
        "after the commit the grant is the successor's alone"
    );
    assert_eq!(platform.dma_in_use(), 32 * 1024);
}

#[test]
fn a_failed_swap_frees_the_successors_dma_and_keeps_the_predecessors() {
    let mut runtime = common::runtime();
    let platform = SimulatedPlatform::new();
    let grant = Grant::new().dma_bytes(64 * 1024);
    let old = runtime
        .load(
            "dma",
            &common::wasm("dma", "dma 65536\n", &allocating_in_init(16 * 1024)),
            &grant,
        )
        .unwrap();
    let mut sandbox = runtime
        .start(&old, platform.clone(), QueueOutbox::new(1))
        .unwrap();
    // The successor allocates 16 KiB (fits: 32 KiB together), then rejects.
    let body = allocating_in_restore(16 * 1024, 1);
    let successor = runtime
        .load("dma", &common::wasm("dma", "dma 65536\n", &body), &grant)
        .unwrap();
    for _ in 0..10 {
        let error = runtime.swap(&mut sandbox, &successor).unwrap_err();
        assert_eq!(error.stage, SwapStage::Restore);
        assert_eq!(
            platform.dma_in_use(),
            16 * 1024,
            "only the old instance's buffer"
        );
    }
}

/// Sends 4 KiB messages in `restore_state` until the host answers busy
/// (`MAX_HELD_MESSAGES` held), then rejects the state.
const SENDS_UNTIL_BUSY_THEN_REJECTS: &str = r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32)
    (local $sent i32)
    (block $busy
      (loop $again
        (br_if $busy (call $send (call $cap_handle (i32.const 0)) (i32.const 0) (i32.const 4096)))
        (local.set $sent (i32.add (local.get $sent) (i32.const 1)))
        (br $again)))
    ;; the verdict: 100 + the number of messages held before busy
    (i32.add (i32.const 100) (local.get $sent)))
"#;

/// Resident memory of this process in KiB (Linux).
fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages * 4
}

#[test]
fn five_hundred_failed_swaps_hold_at_most_the_limit_and_keep_nothing() {
    let (mut runtime, mut sandbox, outbox) = holder_with_requests();
    let successor = runtime
        .load(
            "holder",
            &common::wasm("holder", "endpoint log\n", SENDS_UNTIL_BUSY_THEN_REJECTS),
            &grant(),
        )
        .unwrap();
    let held_limit = cella_wasm_host::MAX_HELD_MESSAGES as i32;
    // Warm up (allocator pools, compiled code) before measuring.
    for _ in 0..20 {
        runtime.swap(&mut sandbox, &successor).unwrap_err();
    }
    let before = resident_kib();
    for attempt in 0..500 {
        let error = runtime.swap(&mut sandbox, &successor).unwrap_err();
        assert_eq!(
            error.fault.kind,
            FaultKind::BadState(StateError::Rejected(100 + held_limit)),
            "attempt {attempt}: the successor could hold exactly the limit"
        );
        assert!(
            outbox.is_empty(),
            "attempt {attempt}: a held message escaped"
        );
        assert_eq!(sandbox.pending_requests(), [5, 6]);
    }
    let after = resident_kib();
    // Each attempt held 256 KiB of messages: kept, 500 would be 125 MiB.
    assert!(
        after.saturating_sub(before) < 16 * 1024,
        "resident memory grew from {before} KiB to {after} KiB over 500 failed swaps"
    );
    eprintln!("500 failed swaps: resident {before} KiB before, {after} KiB after");
    assert!(sandbox.is_alive());
}
