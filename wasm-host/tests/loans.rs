//! `ipc_call_lending` and `ipc_loan`: a caller lends one of its DMA buffers
//! to the server for one call; the server reads (and, lent read-write,
//! writes) it as a buffer capability until it answers, and never frees it;
//! the loan goes back on the answer, on the server's death, and carries
//! over a swap; the lender's memory outlives the lender's own free until
//! the loan is back.

mod common;

use cella_wasm_host::abi::{ErrorCode, LEND_READ_ONLY, LEND_READ_WRITE};
use cella_wasm_host::{
    Delivery, Event, Grant, Limits, Loan, Outgoing, Platform, QueueOutbox, Runtime, Sandbox,
    SimulatedPlatform,
};

type Host = Runtime<SimulatedPlatform, QueueOutbox>;
type Instance = Sandbox<SimulatedPlatform, QueueOutbox>;

const DISK: u64 = 7;
const LOG: u64 = 8;
const LENT_TEXT: &[u8] = b"lent bytes";

/// The lender: `init` allocates an 8 KiB buffer and writes "lent bytes" at
/// its start. A message `[access, free_after]` calls `disk` lending that
/// buffer with `access`, then frees the buffer if `free_after` is set, and
/// sends `[call result, free result]` to `log`. A message `[0, 0, 1]` lends
/// the buffer's own handle plus one (a handle that is not a buffer); `[9]`
/// only frees the buffer.
fn lender() -> Vec<u8> {
    let body = r#"
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $alloc (param i32 i32) (result i32)))
  (import "cella" "dma_free" (func $free (param i32) (result i32)))
  (import "cella" "dma_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_call_lending" (func $lend (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "lent bytes")
  (func (export "init") (result i32)
    (i32.store (i32.const 0x10) (call $alloc (call $cap (i32.const 0)) (i32.const 8192)))
    (drop (call $write (i32.load (i32.const 0x10)) (i32.const 0) (i32.const 0x300) (i32.const 10)))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (i64.store (i32.const 0x108) (i64.const 0))
    (drop (call $receive (i32.const 0x100) (i32.const 12)))
    (if (i32.eq (i32.load (i32.const 0x100)) (i32.const 9))
      (then
        (i32.store (i32.const 0x200) (i32.const 0))
        (i32.store (i32.const 0x204) (call $free (i32.load (i32.const 0x10))))
        (drop (call $send (call $cap (i32.const 2)) (i32.const 0x200) (i32.const 8)))
        (return)))
    (i32.store (i32.const 0x200)
      (call $lend (call $cap (i32.const 1)) (i32.const 0x300) (i32.const 4) (i32.const 1000)
        (i32.add (i32.load (i32.const 0x10)) (i32.load (i32.const 0x108)))
        (i32.load (i32.const 0x100))))
    (i32.store (i32.const 0x204) (i32.const 0))
    (if (i32.load (i32.const 0x104))
      (then (i32.store (i32.const 0x204) (call $free (i32.load (i32.const 0x10))))))
    (drop (call $send (call $cap (i32.const 2)) (i32.const 0x200) (i32.const 8))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32))
"#;
    common::wasm("lender", "dma 16384\nendpoint disk\nendpoint log\n", body)
}

fn lender_grant() -> Grant {
    Grant::new()
        .dma_bytes(16384)
        .endpoint("disk", DISK)
        .endpoint("log", LOG)
}

/// The server: a 4-byte request keeps it pending and sends to `log` what
/// the loan allows: `[ipc_loan, dma_read, dma_write, dma_free,
/// dma_address (low word)]` and the 10 bytes it read (`read` requests skip
/// the write and the free, reporting 0 for them). An 8-byte message
/// `[1, request]` answers that request, then asks `ipc_loan` for it again
/// and sends that result (`[2, request]` only answers, sending 0).
fn server(version: &str) -> Vec<u8> {
    let body = r#"
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_loan" (func $loan (param i32 i32) (result i32)))
  (import "cella" "dma_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "cella" "dma_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "cella" "dma_free" (func $free (param i32) (result i32)))
  (import "cella" "dma_address" (func $address (param i32) (result i64)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "XY")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $handle i32)
    (drop (call $receive (i32.const 0x100) (i32.const 8)))
    (if (i32.eq (local.get $length) (i32.const 8))
      (then
        (drop (call $reply (i32.load (i32.const 0x104)) (i32.const 0x300) (i32.const 2)))
        (i32.store (i32.const 0x200) (i32.const 0))
        (if (i32.eq (i32.load (i32.const 0x100)) (i32.const 1))
          (then (i32.store (i32.const 0x200) (call $loan (i32.load (i32.const 0x104)) (i32.const 1)))))
        (drop (call $send (call $cap (i32.const 0)) (i32.const 0x200) (i32.const 4)))
        (return)))
    ;; Asking for write access of a loan lent read-only finds nothing.
    (i32.store (i32.const 0x21e) (call $loan (local.get $request) (i32.const 2)))
    (local.set $handle (call $loan (local.get $request) (i32.const 1)))
    (i32.store (i32.const 0x200) (local.get $handle))
    (i32.store (i32.const 0x204) (call $read (local.get $handle) (i32.const 0) (i32.const 0x214) (i32.const 10)))
    (i32.store (i32.const 0x208) (i32.const 0))
    (i32.store (i32.const 0x20c) (i32.const 0))
    ;; "lend" tries everything; "read" only reads (refusals count as
    ;; violations, and a thousand rounds would fault the server).
    (if (i32.eq (i32.load8_u (i32.const 0x100)) (i32.const 0x6c))
      (then
        (i32.store (i32.const 0x208) (call $write (local.get $handle) (i32.const 0) (i32.const 0x300) (i32.const 2)))
        (i32.store (i32.const 0x20c) (call $free (local.get $handle)))))
    (i32.store (i32.const 0x210) (i32.wrap_i64 (call $address (local.get $handle))))
    (drop (call $send (call $cap (i32.const 0)) (i32.const 0x200) (i32.const 34))))
  (func (export "save_state") (result i64) (i64.const 0x0000000000000000))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
"#;
    wat::parse_str(common::module_wat(
        "server",
        version,
        "endpoint log\n",
        body,
    ))
    .expect("server assembles")
}

