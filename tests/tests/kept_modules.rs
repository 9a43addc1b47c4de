//! Modules kept on the file system. The test kernel's manifest names the module `kept` by
//! its file, `path = "/modules/kept.wasm"`: the kernel reads it through the `fs` server once
//! the boot is done. Its first version is put on a file-system disk on the host; a second is
//! pushed with `--persist`, which swaps it in and writes it to that file; the next boot from
//! the same disk runs the second version; `start /PATH` starts a module from a file, and a
//! file that is not there is refused, changing nothing. After each boot `fsck.vfat -n` finds
//! the volume clean.

use cella::archive::read_ustar;
use cella::push::send;
use cella_qemu_tests::{Disk, Session, environment};
use cella_system::push_authority::{KEY_ARCHIVE_ENTRY, PushKey};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const FILE: &str = "/modules/kept.wasm";

/// Version `version` of `kept`: `init` logs `kept: version N ready`, `restore_state` (the
/// new version of a swap) logs `kept: version N took over`.
fn kept(version: u32) -> Vec<u8> {
    let ready = format!("kept: version {version} ready");
    let took = format!("kept: version {version} took over");
    let text = format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname kept\nversion {version}.0.0\nstate 1\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "{ready}")
  (data (i32.const 0x200) "{took}")
  (func (export "init") (result i32)
    (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const {ready_length})))
    (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0x400))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32)
    (drop (call $log (i32.const 3) (i32.const 0x200) (i32.const {took_length})))
    (i32.const 0)))"#,
        ready_length = ready.len(),
        took_length = took.len(),
    );
    wat::parse_str(text).expect("kept assembles")
}

/// The key the build packed into the boot archive: the one `cargo cella push` signs with.
fn system_key() -> PushKey {
    let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
    let entries = read_ustar(&archive).expect("ustar");
    let key = entries
        .into_iter()
        .find(|entry| entry.name == KEY_ARCHIVE_ENTRY)
        .expect("a push key in the boot archive");
    PushKey::from_hex(&key.bytes).expect("a push key")
}

/// Boots the test system with `disk` and a push port; waits for the prompt.
fn boot(label: &str, disk: &Disk) -> (Session, PathBuf) {
    let socket =
        std::env::temp_dir().join(format!("cella-kept-{label}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let serial = format!("unix:{},server=on,wait=off", socket.display());
    let session = Session::start_with_disk(label, "", None, &["-serial", &serial], disk);
    session.wait_for("cella> ", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    (session, socket)
}

fn expect_clean(disk: &Disk) {
    let verdict = disk.check_file_system();
    assert!(verdict.clean, "fsck.vfat -n:\n{}", verdict.report);
}

#[test]
fn a_module_pushed_with_persist_runs_again_after_a_reboot_from_the_same_disk() {
    let disk = Disk::file_system_for("kept");
    disk.write_file(FILE, &kept(1));

    // First boot: version 1 is read from the disk after the boot.
    let (mut session, socket) = boot("kept-first", &disk);
    session.wait_for("kept: version 1 ready", WAIT);
    session.expect_answer("list", "kept");
    // Version 2, pushed with --persist: swapped in, and kept in the module's file.
    let answer = send(&socket, &system_key(), "kept", &kept(2), true, WAIT).expect("an answer");
    if !answer.accepted || !answer.text.contains(&format!("kept in {FILE}")) {
        session.fail(format!("the persisted push: {answer:?}"));
    }
    session.wait_for("kept: version 2 took over", WAIT);
    // A file that is not there is refused, and the running version stays.
    session.expect_answer(
        "swap kept /modules/nothing.wasm",
        "error: /modules/nothing.wasm: no such file or directory; nothing changed",
    );
    session.expect_answer("list", "2.0.0");
    drop(session);
    expect_clean(&disk);
    assert_eq!(
        disk.read_file(FILE),
        Ok(kept(2)),
        "the file holds version 2"
    );

    // Second boot from the same disk: version 2 runs from the start.
    let (mut session, _) = boot("kept-second", &disk);
    session.wait_for("kept: version 2 ready", WAIT);
    if session.output().contains("kept: version 1") {
        session.fail("version 1 ran after the reboot");
    }
    // `start /PATH`: the module the file names, from the file.
    session.expect_answer("stop kept", "kept: stopped");
    session.expect_answer(&format!("start {FILE}"), "kept");
    let listed = session.expect_answer("list", "kept");
    if !listed
        .lines()
        .any(|line| line.starts_with("kept") && line.contains("2.0.0") && line.contains("running"))
    {
        session.fail(format!("kept is not running version 2:\n{listed}"));
    }
    drop(session);
    expect_clean(&disk);
}

#[test]
fn a_module_kept_on_the_file_system_is_not_started_from_a_disk_without_it() {
    let disk = Disk::file_system_for("kept-missing");
    let (mut session, _) = boot("kept-missing", &disk);
    session.wait_for(
        &format!("module kept not started: {FILE}: no such file or directory"),
        WAIT,
    );
    session.expect_answer(
        "start kept",
        &format!("error: module kept not started: {FILE}: no such file or directory"),
    );
    // The rest of the disk is there all the same.
    let listing = session.type_line("ls /modules");
    if !listing.contains("fs.wasm") {
        session.fail(format!("the image's modules are not listed:\n{listing}"));
    }
}
