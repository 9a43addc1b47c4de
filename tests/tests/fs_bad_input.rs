//! Bad input to the file server, on a 512 KiB FAT volume made here: the `fs_bad_input`
//! scenario sends the requests the shell cannot type (paths with `..`, paths too long for the
//! server and for a message, a request cut short, a file larger than the disk, writes and a
//! directory on the full disk, the space given back by a removal, three rounds). Each is
//! answered with its error, the server never faults, and after QEMU exits `fsck.vfat -n`
//! finds the volume clean and the host reads what the last round left.

use cella_qemu_tests::{BootRequest, Disk, boot};
use std::process::Command;

/// Bytes of the small disk: a FAT12 volume of about 400 clusters of 1 KiB.
const DISK_BYTES: u64 = 512 * 1024;

/// The number after `key` in `line`, up to the next space, comma or semicolon.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([' ', ',', ';']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[test]
fn bad_input_to_the_file_server_is_refused_with_its_error() {
    let disk = Disk::copy_for("fs-bad-input");
    std::fs::OpenOptions::new()
        .write(true)
        .open(disk.path())
        .and_then(|file| file.set_len(DISK_BYTES))
        .expect("the disk cut to 512 KiB");
    let image = disk.path().to_str().expect("a path in UTF-8");
    let made = Command::new("mkfs.fat")
        .args(["-F", "12", "-s", "2", "-R", "96", "-n", "SMALL", image])
        .output()
        .expect("mkfs.fat runs (dosfstools)");
    assert!(made.status.success(), "mkfs.fat: {made:?}");

    let run = boot(BootRequest::scenario("fs_bad_input").with_disk(&disk));
    for line in run.lines().filter(|line| line.contains("fs_bad_input: ")) {
        println!("{line}");
    }
    run.expect_kernel_success();
    run.expect_line("scenario fs_bad_input: passed");
    for (what, error) in [
        ("stat /../README.TXT: refused", "bad path"),
        ("open /a/../b create: refused", "bad path"),
        ("remove /: refused", "bad path"),
        ("open of a 4000-byte path: refused", "too long"),
        ("open of a 4096-byte path: not encoded", "does not fit"),
        ("a request cut short: answered empty", ""),
        (
            "round 2: a write on the full disk: refused",
            "no space left on the disk",
        ),
        (
            "round 2: a directory on the full disk: refused",
            "no space left on the disk",
        ),
    ] {
        let line = run.expect_line(&format!("fs_bad_input: {what}"));
        assert!(line.contains(error), "{line}");
    }
    let fills: Vec<&str> = run
        .lines()
        .filter(|line| line.contains("a file larger than the disk"))
        .collect();
    assert_eq!(fills.len(), 3, "{fills:?}");
    for line in &fills {
        assert!(
            line.contains("then refused: no space left on the disk"),
            "{line}"
        );
        let size = number_after(line, "the disk: ").unwrap_or(0);
        assert!(size > 300 * 1024 && size < DISK_BYTES, "{line}");
    }
    let summary = run.expect_line("fs_bad_input: rounds ");
    assert_eq!(number_after(summary, "fs faults "), Some(0), "{summary}");
    drop(run);

    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the full disk:\n{}",
        verdict.report
    );
    assert_eq!(
        disk.read_file("SMALL.TXT").as_deref(),
        Ok(&b"round 0\nround 1\nround 2\n"[..])
    );
    assert!(disk.read_file("BIG.BIN").is_err(), "the big file is gone");
}