struct World {
    runtime: Host,
    platform: SimulatedPlatform,
    lender: Instance,
    lender_outbox: QueueOutbox,
    server: Instance,
    server_outbox: QueueOutbox,
}

fn world() -> World {
    let mut runtime = Host::new(Limits::default());
    let platform = SimulatedPlatform::new();
    let lender_outbox = QueueOutbox::new(64);
    let server_outbox = QueueOutbox::new(64);
    let lender_module = runtime.load("lender", &lender(), &lender_grant()).unwrap();
    let lender = runtime
        .start(&lender_module, platform.clone(), lender_outbox.clone())
        .unwrap();
    let server_module = runtime
        .load("server", &server("1"), &Grant::new().endpoint("log", LOG))
        .unwrap();
    let server = runtime
        .start(&server_module, platform.clone(), server_outbox.clone())
        .unwrap();
    World {
        runtime,
        platform,
        lender,
        lender_outbox,
        server,
        server_outbox,
    }
}

fn word(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn words(values: &[i32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// Makes the lender call with `[access, free_after, handle_offset]`;
/// returns what it reported (call result, free result) and the loan the
/// outbox carried.
fn lend(world: &mut World, access: i32, free_after: i32, offset: i32) -> (i32, i32, Option<Loan>) {
    let delivery = world.lender.deliver(Event::Message {
        request: 0,
        bytes: &words(&[access, free_after, offset]),
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let mut report = None;
    let mut loan = None;
    for item in world.lender_outbox.drain() {
        match item {
            Outgoing::Send { message, .. } => report = Some(message),
            Outgoing::Call {
                endpoint,
                loan: lent,
                ..
            } => {
                assert_eq!(endpoint, DISK);
                loan = lent;
            }
            Outgoing::Reply { .. } => panic!("the lender replies to nothing"),
        }
    }
    let report = report.expect("the lender reports");
    (word(&report, 0), word(&report, 4), loan)
}

/// What the server reported for a lent request: (ipc_loan, dma_read,
/// dma_write, dma_free, dma_address low word, the bytes read, ipc_loan
/// asking for write access).
type Served = (i32, i32, i32, i32, i32, Vec<u8>, i32);

fn serve(world: &mut World, request: u32, loan: Loan) -> Served {
    serve_with(world, request, loan, b"lend")
}

fn serve_with(world: &mut World, request: u32, loan: Loan, payload: &[u8; 4]) -> Served {
    let delivery = world.server.deliver_lent(request, payload, loan);
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let sends: Vec<Vec<u8>> = world
        .server_outbox
        .drain()
        .into_iter()
        .filter_map(|item| match item {
            Outgoing::Send { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    let report = &sends[0];
    (
        word(report, 0),
        word(report, 4),
        word(report, 8),
        word(report, 12),
        word(report, 16),
        report[20..30].to_vec(),
        word(report, 30),
    )
}

/// Makes the lender free its buffer; what `dma_free` returned.
fn free_only(world: &mut World) -> i32 {
    let delivery = world.lender.deliver(Event::Message {
        request: 0,
        bytes: &words(&[9, 0, 0]),
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    match world.lender_outbox.drain().pop() {
        Some(Outgoing::Send { message, .. }) => word(&message, 4),
        other => panic!("the lender reports, not {other:?}"),
    }
}

/// What the router does when a lent request ends (answered, failed or
/// dropped): gives back the loan the call came with.
fn end_request(world: &World, loan: Loan) {
    world
        .platform
        .clone()
        .dma_return(None, loan.device_address, loan.size);
}

/// Makes the server answer `request`; returns what `ipc_loan` said for it
/// afterwards.
fn answer(world: &mut World, request: u32) -> i32 {
    answer_with(world, 1, request)
}

fn answer_with(world: &mut World, operation: i32, request: u32) -> i32 {
    let delivery = world.server.deliver(Event::Message {
        request: 0,
        bytes: &words(&[operation, request as i32]),
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let mut after = None;
    for item in world.server_outbox.drain() {
        match item {
            Outgoing::Send { message, .. } => after = Some(word(&message, 0)),
            Outgoing::Reply {
                request: answered, ..
            } => assert_eq!(answered, request),
            Outgoing::Call { .. } => panic!("the server calls nobody"),
        }
    }
    after.expect("the server reports")
}

#[test]
fn a_buffer_lent_read_only_is_read_by_the_server_not_written_or_freed_and_goes_back_on_the_answer()
{
    let mut world = world();
    let (called, _, loan) = lend(&mut world, LEND_READ_ONLY, 0, 0);
    assert!(called > 0, "ipc_call_lending returned {called}");
    let loan = loan.expect("the call carries the loan");
    assert_eq!(loan.size, 8192);
    assert!(!loan.writable);
    let (handle, read, write, free, address, bytes, for_writing) = serve(&mut world, 5, loan);
    assert!(handle > 0, "ipc_loan returned {handle}");
    assert_eq!(for_writing, ErrorCode::NotFound.code(), "lent read-only");
    assert_eq!(read, 0);
    assert_eq!(bytes, LENT_TEXT);
    assert_eq!(write, ErrorCode::Denied.code(), "read-only");
    assert_eq!(free, ErrorCode::Denied.code(), "not the server's to free");
    assert_eq!(address as u32, loan.device_address as u32);
    // The call's own hold and the server's.
    assert_eq!(
        world.platform.dma_loans(loan.device_address),
        [(None, false), (None, false)]
    );
    assert_eq!(
        world.platform.dma_peek(loan.device_address, 10).unwrap(),
        LENT_TEXT
    );
    assert_eq!(
        answer(&mut world, 5),
        ErrorCode::BadArgument.code(),
        "answered: not pending"
    );
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 1);
    end_request(&world, loan);
    assert!(world.platform.dma_loans(loan.device_address).is_empty());
}

#[test]
fn a_buffer_lent_read_write_takes_the_servers_writes() {
    let mut world = world();
    let (_, _, loan) = lend(&mut world, LEND_READ_WRITE, 0, 0);
    let loan = loan.unwrap();
    assert!(loan.writable);
    let (handle, _, write, _, _, _, for_writing) = serve(&mut world, 5, loan);
    assert_eq!(write, 0);
    assert_eq!(for_writing, handle, "lent read-write");
    assert_eq!(
        world.platform.dma_peek(loan.device_address, 10).unwrap(),
        b"XYnt bytes"
    );
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 2);
    answer(&mut world, 5);
    end_request(&world, loan);
    assert!(world.platform.dma_loans(loan.device_address).is_empty());
}

#[test]
fn a_request_without_a_loan_has_none_and_bad_lends_are_refused() {
    let mut world = world();
    // A plain request: `ipc_loan` finds nothing.
    let delivery = world.server.deliver(Event::Message {
        request: 9,
        bytes: b"lend",
    });
    assert_eq!(delivery, Ok(Delivery::Handled { count: 1 }));
    let report = match world.server_outbox.drain().remove(0) {
        Outgoing::Send { message, .. } => message,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(word(&report, 0), ErrorCode::NotFound.code());
    // An access that is neither read-only nor read-write.
    assert_eq!(lend(&mut world, 3, 0, 0).0, ErrorCode::BadArgument.code());
    // A handle that is not one of the lender's buffers.
    let (called, _, loan) = lend(&mut world, LEND_READ_ONLY, 0, 1);
    assert!(called < 0, "lending a non-buffer returned {called}");
    assert_eq!(loan, None);
    // A loan the platform cannot back (larger than the buffer) refuses
    // the request without running the server.
    let (_, _, loan) = lend(&mut world, LEND_READ_ONLY, 0, 0);
    let mut loan = loan.unwrap();
    loan.size += 4096;
    assert_eq!(
        world.server.deliver_lent(11, b"lend", loan),
        Ok(Delivery::Refused)
    );
    assert!(world.server_outbox.drain().is_empty());
    // Only the call's own hold remains.
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 1);
}

#[test]
fn a_lent_buffer_is_neither_freed_nor_lent_again_until_its_answer_comes() {
    let mut world = world();
    let before = world.platform.dma_in_use();
    let (called, freed, loan) = lend(&mut world, LEND_READ_ONLY, 1, 0);
    let loan = loan.unwrap();
    assert_eq!(freed, ErrorCode::Busy.code(), "lent out: not freed");
    // One call at a time.
    let (again, _, second) = lend(&mut world, LEND_READ_WRITE, 0, 0);
    assert_eq!((again, second), (ErrorCode::Busy.code(), None));
    let (_, read, _, _, _, bytes, _) = serve(&mut world, 5, loan);
    assert_eq!((read, bytes.as_slice()), (0, LENT_TEXT));
    answer(&mut world, 5);
    end_request(&world, loan);
    // Its answer reaches the lender: the buffer is its own again, to lend
    // or to free.
    let reply = world.lender.deliver(Event::Reply {
        call: called as u32,
        outcome: Ok(b"XY"),
    });
    assert_eq!(reply, Ok(Delivery::Handled { count: 1 }));
    let (called, freed, loan) = lend(&mut world, LEND_READ_ONLY, 1, 0);
    assert!(called > 0 && loan.is_some());
    assert_eq!(freed, ErrorCode::Busy.code());
    // A late answer (after a timeout) gives it back as well.
    let late = world.lender.deliver(Event::Reply {
        call: called as u32 ^ 0x7f00_0000,
        outcome: Ok(b"XY"),
    });
    assert_eq!(late, Ok(Delivery::UnknownCall));
    assert_eq!(
        free_only(&mut world),
        ErrorCode::Busy.code(),
        "another call's answer"
    );
    end_request(&world, loan.unwrap());
    world
        .lender
        .deliver(Event::Reply {
            call: called as u32,
            outcome: Err(ErrorCode::Closed),
        })
        .unwrap();
    assert_eq!(free_only(&mut world), 0);
    assert_eq!(world.platform.dma_in_use(), before - 8192);
    assert!(
        world
            .platform
            .dma_peek(loan.unwrap().device_address, 1)
            .is_none()
    );
}

#[test]
fn a_lenders_death_keeps_the_memory_until_the_server_answers() {
    let mut world = world();
    let before = world.platform.dma_in_use();
    let (_, _, loan) = lend(&mut world, LEND_READ_WRITE, 0, 0);
    let loan = loan.unwrap();
    serve(&mut world, 5, loan);
    world
        .lender
        .fault_by_embedder(cella_wasm_host::Entry::Message, "test".into());
    assert_eq!(world.platform.dma_in_use(), before);
    answer(&mut world, 5);
    end_request(&world, loan);
    assert_eq!(world.platform.dma_in_use(), before - 8192);
}

#[test]
fn a_servers_death_gives_the_loan_back() {
    let mut world = world();
    let (_, _, loan) = lend(&mut world, LEND_READ_ONLY, 0, 0);
    let loan = loan.unwrap();
    serve(&mut world, 5, loan);
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 2);
    world
        .server
        .fault_by_embedder(cella_wasm_host::Entry::Message, "test".into());
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 1);
}

#[test]
fn a_swap_carries_the_loan_to_the_new_version_which_answers_it() {
    let mut world = world();
    let (_, _, loan) = lend(&mut world, LEND_READ_ONLY, 0, 0);
    let loan = loan.unwrap();
    serve(&mut world, 5, loan);
    let v2 = world
        .runtime
        .load("server", &server("2"), &Grant::new().endpoint("log", LOG))
        .unwrap();
    world.runtime.swap(&mut world.server, &v2).unwrap();
    assert_eq!(world.server.pending_requests(), [5]);
    // The call's hold and the new instance's (the old one gave its back).
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 2);
    assert_eq!(answer(&mut world, 5), ErrorCode::BadArgument.code());
    assert_eq!(world.platform.dma_loans(loan.device_address).len(), 1);
}

#[test]
fn a_thousand_loans_in_a_row_leave_nothing_behind() {
    let mut world = world();
    let dma_before = world.platform.dma_in_use();
    let mut address = None;
    for round in 0..1000u32 {
        let access = if round % 2 == 0 {
            LEND_READ_ONLY
        } else {
            LEND_READ_WRITE
        };
        let (called, _, loan) = lend(&mut world, access, 0, 0);
        assert!(called > 0, "round {round}: {called}");
        let loan = loan.unwrap();
        address = Some(loan.device_address);
        let request = 100 + round;
        let (handle, read, ..) = serve_with(&mut world, request, loan, b"read");
        assert!(handle > 0 && read == 0, "round {round}");
        answer_with(&mut world, 2, request);
        // The request ended: the router gives back the loan it held.
        end_request(&world, loan);
        // The lender hears its answer, so its call count stays bounded.
        let reply = world.lender.deliver(Event::Reply {
            call: called as u32,
            outcome: Ok(b"XY"),
        });
        assert_eq!(reply, Ok(Delivery::Handled { count: 1 }));
    }
    assert!(world.platform.dma_loans(address.unwrap()).is_empty());
    assert_eq!(world.platform.dma_in_use(), dma_before);
    assert!(world.server.pending_requests().is_empty());
}
