//! The file kept open between requests: reads and writes through any
//! handle of it see one file, a request about anything else closes it, and
//! a run of writes or reads costs the same at any offset (no walk of the
//! cluster chain from the file's start, no search of its directory).

mod common;

use cella_fs::FileServer;
use cella_sdk::interfaces::fs::{FsError, Handle, Kind, MAX_TRANSFER_BYTES, Mode, Server};
use common::*;

/// Store reads one request made.
fn reads_of<T>(
    server: &mut FileServer<ImageDisk>,
    request: impl FnOnce(&mut FileServer<ImageDisk>) -> T,
) -> (u64, T) {
    let before = server.store().borrow().reads();
    let answer = request(server);
    (server.store().borrow().reads() - before, answer)
}

/// A server on a fresh production-format image.
fn fresh(name: &str) -> (ImageDisk, FileServer<ImageDisk>) {
    let disk = ImageDisk::open(&fresh_image(name));
    let server = server(&disk);
    (disk, server)
}

/// Fails the test unless `fsck.vfat -n` finds the disk clean.
fn assert_clean(disk: &ImageDisk, name: &str) {
    let (clean, report) = disk.fsck(name);
    assert!(clean, "{report}");
}

#[test]
fn two_handles_of_one_file_see_each_others_writes() {
    let (disk, mut server) = fresh("kept-two-handles");
    let first = open(&mut server, "/shared.bin", Mode::Truncate);
    let second = open(&mut server, "/SHARED.BIN", Mode::Create);
    let front = pattern(1, 3000);
    let back = pattern(2, 2000);
    write_all(&mut server, first, 0, &front);
    assert_eq!(server.read(second, 0, 3000).unwrap().bytes, &front[..]);
    write_all(&mut server, second, 3000, &back);
    let whole = read_all(&mut server, first).unwrap();
    assert_eq!(whole.len(), 5000);
    assert_eq!(&whole[..3000], &front[..]);
    assert_eq!(&whole[3000..], &back[..]);
    // Overwriting the middle through one handle, then reading through the other.
    write_all(&mut server, first, 2500, &pattern(3, 1000));
    let after = read_all(&mut server, second).unwrap();
    assert_eq!(&after[2500..3500], &pattern(3, 1000)[..]);
    assert_eq!(server.stat("/shared.bin").unwrap().size, 5000);
    server.close(first).unwrap();
    server.close(second).unwrap();
    assert_clean(&disk, "kept-two-handles-check");
}

#[test]
fn files_written_in_turn_each_keep_their_bytes() {
    let (disk, mut server) = fresh("kept-in-turn");
    server.create("/turn", Kind::Directory).unwrap();
    let paths = ["/turn/a.bin", "/turn/b.bin", "/turn/c.bin"];
    let contents: Vec<Vec<u8>> = (0..3).map(|seed| pattern(10 + seed, 40_000)).collect();
    let handles: Vec<Handle> = paths
        .iter()
        .map(|path| open(&mut server, path, Mode::Truncate))
        .collect();
    for offset in (0..40_000).step_by(MAX_TRANSFER_BYTES) {
        for (index, handle) in handles.iter().enumerate() {
            let end = (offset + MAX_TRANSFER_BYTES).min(40_000);
            let bytes = &contents[index][offset..end];
            assert_eq!(
                server.write(*handle, offset as u64, bytes).unwrap().length as usize,
                bytes.len()
            );
            // A request about something else between the writes.
            if index == 1 {
                server.stat("/turn").unwrap();
            }
        }
    }
    for handle in handles {
        server.close(handle).unwrap();
    }
    for (path, content) in paths.iter().zip(&contents) {
        assert_eq!(get(&mut server, path).as_ref(), Ok(content), "{path}");
    }
    assert_clean(&disk, "kept-in-turn-check");
}

#[test]
fn a_kept_file_removed_and_made_again_starts_empty() {
    let (disk, mut server) = fresh("kept-removed");
    let old = open(&mut server, "/gone.txt", Mode::Truncate);
    write_all(&mut server, old, 0, &pattern(4, 9000));
    server.remove("/gone.txt").unwrap();
    assert_eq!(server.read(old, 0, 100).err(), Some(FsError::Stale));
    let new = open(&mut server, "/gone.txt", Mode::Create);
    assert_eq!(server.read(new, 0, 100).unwrap().bytes.len(), 0);
    write_all(&mut server, new, 0, b"fresh");
    server.close(new).unwrap();
    assert_eq!(get(&mut server, "/gone.txt").unwrap(), b"fresh");
    assert_clean(&disk, "kept-removed-check");
}

#[test]
fn a_truncation_through_another_handle_is_seen_by_the_kept_file() {
    let (disk, mut server) = fresh("kept-truncated");
    let writer = open(&mut server, "/cut.bin", Mode::Truncate);
    write_all(&mut server, writer, 0, &pattern(5, 20_000));
    let cutter = open(&mut server, "/cut.bin", Mode::Create);
    server.truncate(cutter, 1000).unwrap();
    assert_eq!(
        read_all(&mut server, writer).unwrap(),
        pattern(5, 20_000)[..1000]
    );
    // Writing on where the file now ends.
    write_all(&mut server, writer, 1000, &pattern(6, 5000));
    assert_eq!(server.stat("/cut.bin").unwrap().size, 6000);
    assert_eq!(
        server.write(writer, 7000, b"past the end").err(),
        Some(FsError::BadArgument)
    );
    assert_clean(&disk, "kept-truncated-check");
}

#[test]
fn a_run_of_writes_and_reads_costs_the_same_at_any_offset() {
    let (disk, mut server) = fresh("kept-cost");
    // Its directory holds 200 other files: finding the file by name each
    // time would cost as much as the walks.
    server.create("/many", Kind::Directory).unwrap();
    for number in 0..200 {
        put(&mut server, &format!("/many/f{number:03}.txt"), b"x");
    }
    let handle = open(&mut server, "/many/big.bin", Mode::Truncate);
    let chunk = pattern(7, MAX_TRANSFER_BYTES);
    let writes = 4 * 1024 * 1024 / MAX_TRANSFER_BYTES;
    let mut costs = Vec::new();
    for index in 0..writes {
        let offset = (index * MAX_TRANSFER_BYTES) as u64;
        let (reads, written) = reads_of(&mut server, |server| server.write(handle, offset, &chunk));
        assert_eq!(written.unwrap().length as usize, chunk.len());
        costs.push(reads);
    }
    let early = costs[10..20].iter().max().copied().unwrap_or(0);
    let late = costs[writes - 10..].iter().max().copied().unwrap_or(0);
    assert!(
        late <= early * 2 + 16,
        "a write at 4 MiB made {late} store reads, one at 40 KiB {early}"
    );
    let mut costs = Vec::new();
    for index in 0..writes {
        let offset = (index * MAX_TRANSFER_BYTES) as u64;
        let (reads, data) = reads_of(&mut server, |server| {
            server
                .read(handle, offset, MAX_TRANSFER_BYTES as u32)
                .map(|data| data.bytes == &chunk[..])
        });
        assert_eq!(data, Ok(true), "the read at {offset}");
        costs.push(reads);
    }
    let early = costs[10..20].iter().max().copied().unwrap_or(0);
    let late = costs[writes - 10..].iter().max().copied().unwrap_or(0);
    assert!(
        late <= early * 2 + 16,
        "a read at 4 MiB made {late} store reads, one at 40 KiB {early}"
    );
    server.close(handle).unwrap();
    assert_clean(&disk, "kept-cost-check");
}
