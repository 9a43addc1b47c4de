//! Crash consistency: a script of requests runs on a disk that stops
//! after N sector writes, as if the server were killed between two block
//! calls, for every N the script reaches. The next instance mounts what is
//! left (replaying the journal), `fsck.vfat -n` finds it clean, and the
//! files are exactly as after the last answered request, or as after the
//! one that was under way (which may have reached its commit point).

mod common;

use cella_fs::FileServer;
use cella_sdk::interfaces::fs::{FsError, Handle, Kind, Mode, Server};
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// One request of the script; handles are named by an index.
#[derive(Clone, Copy)]
enum Request {
    Directory(&'static str),
    Open(usize, &'static str, Mode),
    Write(usize, u64, u64, usize),
    Truncate(usize, u64),
    Close(usize),
    Remove(&'static str),
    Sync,
}

/// What the volume holds: directories and files with their bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Contents {
    directories: Vec<String>,
    files: BTreeMap<String, Vec<u8>>,
}

const SCRIPT: &[Request] = &[
    Request::Directory("/logs"),
    Request::Open(0, "/logs/boot-messages.txt", Mode::Create),
    Request::Write(0, 0, 1, 3584),
    Request::Write(0, 3584, 2, 3584),
    Request::Write(0, 7168, 3, 1000),
    Request::Close(0),
    Request::Open(1, "/uart16550-v2.wasm", Mode::Truncate),
    Request::Write(1, 0, 4, 2048),
    Request::Write(1, 2048, 5, 3584),
    Request::Truncate(1, 1500),
    Request::Close(1),
    Request::Open(2, "/logs/second.log", Mode::Create),
    Request::Write(2, 0, 6, 512),
    Request::Close(2),
    Request::Remove("/logs/boot-messages.txt"),
    Request::Directory("/logs/old"),
    Request::Remove("/logs/old"),
    Request::Sync,
];

/// The contents after `request`, from `before`.
fn apply(
    before: &Contents,
    request: Request,
    paths: &mut BTreeMap<usize, &'static str>,
) -> Contents {
    let mut after = before.clone();
    match request {
        Request::Directory(path) => after.directories.push(path.to_string()),
        Request::Open(name, path, mode) => {
            paths.insert(name, path);
            let file = after.files.entry(path.to_string()).or_default();
            if mode == Mode::Truncate {
                file.clear();
            }
        }
        Request::Write(name, offset, seed, length) => {
            let file = after.files.get_mut(paths[&name]).unwrap();
            let bytes = pattern(seed, length);
            let offset = offset as usize;
            file.resize(file.len().max(offset + length), 0);
            file[offset..offset + length].copy_from_slice(&bytes);
        }
        Request::Truncate(name, size) => after
            .files
            .get_mut(paths[&name])
            .unwrap()
            .truncate(size as usize),
        Request::Remove(path) => {
            after.files.remove(path);
            after.directories.retain(|directory| directory != path);
        }
        Request::Close(_) | Request::Sync => {}
    }
    after.directories.sort();
    after
}

fn send(
    server: &mut FileServer<ImageDisk>,
    request: Request,
    handles: &mut BTreeMap<usize, Handle>,
) -> Result<(), FsError> {
    match request {
        Request::Directory(path) => server.create(path, Kind::Directory).map(drop),
        Request::Open(name, path, mode) => server.open(path, mode).map(|opened| {
            handles.insert(name, opened.handle);
        }),
        Request::Write(name, offset, seed, length) => server
            .write(handles[&name], offset, &pattern(seed, length))
            .map(drop),
        Request::Truncate(name, size) => server.truncate(handles[&name], size).map(drop),
        Request::Close(name) => server.close(handles[&name]).map(drop),
        Request::Remove(path) => server.remove(path).map(drop),
        Request::Sync => server.sync().map(drop),
    }
}

/// What the volume holds, as a fresh server reads it.
fn contents(server: &mut FileServer<ImageDisk>) -> Contents {
    let mut found = Contents::default();
    let mut pending = vec![String::new()];
    while let Some(directory) = pending.pop() {
        let listed = if directory.is_empty() {
            "/"
        } else {
            directory.as_str()
        };
        for (name, kind, _) in list(server, listed).unwrap() {
            let path = format!("{directory}/{name}");
            match kind {
                Kind::Directory => {
                    found.directories.push(path.clone());
                    pending.push(path);
                }
                Kind::File => {
                    let bytes = get(server, &path).unwrap();
                    found.files.insert(path, bytes);
                }
            }
        }
    }
    found.directories.sort();
    found
}

/// The contents after each request of the script (index 0: before any).
fn expected() -> Vec<Contents> {
    let mut paths = BTreeMap::new();
    let mut states = vec![Contents::default()];
    for &request in SCRIPT {
        let next = apply(states.last().unwrap(), request, &mut paths);
        states.push(next);
    }
    states
}

/// Runs the script on a disk that stops after `budget` sector writes;
/// returns how many requests were answered and the disk.
fn run_until_stopped(image: &Path, budget: Option<u64>) -> (usize, ImageDisk) {
    let disk = ImageDisk::open(image);
    if let Some(budget) = budget {
        disk.stop_after(budget);
    }
    let mut server = server(&disk);
    let mut handles = BTreeMap::new();
    let mut answered = 0;
    for &request in SCRIPT {
        match send(&mut server, request, &mut handles) {
            Ok(()) => answered += 1,
            Err(error) => {
                assert_eq!(error, FsError::DeviceError, "request {answered} failed");
                break;
            }
        }
    }
    (answered, disk)
}

/// Every stopping point of the script on `image`: how many left a volume
/// fsck calls unclean, and the reports.
fn every_stopping_point(image: &Path, name: &str) -> (u64, Vec<String>) {
    let states = expected();
    let (answered, full) = run_until_stopped(image, None);
    assert_eq!(answered, SCRIPT.len());
    let total = full.sector_writes();
    assert!(total > 50, "the script writes {total} sectors");
    let mut unclean = Vec::new();
    for budget in 0..=total {
        let (answered, disk) = run_until_stopped(image, Some(budget));
        let survivor = disk.copy();
        let mut next = server(&survivor);
        let found = contents(&mut next);
        let candidates = &states[answered..(answered + 2).min(states.len())];
        assert!(
            candidates.contains(&found),
            "stopped after {budget} sector writes ({answered} requests answered): the volume holds {:?}",
            found.files.keys().collect::<Vec<_>>()
        );
        let (clean, report) = survivor.fsck(name);
        if !clean {
            unclean.push(format!("after {budget} sector writes: {report}"));
        }
    }
    (total, unclean)
}

#[test]
fn a_server_killed_after_any_sector_write_leaves_a_clean_volume_with_every_answered_request() {
    let image = fresh_image("crash");
    let (total, unclean) = every_stopping_point(&image, "crash-fsck");
    eprintln!(
        "with the journal: {} of {} stopping points unclean",
        unclean.len(),
        total + 1
    );
    assert!(
        unclean.is_empty(),
        "{} of {total} stopping points unclean:\n{}",
        unclean.len(),
        unclean.join("\n")
    );
}

#[test]
fn without_room_for_the_journal_a_crash_can_leave_the_volume_unclean() {
    // 32 reserved sectors: no room past sector 32, so the server writes in
    // place; the same check then finds stopping points fsck complains of,
    // which shows the check above can fail.
    let image = make_image(
        "no-journal",
        &["-F", "32", "-s", "2", "-R", "32"],
        IMAGE_KIB,
    );
    let disk = ImageDisk::open(&image);
    let mut server = server(&disk);
    assert!(server.space().is_ok());
    assert!(server.store().borrow().journal().is_none());
    let (answered, full) = run_until_stopped(&image, None);
    assert_eq!(answered, SCRIPT.len());
    let mut unclean = 0;
    for budget in 0..=full.sector_writes() {
        let (_, disk) = run_until_stopped(&image, Some(budget));
        let (clean, _) = disk.copy().fsck("no-journal-fsck");
        if !clean {
            unclean += 1;
        }
    }
    eprintln!(
        "without the journal: {unclean} of {} stopping points unclean",
        full.sector_writes() + 1
    );
    assert!(unclean > 0, "no stopping point left an unclean volume");
}

#[test]
fn a_big_removal_stopped_anywhere_leaves_the_file_whole_shorter_or_gone() {
    // 512-byte clusters and a journal of 16 sectors (48 reserved): removing a file of
    // 600 KiB frees clusters in 10 FAT sectors per FAT copy, more than one step takes.
    let image = make_image(
        "big-removal",
        &["-F", "32", "-s", "1", "-R", "48"],
        40 * 1024,
    );
    let original = pattern(77, 600 * 1024);
    let prepare = |budget: Option<u64>| -> (ImageDisk, u64, Result<(), FsError>) {
        let disk = ImageDisk::open(&image);
        let mut server = server(&disk);
        put(&mut server, "/big.bin", &original);
        let written = disk.sector_writes();
        if let Some(budget) = budget {
            disk.stop_after(budget);
        }
        let removed = server.remove("/big.bin").map(drop);
        assert_eq!(
            server.store().borrow().unjournaled(),
            0,
            "every step fit the journal"
        );
        (disk, written, removed)
    };
    let (full, before, removed) = prepare(None);
    assert_eq!(removed, Ok(()));
    let total = full.sector_writes() - before;
    let mut shorter = 0;
    for budget in 0..=total {
        let (disk, _, removed) = prepare(Some(budget));
        let survivor = disk.copy();
        let mut next = server(&survivor);
        match get(&mut next, "/big.bin") {
            Err(FsError::NotFound) => {}
            Ok(bytes) => {
                assert!(removed.is_err(), "answered, yet the file is there");
                assert_eq!(bytes[..], original[..bytes.len()], "a prefix of the file");
                if bytes.len() < original.len() {
                    shorter += 1;
                }
            }
            Err(error) => panic!("stopped after {budget} sector writes: {error}"),
        }
        let (clean, report) = survivor.fsck("big-removal-fsck");
        assert!(clean, "stopped after {budget} sector writes:\n{report}");
    }
    assert!(
        shorter > 0,
        "the removal went in steps (a shorter file at some point)"
    );
}
