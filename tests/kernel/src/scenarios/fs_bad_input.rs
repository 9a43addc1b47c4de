//! File-server bad input: requests to `fs` the shell cannot type, sent by the test kernel
//! through the typed interface (`cella_interfaces::fs`) on a small FAT volume the QEMU test
//! (tests/tests/fs_bad_input.rs) made. Paths with `..` answer `BadPath`; a path of 4,000
//! bytes (one message holds it) answers `TooLong`; one of 4,096 bytes does not fit a message
//! and the interface refuses to encode it; a request cut short is answered empty. Then, for
//! [`ROUNDS`] rounds, one file is written until the disk is full (`NoSpace`, short of the
//! volume's size), a write and a directory on the full disk answer `NoSpace`, and removing
//! the big file gives the space back to the byte. It passes if every answer was the one
//! named, the server never faulted and the kernel heap did not grow over the rounds.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use cella_interfaces::fs::{self, FsError, Handle, Kind, Mode};
use cella_interfaces::wire::WireError;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;

const SERVER: &str = "fs";
/// Fill, full, remove: this many times.
const ROUNDS: u32 = 3;
/// How long one answer may take.
const ANSWER_NANOSECONDS: u64 = 30_000_000_000;
/// Kernel heap growth tolerated over the rounds.
const TOLERATED_GROWTH_BYTES: usize = 16 * 1024;
const MESSAGE: usize = cella_kernel::ipc::MAX_MESSAGE_BYTES;

