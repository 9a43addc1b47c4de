//! DMA buffers lent with calls (`ipc_call_lending`) through the router,
//! with the kernel mocked: the server reaches the buffer while it holds the
//! request; a restarted server is replayed the request with the loan; a
//! lender that dies keeps its memory alive until the server answers; and
//! every hold (the call's and the server's) is given back when the request
//! ends.

use super::*;
use crate::system_manifest::GrantLine;

/// The lender: `init` allocates an 8 KiB buffer and writes "lent" at its
/// start. A message `read` calls `block` with a `read_lent` request lending
/// that buffer read-write; `die` traps. `on_reply` logs `answered`, or
/// `failed` for an error.
fn lender_module() -> Vec<u8> {
    let request = read_lent_request();
    let text = format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname lender\nversion 1\nstate 1\ndma 16384\nendpoint block\n")
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $alloc (param i32 i32) (result i32)))
  (import "cella" "dma_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_call_lending" (func $lend (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "lent")
  (data (i32.const 0x320) "answered")
  (data (i32.const 0x330) "failed")
  (data (i32.const 0x400) "{request}")
  (func (export "init") (result i32)
    (i32.store (i32.const 0x10) (call $alloc (call $cap (i32.const 0)) (i32.const 8192)))
    (drop (call $write (i32.load (i32.const 0x10)) (i32.const 0) (i32.const 0x300) (i32.const 4)))
    (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (if (i32.eq (local.get $length) (i32.const 3)) (then unreachable))
    (drop (call $lend (call $cap (i32.const 1)) (i32.const 0x400) (i32.const {length})
      (i32.const 1000) (i32.load (i32.const 0x10)) (i32.const 2))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32)
    (if (i32.eqz (local.get $status))
      (then (drop (call $log (i32.const 3) (i32.const 0x320) (i32.const 8))))
      (else (drop (call $log (i32.const 3) (i32.const 0x330) (i32.const 6)))))))"#,
        request = wat_bytes(&request),
        length = request.len(),
    );
    wat::parse_str(text).expect("lender assembles")
}

/// A `read_lent` request of the `block` interface (idempotent: replayed
/// to a restarted server).
fn read_lent_request() -> Vec<u8> {
    let mut buffer = [0u8; 64];
    let length =
        cella_interfaces::block::read_lent::request(&mut buffer, 1, 0, 8).expect("encodes");
    buffer[..length].to_vec()
}

/// Bytes as a WAT string.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("\\{byte:02x}")).collect()
}

/// The server of `block`: for a request, it takes the loan read-write and
/// reads its first byte. `l` (the lender's text): it writes `X` there and
/// keeps the request unanswered. `X` (a replay, or a later request): it
/// logs `answered with the loan` and answers. A request with no loan: it
/// logs `no loan` and answers. The plain message `die` traps.
fn server_module() -> Vec<u8> {
    let text = r#"(module
  (@custom "cella.manifest" "cella 1\nname block\nversion 1\nstate 1\n")
  (import "cella" "ipc_loan" (func $loan (param i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (import "cella" "dma_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "cella" "dma_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x300) "X")
  (data (i32.const 0x320) "answered with the loan")
  (data (i32.const 0x340) "no loan")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $handle i32)
    (if (i32.eqz (local.get $request)) (then unreachable))
    (local.set $handle (call $loan (local.get $request) (i32.const 2)))
    (if (i32.lt_s (local.get $handle) (i32.const 0))
      (then
        (drop (call $log (i32.const 3) (i32.const 0x340) (i32.const 7)))
        (drop (call $reply (local.get $request) (i32.const 0x300) (i32.const 1)))
        (return)))
    (drop (call $read (local.get $handle) (i32.const 0) (i32.const 0x100) (i32.const 1)))
    (if (i32.eq (i32.load8_u (i32.const 0x100)) (i32.const 0x6c))
      (then
        (drop (call $write (local.get $handle) (i32.const 0) (i32.const 0x300) (i32.const 1)))
        (return)))
    (drop (call $log (i32.const 3) (i32.const 0x320) (i32.const 22)))
    (drop (call $reply (local.get $request) (i32.const 0x300) (i32.const 1)))))"#;
    wat::parse_str(text).expect("server assembles")
}

/// Boots the lender and the `block` server.
fn boot_lending() -> System {
    let mut lender = plan("lender", &[]);
    lender.serves.clear();
    lender.grants.push(GrantLine::Dma { bytes: 16384 });
    lender.grants.push(GrantLine::Endpoint {
        name: String::from("block"),
    });
    let server = plan("block", &[]);
    let files = [
        (String::from("lender.wasm"), lender_module()),
        (String::from("block.wasm"), server_module()),
    ];
    let mut system = boot_files(alloc::vec![server, lender], &files);
    settle(&mut system);
    system
}

