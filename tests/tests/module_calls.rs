//! Calls between Wasm modules under QEMU, with a test manifest of its own (not the
//! production one): module `caller` calls module `callee` and logs the reply; a request that
//! makes the callee trap fails the caller's call with `closed` instead of leaving it
//! waiting. 100 rounds of both in one boot, the kernel heap measured before and after.

use cella_qemu_tests::{BootRequest, boot, default_archive_with};

const ROUNDS: usize = 100;
/// Rounds the scenario runs before it measures the heap.
const WARM_UP_ROUNDS: usize = 70;

/// The callee: answers every request with `pong`, traps on a 5-byte message (`crash`).
const CALLEE: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname callee\nversion 1.0.0\n")
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "pong")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (if (i32.eq (local.get $length) (i32.const 5)) (then unreachable))
    (if (local.get $request)
      (then (drop (call $reply (local.get $request) (i32.const 0x100) (i32.const 4)))))))"#;

/// The caller: each message it gets becomes a call to `callee` with the same bytes (1 s
/// deadline); it logs `answered: BYTES`, `call failed: NN` (the error code without its sign)
/// or `call refused: NN` when `ipc_call` itself refuses.
const CALLER: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname caller\nversion 1.0.0\nendpoint callee\n")
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x200) "answered: ")
  (data (i32.const 0x240) "call failed: ??")
  (data (i32.const 0x260) "call refused: ??")
  (func $digits (param $at i32) (param $code i32)
    (i32.store8 (local.get $at)
      (i32.add (i32.const 48) (i32.div_u (i32.sub (i32.const 0) (local.get $code)) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 1))
      (i32.add (i32.const 48) (i32.rem_u (i32.sub (i32.const 0) (local.get $code)) (i32.const 10)))))
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $result i32)
    (drop (call $receive (i32.const 0x100) (i32.const 64)))
    (local.set $result
      (call $call (call $cap (i32.const 0)) (i32.const 0x100) (local.get $length) (i32.const 1000)))
    (if (i32.lt_s (local.get $result) (i32.const 0))
      (then
        (call $digits (i32.const 0x26e) (local.get $result))
        (drop (call $log (i32.const 3) (i32.const 0x260) (i32.const 16))))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32)
    (if (i32.eqz (local.get $status))
      (then
        (drop (call $receive (i32.const 0x20a) (i32.const 32)))
        (drop (call $log (i32.const 3) (i32.const 0x200)
          (i32.add (i32.const 10) (local.get $length)))))
      (else
        (call $digits (i32.const 0x24d) (local.get $status))
        (drop (call $log (i32.const 3) (i32.const 0x240) (i32.const 15)))))))"#;

/// The test manifest: only the two modules (the production manifest's drivers play no part).
const MANIFEST: &str = "cella-system 1
module callee modules/callee.wasm
serve callee
module caller modules/caller.wasm
grant endpoint callee
";

#[test]
fn a_module_calls_another_and_a_faulting_server_fails_the_call_a_hundred_times_without_a_leak() {
    let modules = vec![
        (
            "modules/callee.wasm".to_owned(),
            wat::parse_str(CALLEE).expect("callee assembles"),
        ),
        (
            "modules/caller.wasm".to_owned(),
            wat::parse_str(CALLER).expect("caller assembles"),
        ),
    ];
    let archive = default_archive_with("module-calls", |_| MANIFEST.to_owned(), modules);
    let run = boot(BootRequest {
        cmdline: format!("test=module_calls rounds={ROUNDS}"),
        ..BootRequest::scenario("module_calls").with_initrd(archive.clone())
    });
    let _ = std::fs::remove_file(archive);
    run.expect_kernel_success().expect_order(
        "all modules up (2 of 2 started)",
        "scenario module_calls: passed",
    );
    let count = |needle: &str| run.lines().filter(|line| line.contains(needle)).count();
    let rounds = ROUNDS + WARM_UP_ROUNDS;
    let answered = count("caller: answered: pong");
    let failed = count("caller: call failed: 14");
    if answered != rounds || failed != rounds {
        run.fail(format!(
            "expected {rounds} answered and {rounds} failed calls, saw {answered} and {failed}"
        ));
    }
    run.expect_no_line("call refused");
    let figures = run.expect_line(&format!(
        "module_calls: {rounds} calls answered and {rounds} failed by a faulting server"
    ));
    println!("{figures}");
}
