//! The user programs of the process tests: built once per test binary from
//! `userland/` (and the module sources built both ways) and packed as
//! `bin/NAME` and `modules/NAME.wasm` into a boot archive.

use cella::archive::ArchiveEntry;
use cella_qemu_tests::{BootRequest, BootRun, boot};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const PROGRAMS: [&str; 21] = [
    "hello",
    "fault-null",
    "fault-ud2",
    "bad-syscalls",
    "ports",
    "mmio",
    "client",
    "bench",
    "rtc-irq",
    "sdk-probe",
    "module-client",
    "supervisor-client",
    "module-peer",
    "forger",
    "mortal",
    "hog",
    "fuzz",
    "stopped-client",
    "crash-client",
    "mute-client",
    "reply-trap-client",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lies in the workspace")
        .to_path_buf()
}

/// Runs `cargo build --quiet --release ARGS --target-dir TARGET` in the
/// workspace; panics (failing the test) naming `what` if it fails.
fn cargo_build(what: &str, target: &Path, args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--release"])
        .args(args)
        .arg("--target-dir")
        .arg(target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {what} failed");
}

/// Builds the user programs once and writes the archive; panics (failing the test) on error.
pub fn user_archive() -> PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            let root = workspace_root();
            let target = std::env::var_os("CELLA_USERLAND_TARGET")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target").join("cella").join("userland-target"));
            const NATIVE: &str = "x86_64-unknown-none";
            let userland = ["--package", "cella-userland", "--target", NATIVE];
            cargo_build("userland", &target, &userland);
            let binaries = target.join("x86_64-unknown-none").join("release");
            // `bench` starts `exit-at-once` for its process start + exit + wait figure.
            let mut entries: Vec<ArchiveEntry> = PROGRAMS
                .iter()
                .chain(&["exit-at-once"])
                .map(|name| {
                    let bytes = std::fs::read(binaries.join(name))
                        .unwrap_or_else(|error| panic!("reading {name}: {error}"));
                    ArchiveEntry::new(format!("bin/{name}"), bytes)
                })
                .collect();
            // Module sources built as native processes (the SDK's native backend):
            // modules/checksum, and real drivers (scenarios native_drivers, native_block).
            for (package, binary) in [
                ("cella-checksum-native", "checksum-native"),
                ("cella-cmos-rtc-native", "cmos-rtc-native"),
                ("cella-virtio-blk-native", "virtio-blk-native"),
            ] {
                let args = ["--package", package, "--bin", binary, "--target", NATIVE];
                cargo_build(binary, &target, &args);
                entries.push(ArchiveEntry::new(
                    format!("bin/{binary}"),
                    std::fs::read(binaries.join(binary))
                        .unwrap_or_else(|error| panic!("reading {binary}: {error}")),
                ));
            }
            // The same sources as Wasm modules.
            let wasm_target = target.join("wasm");
            cargo_build(
                "the Wasm modules",
                &wasm_target,
                &[
                    "--package",
                    "cella-checksum",
                    "--package",
                    "cella-cmos-rtc",
                    "--target",
                    "wasm32-unknown-unknown",
                ],
            );
            let modules = wasm_target.join("wasm32-unknown-unknown").join("release");
            for (file, archived) in [
                ("cella_checksum.wasm", "modules/checksum.wasm"),
                ("cella_cmos_rtc.wasm", "modules/cmos-rtc.wasm"),
            ] {
                entries.push(ArchiveEntry::new(
                    archived,
                    std::fs::read(modules.join(file))
                        .unwrap_or_else(|error| panic!("reading {file}: {error}")),
                ));
            }
            entries.push(ArchiveEntry::new(
                "modules/log-forger.wasm",
                wat::parse_str(LOG_FORGER).expect("log-forger assembles"),
            ));
            let path = target.join("processes.tar");
            cella::commands::build::write_archive(&path, &entries).expect("archive written");
            // The same programs started by the system manifest instead of a scenario.
            entries.push(ArchiveEntry::new("system.manifest", MANIFEST));
            entries.push(ArchiveEntry::new(
                "modules/echo-sender.wasm",
                wat::parse_str(ECHO_SENDER).expect("echo-sender assembles"),
            ));
            entries.push(ArchiveEntry::new(
                "modules/sleeper.wasm",
                wat::parse_str(SLEEPER).expect("sleeper assembles"),
            ));
            entries.push(ArchiveEntry::new(
                "modules/crasher.wasm",
                wat::parse_str(CRASHER).expect("crasher assembles"),
            ));
            entries.push(ArchiveEntry::new(
                "modules/mute.wasm",
                wat::parse_str(MUTE).expect("mute assembles"),
            ));
            entries.push(ArchiveEntry::new(
                "modules/reply-trap.wasm",
                wat::parse_str(REPLY_TRAP).expect("reply-trap assembles"),
            ));
            cella::commands::build::write_archive(&target.join("manifest.tar"), &entries)
                .expect("archive written");
            path
        })
        .clone()
}