fn log_of(system: &System, module: &str) -> Vec<String> {
    system
        .kernel
        .platform
        .log_lines()
        .into_iter()
        .filter(|line| line.module == module)
        .map(|line| line.message)
        .collect()
}

/// The lender calls; the server takes the request with its loan, marks
/// the buffer and keeps the request; then the server faults.
fn call_then_fault_the_server(system: &mut System) {
    queue(system, "lender", b"read");
    settle(system);
    assert_eq!(system.router.loans.len(), 1, "the request holds the loan");
    queue(system, "block", b"die");
    settle(system);
}

#[test]
fn a_restarted_server_is_replayed_the_request_with_its_loan_and_every_hold_goes_back() {
    let mut system = boot_lending();
    let dma_before = system.kernel.platform.dma_in_use();
    assert!(dma_before >= 8192, "the lender's buffer");
    call_then_fault_the_server(&mut system);
    let server = index(&system, "block");
    assert_eq!(system.table.slots[server].tracker.restarts, 1);
    // The new instance found the mark the old one wrote: the same buffer.
    assert_eq!(
        log_of(&system, "block").last().unwrap(),
        "answered with the loan"
    );
    assert_eq!(log_of(&system, "lender"), ["answered"]);
    assert_eq!(system.kernel.platform.loans_out(), 0, "no hold is left");
    assert!(system.router.loans.is_empty());
    assert_eq!(system.kernel.platform.dma_in_use(), dma_before);
}

#[test]
fn a_lenders_death_keeps_its_buffer_until_the_server_answers() {
    let mut system = boot_lending();
    let dma_before = system.kernel.platform.dma_in_use();
    queue(&mut system, "lender", b"read");
    settle(&mut system);
    queue(&mut system, "lender", b"die");
    settle(&mut system);
    let lender = index(&system, "lender");
    assert_eq!(system.table.slots[lender].tracker.restarts, 1);
    // The call's hold and the server's keep the dead lender's buffer; the
    // new lender has a buffer of its own.
    assert_eq!(system.kernel.platform.loans_out(), 2);
    assert_eq!(system.kernel.platform.dma_in_use(), dma_before + 8192);
    queue(&mut system, "block", b"die");
    settle(&mut system);
    // Replayed and answered; the answer meant for the dead lender is
    // dropped, and the buffer goes with the last hold.
    assert_eq!(
        log_of(&system, "block").last().unwrap(),
        "answered with the loan"
    );
    assert!(
        log_of(&system, "lender")
            .iter()
            .all(|line| line != "answered")
    );
    assert_eq!(system.kernel.platform.loans_out(), 0);
    assert!(system.router.loans.is_empty());
    assert_eq!(system.kernel.platform.dma_in_use(), dma_before);
}

#[test]
fn a_hundred_lent_calls_leave_no_hold_and_no_memory_behind() {
    let mut system = boot_lending();
    let dma_before = system.kernel.platform.dma_in_use();
    call_then_fault_the_server(&mut system);
    for _ in 0..100 {
        queue(&mut system, "lender", b"read");
        settle(&mut system);
    }
    let answered = log_of(&system, "lender");
    assert_eq!(answered.len(), 101);
    assert!(answered.iter().all(|line| line == "answered"));
    assert_eq!(system.kernel.platform.loans_out(), 0);
    assert!(system.router.loans.is_empty());
    assert!(system.router.ended_loans.is_empty());
    assert_eq!(system.kernel.platform.dma_in_use(), dma_before);
}

#[test]
fn a_lenders_death_withdraws_its_lent_calls_no_server_took_yet() {
    let mut system = boot_lending();
    let dma_before = system.kernel.platform.dma_in_use();
    let server = index(&system, "block");
    let lender = index(&system, "lender");
    // The call waits in the server's inbox; the server has not run it.
    queue(&mut system, "lender", b"read");
    step_until_queued_for(&mut system, "block");
    assert_eq!(system.table.slots[server].inbox.len(), 1);
    assert_eq!(system.kernel.platform.loans_out(), 1, "the call's hold");
    // The lender ends from outside (as a DMA fault of its device would end it).
    let fault = system.table.slots[lender]
        .sandbox
        .as_mut()
        .expect("the lender is home")
        .fault_by_embedder(cella_wasm_host::Entry::None, String::from("test"));
    system.contain(lender, &fault, None);
    // Withdrawn before the server took it: no hold is left, and the dead
    // instance's buffer is freed.
    assert!(system.table.slots[server].inbox.is_empty());
    assert!(system.router.loans.is_empty());
    settle(&mut system);
    assert_eq!(system.kernel.platform.loans_out(), 0);
    assert!(
        log_of(&system, "block").is_empty(),
        "the server never saw it"
    );
    // The restarted lender has a buffer of its own, the old one is gone.
    assert_eq!(system.kernel.platform.dma_in_use(), dma_before);
}