/// Sends the request `encode` writes to `fs`; the answer's bytes.
fn call(
    system: &mut System,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Result<Vec<u8>, String> {
    let mut request = vec![0u8; MESSAGE];
    let length = encode(&mut request).map_err(|error| format!("encoding: {error}"))?;
    call_raw(system, &request[..length])
}

/// Sends `bytes` to `fs` as they are; the answer's bytes.
fn call_raw(system: &mut System, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let id = system.send_collected(SERVER, bytes).ok_or_else(|| {
        format!(
            "nobody took a request of {} bytes for `{SERVER}`",
            bytes.len()
        )
    })?;
    let limit = cella_kernel::time::now_nanoseconds() + ANSWER_NANOSECONDS;
    while !system.has_collected_reply(id) {
        if !system.request_outstanding(id) {
            return Err(String::from(
                "the request ended unanswered (the server faulted?)",
            ));
        }
        if cella_kernel::time::now_nanoseconds() > limit {
            return Err(String::from("no answer in 30 s"));
        }
        if !system.step() {
            system.wait_for_work();
        }
    }
    Ok(system.take_collected_reply(id).unwrap_or_default())
}

/// Fails unless `answer` is the error `expected`.
fn expect_error<T>(
    what: &str,
    answer: Result<Result<T, FsError>, WireError>,
    expected: FsError,
) -> Result<(), String> {
    match answer {
        Err(error) => Err(format!("{what}: the answer did not decode ({error})")),
        Ok(Ok(_)) => Err(format!("{what}: done, not refused `{expected}`")),
        Ok(Err(error)) if error == expected => {
            kprintln!("fs_bad_input: {what}: refused: {error}");
            Ok(())
        }
        Ok(Err(error)) => Err(format!("{what}: refused `{error}`, not `{expected}`")),
    }
}

/// The answer `answer` if it was done.
fn done<T>(what: &str, answer: Result<Result<T, FsError>, WireError>) -> Result<T, String> {
    match answer {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{what}: refused: {error}")),
        Err(error) => Err(format!("{what}: the answer did not decode ({error})")),
    }
}

fn space(system: &mut System) -> Result<fs::Space, String> {
    let answer = call(system, fs::space::request)?;
    done("space", fs::space::reply(&answer))
}

fn open(system: &mut System, path: &str, mode: Mode) -> Result<fs::Opened, String> {
    let answer = call(system, |buffer| fs::open::request(buffer, path, mode))?;
    done(&format!("open {path}"), fs::open::reply(&answer))
}

fn close(system: &mut System, handle: Handle) -> Result<(), String> {
    let answer = call(system, |buffer| fs::close::request(buffer, handle))?;
    done("close", fs::close::reply(&answer)).map(|_| ())
}

/// Paths with `..`, too long for the server, too long for a message, and a request cut short.
fn bad_paths(system: &mut System) -> Result<(), String> {
    for path in ["/../README.TXT", "/a/../b", "/..", "/.", "relative"] {
        let answer = call(system, |buffer| fs::stat::request(buffer, path))?;
        expect_error(
            &format!("stat {path}"),
            fs::stat::reply(&answer),
            FsError::BadPath,
        )?;
        let answer = call(system, |buffer| {
            fs::open::request(buffer, path, Mode::Create)
        })?;
        expect_error(
            &format!("open {path} create"),
            fs::open::reply(&answer),
            FsError::BadPath,
        )?;
    }
    let answer = call(system, |buffer| {
        fs::create::request(buffer, "/x/..", Kind::Directory)
    })?;
    expect_error(
        "create /x/.. directory",
        fs::create::reply(&answer),
        FsError::BadPath,
    )?;
    let answer = call(system, |buffer| fs::remove::request(buffer, "/"))?;
    expect_error("remove /", fs::remove::reply(&answer), FsError::BadPath)?;

    // 4,000 bytes: one message holds the path, the server refuses it.
    let long: String = core::iter::once('/')
        .chain(core::iter::repeat_n('a', 3999))
        .collect();
    let answer = call(system, |buffer| {
        fs::open::request(buffer, &long, Mode::Create)
    })?;
    expect_error(
        "open of a 4000-byte path",
        fs::open::reply(&answer),
        FsError::TooLong,
    )?;
    let answer = call(system, |buffer| fs::list::request(buffer, &long, 0))?;
    expect_error(
        "list of a 4000-byte path",
        fs::list::reply(&answer),
        FsError::TooLong,
    )?;

    // 4,096 bytes: no message holds it; the interface refuses to encode it.
    let longer: String = core::iter::once('/')
        .chain(core::iter::repeat_n('b', 4095))
        .collect();
    let mut request = vec![0u8; MESSAGE];
    match fs::open::request(&mut request, &longer, Mode::Create) {
        Err(error) => kprintln!("fs_bad_input: open of a 4096-byte path: not encoded: {error}"),
        Ok(length) => {
            return Err(format!(
                "a 4096-byte path encoded into a request of {length} bytes"
            ));
        }
    }

    // The 4,000-byte request cut after 100 bytes: it does not decode; answered empty.
    let length = fs::open::request(&mut request, &long, Mode::Create)
        .map_err(|error| format!("encoding: {error}"))?;
    let answer = call_raw(system, &request[..100.min(length)])?;
    if !answer.is_empty() {
        return Err(format!(
            "a request cut short was answered with {} bytes",
            answer.len()
        ));
    }
    kprintln!("fs_bad_input: a request cut short: answered empty (it does not decode)");
    Ok(())
}

/// One round: fill the disk with one file, check it is full, remove the file. The free
/// bytes after the removal.
fn fill_and_free(system: &mut System, round: u32, free_before: u64) -> Result<u64, String> {
    let big = open(system, "/BIG.BIN", Mode::Truncate)?;
    let chunk = [0x5au8 ^ round as u8; fs::MAX_TRANSFER_BYTES];
    let most_writes = free_before / chunk.len() as u64 + 64;
    let mut size = 0u64;
    let mut writes = 0u64;
    // Writes of 3,584 bytes until one is refused, then of half as many bytes each time one
    // is, down to one byte: the file then fills every cluster.
    let mut length = chunk.len();
    let mut refusals = 0u32;
    loop {
        if writes > most_writes {
            return Err(format!(
                "round {round}: {writes} writes into {free_before} free bytes, never refused"
            ));
        }
        let answer = call(system, |buffer| {
            fs::write::request(buffer, big.handle, size, &chunk[..length])
        })?;
        match fs::write::reply(&answer) {
            Ok(Ok(written)) => {
                size += u64::from(written.length);
                writes += 1;
            }
            Ok(Err(FsError::NoSpace)) => {
                refusals += 1;
                if length == 1 {
                    break;
                }
                length /= 2;
            }
            Ok(Err(error)) => {
                return Err(format!(
                    "round {round}: the write at {size} bytes refused `{error}`, not `no space`"
                ));
            }
            Err(error) => return Err(format!("round {round}: a write's answer: {error}")),
        }
    }
    let full = space(system)?;
    kprintln!(
        "fs_bad_input: round {round}: a file larger than the disk: {size} bytes in {writes} writes, then refused: {} ({refusals} times, down to 1 byte); {} bytes free",
        FsError::NoSpace,
        full.free
    );
    if size == 0 || size > free_before || full.free != 0 {
        return Err(format!(
            "round {round}: {size} bytes written of {free_before} free, {} left",
            full.free
        ));
    }
    let small = open(system, "/SMALL.TXT", Mode::Create)?;
    // 3,584 bytes need clusters the small file does not have.
    let answer = call(system, |buffer| {
        fs::write::request(buffer, small.handle, small.size, &chunk)
    })?;
    expect_error(
        &format!("round {round}: a write on the full disk"),
        fs::write::reply(&answer),
        FsError::NoSpace,
    )?;
    let answer = call(system, |buffer| fs::stat::request(buffer, "/SMALL.TXT"))?;
    let status = done("stat /SMALL.TXT", fs::stat::reply(&answer))?;
    if status.size != small.size {
        return Err(format!(
            "round {round}: the refused write changed /SMALL.TXT from {} to {} bytes",
            small.size, status.size
        ));
    }
    let answer = call(system, |buffer| {
        fs::create::request(buffer, "/FULL", Kind::Directory)
    })?;
    expect_error(
        &format!("round {round}: a directory on the full disk"),
        fs::create::reply(&answer),
        FsError::NoSpace,
    )?;
    close(system, big.handle)?;
    let answer = call(system, |buffer| fs::remove::request(buffer, "/BIG.BIN"))?;
    done("remove /BIG.BIN", fs::remove::reply(&answer))?;
    let line = format!("round {round}\n");
    let answer = call(system, |buffer| {
        fs::write::request(buffer, small.handle, small.size, line.as_bytes())
    })?;
    let written = done("a write after the removal", fs::write::reply(&answer))?;
    close(system, small.handle)?;
    let after = space(system)?;
    kprintln!(
        "fs_bad_input: round {round}: removed the big file: {} bytes free; /SMALL.TXT has {} bytes",
        after.free,
        written.size
    );
    Ok(after.free)
}

pub fn run(system: &mut System) -> Result<(), String> {
    let server = system
        .find(SERVER)
        .ok_or_else(|| format!("no module {SERVER}"))?;
    system.run_for(100_000_000);
    let faults_before = system.faults().len();
    let start = space(system)?;
    kprintln!(
        "fs_bad_input: the volume: {} bytes, {} free, clusters of {}",
        start.total,
        start.free,
        start.cluster
    );
    bad_paths(system)?;
    let mut frees = Vec::new();
    let mut warm_heap = None;
    for round in 0..ROUNDS {
        let before = space(system)?.free;
        frees.push(fill_and_free(system, round, before)?);
        system.wait_until_all_home();
        if round == 0 {
            warm_heap = Some(cella_kernel::mm::heap::statistics().used);
        }
    }
    // Each round's small file grows by a line within its one cluster: the free space after
    // each removal is the same.
    if frees.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(format!(
            "the free space after each removal differs: {frees:?}"
        ));
    }
    bad_paths(system)?;
    let used = cella_kernel::mm::heap::statistics().used;
    // Console output leaves through the UART driver: let it drain before the summary.
    system.settle();
    let warm = warm_heap.unwrap_or(used);
    let faults = system.faults().len() - faults_before;
    kprintln!(
        "fs_bad_input: rounds {ROUNDS}, fs faults {faults}, fs running {}, kernel heap {} bytes more after the first round",
        system.module(server).is_running(),
        used as i64 - warm as i64
    );
    if faults != 0 || !system.module(server).is_running() {
        return Err(String::from("the file server faulted or is not running"));
    }
    if used.saturating_sub(warm) > TOLERATED_GROWTH_BYTES {
        return Err(format!("the kernel heap grew by {} bytes", used - warm));
    }
    Ok(())
}
