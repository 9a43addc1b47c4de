//! The fs server at volume scale: a 16 MiB file written in 3584-byte
//! requests and read back by checksum, 1,000 files of 4 KiB, a big file
//! removed in steps; fsck.vfat finds each volume clean, and the block
//! calls show the cache and read-ahead at work.

mod common;

use cella_sdk::interfaces::block::checksum;
use cella_sdk::interfaces::fs::{FsError, Kind, MAX_TRANSFER_BYTES, Mode, Server};
use common::*;

#[test]
fn a_16_mib_file_written_in_3584_byte_requests_reads_back_by_checksum() {
    let disk = ImageDisk::open(&fresh_image("sixteen"));
    let mut server = server(&disk);
    let free_before = server.space().unwrap().free;
    let size = 16 * 1024 * 1024;
    let handle = open(&mut server, "/big.bin", Mode::Create);
    let mut written_sum = 0x811c_9dc5u32;
    let mut offset = 0usize;
    while offset < size {
        let length = MAX_TRANSFER_BYTES.min(size - offset);
        let chunk = pattern(offset as u64, length);
        written_sum = chunk.iter().fold(written_sum, |hash, &byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        let written = server.write(handle, offset as u64, &chunk).unwrap();
        offset += length;
        assert_eq!(written.size, offset as u64);
    }
    server.close(handle).unwrap();
    let reads_before = disk.read_calls();
    let bytes = get(&mut server, "/big.bin").unwrap();
    assert_eq!(bytes.len(), size);
    assert_eq!(checksum(&bytes), written_sum);
    let read_calls = disk.read_calls() - reads_before;
    assert!(
        read_calls < (size / 512 / 4) as u64,
        "read-ahead: {read_calls} block reads for {} sectors",
        size / 512
    );
    assert_eq!(
        free_before - server.space().unwrap().free,
        size as u64,
        "16 MiB in 1 KiB clusters"
    );
    server.remove("/big.bin").unwrap();
    assert_eq!(server.space().unwrap().free, free_before);
    assert_eq!(
        server.store().borrow().unjournaled(),
        0,
        "every step fit the journal"
    );
    let (clean, report) = disk.fsck("sixteen-fsck");
    assert!(clean, "{report}");
}

#[test]
fn a_thousand_files_of_4_kib() {
    let disk = ImageDisk::open(&fresh_image("thousand"));
    let mut server = server(&disk);
    server.create("/files", Kind::Directory).unwrap();
    for index in 0..1000u64 {
        put(
            &mut server,
            &format!("/files/file-{index:04}.dat"),
            &pattern(index, 4096),
        );
    }
    let entries = list(&mut server, "/files").unwrap();
    assert_eq!(entries.len(), 1000);
    assert!(
        entries
            .iter()
            .all(|(_, kind, size)| *kind == Kind::File && *size == 4096)
    );
    for index in (0..1000u64).step_by(37) {
        let path = format!("/files/file-{index:04}.dat");
        assert_eq!(
            get(&mut server, &path).unwrap(),
            pattern(index, 4096),
            "{path}"
        );
    }
    let (clean, report) = disk.fsck("thousand-fsck");
    assert!(clean, "{report}");
    // A fresh instance (a restart) finds them all.
    let mut next = common::server(&disk);
    assert_eq!(list(&mut next, "/files").unwrap().len(), 1000);
    assert_eq!(
        get(&mut next, "/files/file-0999.dat").unwrap(),
        pattern(999, 4096)
    );
}

#[test]
fn open_write_close_repeated_does_not_leak_handles_or_cache() {
    let disk = ImageDisk::open(&fresh_image("repeat"));
    let mut server = server(&disk);
    for round in 0..500u64 {
        let handle = open(&mut server, "/again.txt", Mode::Truncate);
        write_all(&mut server, handle, 0, &pattern(round, 700));
        assert_eq!(read_all(&mut server, handle).unwrap(), pattern(round, 700));
        server.close(handle).unwrap();
        assert!(server.store().borrow().cache_len() <= CACHE_SECTORS);
    }
    assert_eq!(list(&mut server, "/").unwrap().len(), 1);
    let handles: Vec<_> = (0..32)
        .map(|index| open(&mut server, &format!("/f{index}"), Mode::Create))
        .collect();
    assert_eq!(handles.len(), 32);
    assert_eq!(
        server.open("/f32", Mode::Create).err(),
        Some(FsError::TooManyOpen),
        "all 32 slots were free again, and now none is"
    );
    let (clean, report) = disk.fsck("repeat-fsck");
    assert!(clean, "{report}");
}

#[test]
fn the_free_count_is_kept_in_fsinfo_so_a_mount_need_not_read_the_fat() {
    let disk = ImageDisk::open(&fresh_image("free-count"));
    let mut server = server(&disk);
    put(&mut server, "/one", &pattern(1, 100_000));
    server.create("/dir", Kind::Directory).unwrap();
    put(&mut server, "/dir/two", &pattern(2, 5_000));
    server.remove("/one").unwrap();
    let expected = server.space().unwrap();
    let reads_before = disk.read_calls();
    let mut next = common::server(&disk);
    assert_eq!(next.space().unwrap(), expected);
    let reads = disk.read_calls() - reads_before;
    // The FAT is 2048 sectors: counting would take about 300 reads of 7.
    assert!(reads < 20, "{reads} block reads to mount and answer space");
    let (clean, report) = disk.fsck("free-count-fsck");
    assert!(clean, "{report}");
}
