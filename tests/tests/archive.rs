//! The boot archive reaches the kernel intact: every entry is listed with its name, size and
//! FNV-1a 64, for edge-case sizes around the 512-byte tar block and for the archive
//! `cargo cella build` packs.

use cella::archive::{ArchiveEntry, read_ustar, write_ustar};
use cella_qemu_tests::serial::parse_archive_line;
use cella_qemu_tests::{BootRequest, BootRun, boot, environment};
use cella_system::fnv::fnv1a_64 as fnv1a64;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Deterministic pseudo-random bytes (xorshift64), different for each seed.
fn pattern(length: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Checks the `archive entry:` lines and the `archive: N entries` count against `entries`.
fn expect_listing(run: &BootRun, entries: &[ArchiveEntry]) {
    let mut listed = BTreeMap::new();
    for line in run.lines().filter(|line| line.contains("archive entry:")) {
        let parsed = parse_archive_line(line).unwrap_or_else(|| {
            run.fail(format!(
                "`{line}` is not `archive entry: NAME size=SIZE fnv1a=<16 hex digits>`"
            ))
        });
        if listed.insert(parsed.name.clone(), parsed).is_some() {
            run.fail(format!("`{line}` lists an entry twice"));
        }
    }
    for entry in entries {
        let Some(line) = listed.remove(&entry.name) else {
            run.fail(format!("entry `{}` is not listed", entry.name));
        };
        let (size, hash) = (entry.bytes.len() as u64, fnv1a64(&entry.bytes));
        if line.size != size || line.fnv1a != hash {
            run.fail(format!(
                "entry `{}`: kernel says size={} fnv1a={:016x}, the archive has size={size} fnv1a={hash:016x}",
                entry.name, line.size, line.fnv1a
            ));
        }
    }
    if let Some(extra) = listed.keys().next() {
        run.fail(format!(
            "the kernel lists `{extra}`, which is not in the archive"
        ));
    }
    let count = format!("archive: {} entries", entries.len());
    run.expect_line(&count);
    run.expect_line("scenario archive: passed");
}

#[test]
fn archive_entries_are_listed_with_sizes_and_checksums() {
    let entries = vec![
        ArchiveEntry::new("empty.bin", Vec::new()),
        ArchiveEntry::new("one-byte.bin", pattern(1, 1)),
        ArchiveEntry::new("block-minus-one.bin", pattern(511, 2)),
        ArchiveEntry::new("exactly-one-block.bin", pattern(512, 3)),
        ArchiveEntry::new("block-plus-one.bin", pattern(513, 4)),
        ArchiveEntry::new("large/hundred-kib.bin", pattern(100 * 1024 + 3, 5)),
        ArchiveEntry::new(
            "modules/drivers/nested/deeper/notes.txt",
            b"a nested entry with text\n".to_vec(),
        ),
    ];
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("archive-scenario.tar");
    std::fs::write(
        &path,
        write_ustar(&entries, 1_700_000_000).expect("valid entries"),
    )
    .expect("writing the test archive");
    let run = boot(BootRequest::scenario("archive").with_initrd(path));
    run.expect_kernel_success();
    expect_listing(&run, &entries);
}

/// The archive `cargo cella build` writes (build-info.txt for now) arrives intact.
#[test]
fn default_boot_archive_is_listed() {
    let archive = &environment().boot_archive;
    let bytes = std::fs::read(archive)
        .unwrap_or_else(|error| panic!("reading {}: {error}", archive.display()));
    let entries = read_ustar(&bytes).expect("the boot archive is valid ustar");
    assert!(
        entries.iter().any(|entry| entry.name == "build-info.txt"),
        "the boot archive has no build-info.txt"
    );
    let mut request = BootRequest::scenario("archive");
    request.label = "archive (default boot archive)".into();
    let run = boot(request);
    run.expect_kernel_success();
    expect_listing(&run, &entries);
}