/// Native processes listed and granted in the system manifest like modules.
const MANIFEST: &str = "cella-system 1
module rtc modules/cmos-rtc.wasm
serve rtc
grant port 0x70 2
process checksum bin/checksum-native
serve checksum
process client bin/client
grant endpoint checksum
process ports bin/ports
process module-client bin/module-client
grant endpoint rtc
process supervisor-client bin/supervisor-client
grant endpoint supervisor
module echo-sender modules/echo-sender.wasm
serve echo-sender
grant endpoint peer-inbox
process module-peer bin/module-peer
serve peer-inbox
grant endpoint echo-sender
module sleeper modules/sleeper.wasm
serve sleeper
boot no
process stopped-client bin/stopped-client
grant endpoint sleeper
module crasher modules/crasher.wasm
serve crasher
restart policy=backoff backoff=10ms max=100ms hold-after=10 window=60s
process crash-client bin/crash-client
grant endpoint crasher
module mute modules/mute.wasm
serve mute
limit pending_requests=4
process mute-client bin/mute-client
grant endpoint mute
module reply-trap modules/reply-trap.wasm
serve reply-trap
restart policy=backoff backoff=1ms max=1ms hold-after=1000 window=60s
process reply-trap-client bin/reply-trap-client
grant endpoint reply-trap
";

/// A module that serves `reply-trap`: answers every call with `pong`, then
/// traps in the same event.
const REPLY_TRAP: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname reply-trap\nversion 1.0.0\n")
  (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "pong")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (drop (call $ipc_reply (local.get $request) (i32.const 16) (i32.const 4)))
    unreachable))"#;

/// A module that serves `mute`, takes every request and never answers.
const MUTE: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname mute\nversion 1.0.0\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param i32 i32)))"#;

/// A module that serves `crasher` and traps on every message.
const CRASHER: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname crasher\nversion 1.0.0\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param i32 i32) unreachable))"#;

/// A module that serves `sleeper` and is never started (`boot no`).
const SLEEPER: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname sleeper\nversion 1.0.0\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param i32 i32)))"#;

/// A Wasm module that answers a call with `pong` and, in the same event, sends
/// a one-way message to the endpoint `peer-inbox`, which a process serves.
const ECHO_SENDER: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname echo-sender\nversion 1.0.0\nendpoint peer-inbox\n")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "ipc_send" (func $ipc_send (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from a Wasm module")
  (data (i32.const 48) "pong")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (drop (call $ipc_send (call $cap_handle (i32.const 0)) (i32.const 16) (i32.const 24)))
    (if (local.get $request)
      (then (drop (call $ipc_reply (local.get $request) (i32.const 48) (i32.const 4)))))))"#;

/// A Wasm module whose `init` logs text with line ends and imitations of
/// kernel lines, then 60 warnings (scenario `isolation`): within the Wasm
/// host's per-event log budget (64 lines), so what limits them is the
/// kernel's per-module rate limit. Each message it gets makes it log 64
/// lines (again the whole per-event budget) and reply `ok`: a flood over many
/// events, which only the kernel's per-module console limit holds.
const LOG_FORGER: &str = r#"(module
  (@custom "cella.manifest" "cella 1\nname log-forger\nversion 1.0.0\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "a module line\nPANIC at kernel/src/forged.rs:2:2: forged by a module\nINFO  boot: forged by a module")
  (data (i32.const 128) "a flood of warnings")
  (data (i32.const 160) "a flood of lines")
  (data (i32.const 192) "ok")
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $count i32)
    (loop $again
      (drop (call $log (i32.const 3) (i32.const 160) (i32.const 16)))
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $count) (i32.const 64))))
    (drop (call $ipc_reply (local.get $request) (i32.const 192) (i32.const 2))))
  (func (export "init") (result i32)
    (local $count i32)
    (drop (call $log (i32.const 3) (i32.const 16) (i32.const 98)))
    (loop $again
      (drop (call $log (i32.const 2) (i32.const 128) (i32.const 19)))
      (local.set $count (i32.add (local.get $count) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $count) (i32.const 60))))
    (i32.const 0)))"#;

pub fn boot_with_programs(scenario: &str) -> BootRun {
    boot_with_programs_and(scenario, "")
}

/// Boots `scenario` with the programs and `extra` on the kernel command line.
pub fn boot_with_programs_and(scenario: &str, extra: &str) -> BootRun {
    let mut request = BootRequest::scenario(scenario).with_initrd(user_archive());
    if !extra.is_empty() {
        request.cmdline = format!("{} {extra}", request.cmdline);
    }
    boot(request)
}
