//! Faults and hot swaps of the file server: the `fs_faults` scenario swaps `fs` v1 -> v2 -> v1
//! and faults it, each while the server is suspended waiting for the disk on a request of
//! `fs-workload`, which writes files of varied sizes, reads each back and keeps a ledger of
//! those answered whole. After QEMU exits, `fsck.vfat -n` finds the image clean and every
//! ledger file, read on the host with mtools, has the ledger's size and checksum and the
//! bytes the workload derives from its number.

// The workload's files, report and ledger (tests/fixtures/fs-workload).
#[allow(dead_code)]
#[path = "../fixtures/fs-workload/src/pattern.rs"]
mod pattern;

use cella_qemu_tests::{BootRequest, Disk, boot};

/// The number after `key` in `line`, up to the next space or comma.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([' ', ',']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A ledger line, `fs_faults: ledger /LOAD/F00003.BIN 3585 bytes FNV-1a 0x0123abcd`: path,
/// size, checksum.
fn ledger_line(line: &str) -> Option<(String, u64, u32)> {
    let rest = &line[line.find("fs_faults: ledger ")? + "fs_faults: ledger ".len()..];
    let mut words = rest.split_whitespace();
    let path = words.next()?.to_owned();
    let size = words.next()?.parse().ok()?;
    let checksum = u32::from_str_radix(words.nth(2)?.trim_start_matches("0x"), 16).ok()?;
    Some((path, size, checksum))
}

#[test]
fn swaps_and_faults_of_the_file_server_lose_no_answered_file() {
    let disk = Disk::file_system_for("fs-faults");
    let run = boot(BootRequest::scenario("fs_faults").with_disk(&disk));
    for line in run.lines().filter(|line| {
        line.contains("fs_faults: cycle")
            || line.contains("fs_faults: kernel heap")
            || line.contains("fs_faults: files ")
    }) {
        println!("{line}");
    }
    run.expect_kernel_success();
    run.expect_line("scenario fs_faults: passed");
    let summary = run.expect_line("fs_faults: files ").to_owned();
    let get = |key: &str| {
        number_after(&summary, key)
            .unwrap_or_else(|| run.fail(format!("no `{key}` in `{summary}`")))
    };
    assert!(get("files ") >= u64::from(pattern::LEAST_FILES));
    let faults = get("faults ");
    assert!(faults >= 10, "{faults} cycles");
    assert_eq!(get("swaps "), 2 * faults, "two swaps in each cycle");
    assert_eq!(
        get("fault records "),
        faults,
        "the injected faults, no other"
    );
    assert_eq!(get("failures "), 0);
    assert_eq!(get("mismatches "), 0);
    assert!(
        get("interrupted writes ") >= faults,
        "each fault interrupts the write the server was on"
    );
    assert_eq!(get("not intact "), 0);
    assert_eq!(get("read back intact "), get("files "));
    let faulted: Vec<&str> = run
        .lines()
        .filter(|line| {
            line.contains("fs_faults: cycle")
                && line.contains("faulted waiting for the disk on a write")
        })
        .collect();
    assert_eq!(faulted.len() as u64, faults, "{faulted:?}");
    let ledger: Vec<(String, u64, u32)> = run.lines().filter_map(ledger_line).collect();
    assert_eq!(ledger.len() as u64, get("files "), "one ledger line a file");
    drop(run);

    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the faults:\n{}",
        verdict.report
    );
    let mut intact = 0;
    for (path, size, checksum) in &ledger {
        let bytes = disk
            .read_file(path.trim_start_matches('/'))
            .unwrap_or_else(|error| panic!("{path} is not on the image: {error}"));
        assert_eq!(bytes.len() as u64, *size, "{path}: size");
        assert_eq!(pattern::fnv1a(&bytes), *checksum, "{path}: checksum");
        let number: u32 = path["/LOAD/F".len().."/LOAD/F00000".len()]
            .parse()
            .expect("a file number");
        assert_eq!(
            u64::from(pattern::size_of(number)),
            *size,
            "{path}: its size"
        );
        assert_eq!(pattern::checksum_of(number), *checksum, "{path}: its bytes");
        intact += 1;
    }
    println!(
        "fsck.vfat -n: clean; {intact} ledger files read on the host with mtools, each of the ledger's size and checksum"
    );
}

#[test]
fn the_pattern_names_sizes_and_checksums_files() {
    assert_eq!(&pattern::path_of(42), b"/LOAD/F00042.BIN");
    assert_eq!(pattern::size_of(3), 3585);
    let mut bytes = vec![0u8; pattern::size_of(6) as usize];
    pattern::fill(6, 0, &mut bytes);
    assert_eq!(pattern::fnv1a(&bytes), pattern::checksum_of(6));
    bytes[17_000] ^= 1;
    assert_ne!(pattern::fnv1a(&bytes), pattern::checksum_of(6));
    assert_ne!(pattern::checksum_of(6), pattern::checksum_of(14 + 8));
    let entry = pattern::Entry {
        number: 7,
        size: 9000,
        checksum: 0xdead_beef,
    };
    assert_eq!(pattern::Entry::decode(&entry.encode()), Some(entry));
    let report = pattern::Report {
        files: 3,
        verified: 3,
        finished: true,
        requests: 99,
        writing: true,
        ..pattern::Report::default()
    };
    assert_eq!(pattern::Report::decode(&report.encode()), Some(report));
    assert_eq!(
        ledger_line("fs_faults: ledger /LOAD/F00003.BIN 3585 bytes FNV-1a 0x0123abcd"),
        Some((String::from("/LOAD/F00003.BIN"), 3585, 0x0123_abcd))
    );
}
