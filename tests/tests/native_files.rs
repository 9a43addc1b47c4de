//! A native process reads files through the same typed `fs` interface as the shell and the
//! Wasm modules: `fs-cat` (userland/src/bin/fs_cat.rs), started by the system manifest with
//! only the `fs` endpoint granted, reads `/README.TXT` of the file-system disk and lists
//! `/modules`; what it logs matches what the host reads from the image with mtools.

use cella::archive::{ArchiveEntry, read_ustar};
use cella_qemu_tests::{BootRequest, Disk, boot, environment, fnv1a};
use std::path::PathBuf;

const README: &str = "/README.TXT";

/// The test system's boot archive (which packs every native program) with `fs-cat` started
/// by its manifest as process `fs-cat`, granted endpoint `fs` and nothing else.
fn archive_with_fs_cat() -> PathBuf {
    let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
    let mut entries: Vec<ArchiveEntry> = read_ustar(&archive).expect("ustar");
    assert!(
        entries.iter().any(|entry| entry.name == "bin/fs-cat"),
        "the test archive packs bin/fs-cat"
    );
    let manifest = entries
        .iter_mut()
        .find(|entry| entry.name == "system.manifest")
        .expect("a system manifest");
    manifest
        .bytes
        .extend_from_slice(b"process fs-cat bin/fs-cat\ngrant endpoint fs\n");
    let path = std::env::temp_dir().join(format!("cella-fs-cat-{}.tar", std::process::id()));
    cella::commands::build::write_archive(&path, &entries).expect("archive written");
    path
}

#[test]
fn a_native_process_reads_a_file_through_the_fs_interface() {
    let disk = Disk::file_system_for("native-files");
    let readme = disk.read_file(README).expect("the image has a README");
    let modules = disk
        .list_directory("/modules")
        .expect("the image has /modules");
    // The system as it boots, no scenario; stopped once fs-cat has ended.
    let run = boot(
        BootRequest {
            cmdline: String::new(),
            ..BootRequest::scenario("native-files")
        }
        .with_initrd(archive_with_fs_cat())
        .with_disk(&disk)
        .until("process fs-cat (thread"),
    );
    run.expect_line("process fs-cat from the system manifest");
    let summary = run.expect_line(&format!(
        "fs-cat: {README}: {} bytes, FNV-1a {:#010x}",
        readme.len(),
        fnv1a(&readme)
    ));
    assert!(!summary.is_empty());
    // Each line of the file reached the log as it was read.
    let first = String::from_utf8_lossy(&readme)
        .lines()
        .find(|line| !line.trim().is_empty())
        .expect("the README has text")
        .to_owned();
    run.expect_line(&format!("fs-cat| {first}"));
    let count = run
        .expect_line("fs-cat: /modules holds ")
        .split("holds ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse::<usize>().ok())
        .expect("a count of entries");
    let on_host = modules
        .lines()
        .filter(|line| line.contains(" wasm ") || line.ends_with(".wasm"))
        .count();
    assert_eq!(
        count, on_host,
        "fs-cat's count of /modules against mdir's listing:\n{modules}"
    );
}
