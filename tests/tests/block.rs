//! The virtio-blk driver on a virtio-blk disk QEMU is given for this test: the test module
//! `block-check` (tests/fixtures/block-check) writes and reads back patterns through the
//! `block` interface and every round trip matches; the shell's `call block` answers the same
//! capacity, reads the last round's sectors with the same checksum however often it is asked,
//! and has requests past the disk's end or longer than 7 sectors refused.
//!
//! Both modules join the default boot archive for this boot only, with the grant the driver
//! needs (the disk by its ids, a DMA pool, a timer). The kernel does not confine module DMA
//! with an IOMMU, so the grant allows it unconfined (`dma-unconfined`).

use cella_qemu_tests::{Session, default_archive_with};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// The rounds `block-check` runs.
const ROUNDS: u32 = 20;
/// The session's name, and its archive's and disk image's.
const LABEL: &str = "block";
/// The disk: 1 MiB, 2048 sectors.
const DISK_BYTES: u64 = 1 << 20;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lies in the workspace")
        .to_path_buf()
}

/// Builds the driver and the test module; returns (archive name, bytes) of each.
fn modules() -> Vec<(String, Vec<u8>)> {
    let root = workspace_root();
    let target = std::env::var_os("CELLA_USERLAND_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("cella").join("userland-target"))
        .join("block");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .args([
            "--package",
            "cella-virtio-blk",
            "--package",
            "cella-block-check",
        ])
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the block modules failed");
    let built = target.join("wasm32-unknown-unknown").join("release");
    [
        ("cella_virtio_blk.wasm", "modules/virtio-blk.wasm"),
        ("cella_block_check.wasm", "modules/block-check.wasm"),
    ]
    .into_iter()
    .map(|(file, archived)| {
        let bytes = std::fs::read(built.join(file))
            .unwrap_or_else(|error| panic!("reading {file}: {error}"));
        (archived.to_owned(), bytes)
    })
    .collect()
}

/// A zeroed disk image of its own for the boot named `label`.
fn disk_image(label: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cella-{label}-disk-{}.img", std::process::id()));
    let file = std::fs::File::create(&path).expect("disk image created");
    file.set_len(DISK_BYTES).expect("disk image sized");
    path
}

/// The text after `key` up to the next space, comma or parenthesis.
fn word_after<'line>(line: &'line str, key: &str) -> Option<&'line str> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([' ', ',', ')', '\r']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The default archive plus the driver and `block-check`, granted what they need.
fn archive() -> PathBuf {
    default_archive_with(
        LABEL,
        |manifest| {
            format!(
                "{manifest}\nmodule virtio-blk modules/virtio-blk.wasm\nserve block\n\
                 grant device 0x1af4 0x1042\ngrant dma 16384\ngrant dma-unconfined\ngrant timer\n\
                 module block-check modules/block-check.wasm\ngrant endpoint block\ngrant timer\n"
            )
        },
        modules(),
    )
}

#[test]
fn round_trips_through_the_block_driver_match_and_the_shell_reads_the_same_bytes() {
    let archive = archive();
    let image = disk_image(LABEL);
    let drive = format!("file={},if=none,id=blockcheck,format=raw", image.display());
    let mut session = Session::start(
        LABEL,
        "",
        Some(archive.clone()),
        &[
            "-drive",
            &drive,
            "-device",
            "virtio-blk-pci,drive=blockcheck,disable-legacy=on",
        ],
    );
    session.wait_for("shell: ready", WAIT);
    session.wait_for(
        &format!("block-check: {ROUNDS} of {ROUNDS} round trips matched"),
        WAIT,
    );
    session.wait_for("cella> ", WAIT);
    let output = session.output();
    let Some(sectors) = output
        .lines()
        .find_map(|line| word_after(line, "block-check: capacity "))
        .and_then(|word| word.parse::<u64>().ok())
    else {
        session.fail("no `block-check: capacity N sectors` line");
    };
    let last_round = format!("block-check: round {}: ", ROUNDS - 1);
    let Some(line) = output.lines().find(|line| line.contains(&last_round)) else {
        session.fail(format!("no `{last_round}` line"));
    };
    let (Some(sector), Some(checksum)) = (
        word_after(line, "at sector "),
        word_after(line, "read back 3584 (FNV-1a "),
    ) else {
        session.fail(format!("`{line}` does not say where and what it read"));
    };
    let (sector, checksum) = (sector.to_owned(), checksum.to_owned());

    let answer = session.type_line("call block capacity");
    if !answer.contains(&format!("reply from block: {sectors} sectors of 512 bytes")) {
        session.fail(format!("`call block capacity` answered:\n{answer}"));
    }
    for id in 0..10 {
        let answer = session.type_line(&format!("call block read {id} {sector} 7"));
        let expected = format!("reply from block: request {id}: 3584 bytes, FNV-1a {checksum}");
        if !answer.contains(&expected) {
            session.fail(format!(
                "expected `{expected}`, the shell showed:\n{answer}"
            ));
        }
    }
    let answer = session.type_line(&format!("call block read 11 {sectors} 1"));
    if !answer.contains("error: request 11: the sectors lie past the end of the disk") {
        session.fail(format!("a read past the end was answered:\n{answer}"));
    }
    let answer = session.type_line("call block read 12 0 8");
    if !answer.contains("error: request 12: more than 7 sectors in one request") {
        session.fail(format!("a read of 8 sectors was answered:\n{answer}"));
    }
    let _ = std::fs::remove_file(archive);
    let _ = std::fs::remove_file(image);
}
