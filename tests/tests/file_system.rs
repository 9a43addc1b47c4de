//! The `fs` module in a booted system: on the test disk, which holds no FAT volume, it
//! starts and answers every request `no FAT file system on the disk`; on a disk formatted
//! with mkfs.fat (and a file put there with mtools) it reads what the host wrote, makes a
//! directory and a file the host finds after QEMU exits, and `fsck.vfat -n` finds the
//! volume clean; the supervisor reads modules through it (a swap from `/modules/`) and
//! writes them (`cargo cella push --persist`). The server's own host tests are in
//! `modules/fs/tests/`.

use cella::archive::read_ustar;
use cella::push::send;
use cella_qemu_tests::{Disk, Session, environment};
use cella_system::push_authority::{KEY_ARCHIVE_ENTRY, PushKey};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn run(program: &str, arguments: &[&str]) -> String {
    let output = Command::new(program)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| {
            panic!("{program} did not run ({error}): install dosfstools and mtools")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{program} {arguments:?}: {text}");
    text
}

fn at_prompt_with(label: &str, disk: &Disk) -> Session {
    let session = Session::start_with_disk(label, "", None, &[], disk);
    let boot = session.wait_for_boot(WAIT);
    if boot.not_up.iter().any(|name| name == "fs") {
        session.fail("the fs module is not up");
    }
    session.wait_for("cella> ", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    session
}

#[test]
fn file_system_on_a_disk_without_fat_answers_no_file_system() {
    let disk = Disk::copy_for("fs-blank");
    let mut session = at_prompt_with("fs-blank", &disk);
    for _ in 0..3 {
        session.expect_answer("call fs space", "error: no FAT file system on the disk");
    }
    session.expect_answer(
        "call fs stat /anything",
        "error: no FAT file system on the disk",
    );
    let table = session.type_line("ps");
    if !table
        .lines()
        .any(|line| line.starts_with("fs ") && line.contains("running"))
    {
        session.fail(format!("fs is not running:\n{table}"));
    }
}

#[test]
fn file_system_on_a_fat32_disk_reads_and_writes_what_the_host_sees() {
    let disk = Disk::copy_for("fs-fat32");
    let image = disk.path().to_str().unwrap().to_owned();
    run(
        "mkfs.fat",
        &["-F", "32", "-s", "2", "-R", "96", "-n", "CELLA", &image],
    );
    let source = disk.path().with_file_name("hello.txt");
    std::fs::write(&source, "written on the host\n".repeat(100)).unwrap();
    run(
        "mcopy",
        &[
            "-i",
            &image,
            source.to_str().unwrap(),
            "::/hello-from-the-host.txt",
        ],
    );
    let mut session = at_prompt_with("fs-fat32", &disk);
    session.expect_answer(
        "call fs stat /hello-from-the-host.txt",
        "reply from fs: file, 2000 bytes",
    );
    session.expect_answer("call fs list / 0", "hello-from-the-host.txt");
    session.expect_answer("call fs space", "in clusters of 1024 bytes");
    session.expect_answer(
        "call fs create /made-in-cella directory",
        "reply from fs: done",
    );
    session.expect_answer(
        "call fs create /made-in-cella/a-long-file-name.txt file",
        "reply from fs: done",
    );
    session.expect_answer(
        "call fs create /made-in-cella directory",
        "error: it exists already",
    );
    session.expect_answer(
        "call fs open /made-in-cella/a-long-file-name.txt read",
        "bytes",
    );
    session.expect_answer("call fs list /made-in-cella 0", "a-long-file-name.txt");
    session.expect_answer("call fs sync", "reply from fs: done");
    drop(session);
    let listing = run("mdir", &["-i", &image, "::/made-in-cella"]);
    assert!(listing.contains("a-long-file-name.txt"), "{listing}");
    let report = Command::new("fsck.vfat")
        .args(["-n", &image])
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "fsck.vfat -n: {}",
        String::from_utf8_lossy(&report.stdout)
    );
}

#[test]
fn file_system_serves_the_modules_the_supervisor_swaps_in_from_the_disk() {
    let disk = Disk::file_system_for("fs-swap-from-disk");
    let mut session = at_prompt_with("fs-swap-from-disk", &disk);
    session.expect_answer("call fs list /modules 0", "virtio-blk.wasm");
    session.expect_answer("call fs stat /README.TXT", "reply from fs: file, ");
    // Each swap reads the module (the disk driver's 53 KiB, the file server's own 190 KiB)
    // through fs, 3,584 bytes a request; the file server hands its handle table over to
    // the new version of itself.
    session.expect_answer("call fs open /README.TXT read", "reply from fs: handle ");
    for _ in 0..3 {
        session.expect_answer(
            "swap virtio-blk /modules/virtio-blk.wasm",
            "virtio-blk: swapped",
        );
        session.expect_answer("swap fs /modules/fs.wasm", "fs: swapped");
        session.wait_for("took over 1 open handles", WAIT);
    }
    session.expect_answer(
        "swap fs /modules/no-such-module.wasm",
        "no such file or directory",
    );
    session.expect_answer("call fs stat /README.TXT", "reply from fs: file, ");
    drop(session);
    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the boot:\n{}",
        verdict.report
    );
}

/// An entry of the boot archive the test system booted.
fn archive_entry(name: &str) -> Vec<u8> {
    let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
    read_ustar(&archive)
        .expect("ustar")
        .into_iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("{name} in the boot archive"))
        .bytes
}

#[test]
fn file_system_keeps_the_modules_pushed_with_persist() {
    let label = "fs-persist";
    let disk = Disk::file_system_for(label);
    let socket = std::env::temp_dir().join(format!("cella-fs-persist-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let serial = format!("unix:{},server=on,wait=off", socket.display());
    let session = Session::start_with_disk(label, "", None, &["-serial", &serial], &disk);
    session.wait_for("shell: ready", WAIT);
    let key = PushKey::from_hex(&archive_entry(KEY_ARCHIVE_ENTRY)).expect("the push key");
    let first = archive_entry("modules/uart16550.wasm");
    let second = archive_entry("modules/uart16550-v2.wasm");
    assert_ne!(first, second);
    // Each push rewrites /modules/uart16550.wasm through fs (open truncate, writes of
    // 3,584 bytes, close).
    for bytes in [&second, &first, &second] {
        let answer = send(&socket, &key, "uart16550", bytes, true, WAIT).expect("an answer");
        if !answer.accepted || !answer.text.contains("kept in /modules/uart16550.wasm") {
            session.fail(format!("push --persist answered: {}", answer.text));
        }
    }
    drop(session);
    let _ = std::fs::remove_file(&socket);
    assert_eq!(
        disk.read_file("modules/uart16550.wasm").as_deref(),
        Ok(&second[..]),
        "the file holds the last module pushed"
    );
    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the pushes:\n{}",
        verdict.report
    );
}
