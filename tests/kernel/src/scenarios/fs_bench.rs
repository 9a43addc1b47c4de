//! The file-system benchmark (`cargo cella bench`): the `fs` module on a
//! copy of the FAT32 file-system image, called through the module system
//! as a module calls it, doing the work Linux's vfat yardstick does on the
//! same image: [`SMALL_FILES`] files of 4 KiB created and written (open
//! `truncate`, writes, close), then read back (open `read`, reads, close);
//! one file of [`LARGE_FILE_BYTES`] written in the interface's largest
//! writes ([`fs::MAX_TRANSFER_BYTES`]) and read back in its largest reads.
//! The small files lie in directories of [`FILES_PER_DIRECTORY`] (Linux puts
//! them in one): every request finds its file by a walk of its directory,
//! and a `create` in a directory of about a thousand entries passes one
//! event's fuel.
//! Every byte read is checked against what was written (an FNV-1a checksum
//! per file), and the files are removed afterwards. Lines `fs_bench:
//! fs-PHASE AMOUNT UNIT in NS ns`, the four phases `small-write`,
//! `small-read`, `large-write` and `large-read`, each followed by lines
//! `fs_bench: cost of fs-PHASE to MODULE: N fuel, N events, N host calls`
//! for `fs` and `virtio-blk` (where the time went). `files=N` and
//! `large_kib=N` on the command line make the work smaller (for the QEMU
//! test).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::fs::{self, FsError, Handle, Kind, Mode};
use cella_interfaces::wire::WireError;
use cella_kernel::module_host::services::System;
use cella_kernel::{kprintln, time};
use core::hint::black_box;

/// Small files written and read back (as Linux's vfat figures), unless
/// `files=N` says otherwise.
pub const SMALL_FILES: u32 = 1000;
/// Bytes of each small file.
pub const SMALL_FILE_BYTES: u64 = 4096;
/// Bytes of the large file, unless `large_kib=N` says otherwise.
pub const LARGE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How much work one run does.
#[derive(Clone, Copy)]
pub struct Work {
    /// Small files.
    pub files: u32,
    /// Bytes of the large file.
    pub large_bytes: u64,
}

impl Default for Work {
    fn default() -> Work {
        Work {
            files: SMALL_FILES,
            large_bytes: LARGE_FILE_BYTES,
        }
    }
}
/// The directory that holds the small files' directories.
const DIRECTORY: &str = "/FSBENCH";
/// Small files in each of its directories.
pub const FILES_PER_DIRECTORY: u32 = 100;
/// The large file.
const LARGE_FILE: &str = "/FSBENCH.BIN";
/// The largest message (the ABI's limit): a request's buffer.
const MESSAGE_BYTES: usize = 4096;
/// How long one request may take before the scenario fails.
const DEADLINE_NS: u64 = 30_000_000_000;

/// The FNV-1a 64-bit hash of `bytes` continued from `hash`.
fn fold(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// FNV-1a's starting value.
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The byte at `offset` of the file numbered `file`: a pattern that differs
/// from file to file and from sector to sector.
fn pattern_byte(file: u32, offset: u64) -> u8 {
    (offset ^ (offset >> 9) ^ u64::from(file).wrapping_mul(151)) as u8
}

/// `length` bytes of file `file` from `offset`.
fn pattern(file: u32, offset: u64, length: usize) -> Vec<u8> {
    (0..length as u64)
        .map(|index| pattern_byte(file, offset + index))
        .collect()
}

/// The file server, through the module system.
struct Server<'a> {
    system: &'a mut System,
    buffer: Vec<u8>,
}

impl Server<'_> {
    /// Sends the request `encode` writes and waits for its answer.
    fn call(
        &mut self,
        encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
    ) -> Result<Vec<u8>, String> {
        let length = encode(&mut self.buffer).map_err(|error| format!("encoding: {error}"))?;
        let id = self
            .system
            .send_collected(fs::ENDPOINT, &self.buffer[..length])
            .ok_or_else(|| String::from("nobody serves `fs`"))?;
        let limit = time::now_nanoseconds() + DEADLINE_NS;
        while !self.system.has_collected_reply(id) {
            if time::now_nanoseconds() > limit {
                return Err(String::from("the file server did not answer in 30 s"));
            }
            if !self.system.step() {
                self.system.wait_for_work();
            }
        }
        self.system
            .take_collected_reply(id)
            .ok_or_else(|| String::from("the answer vanished"))
    }

    fn open(&mut self, path: &str, mode: Mode) -> Result<(Handle, u64), String> {
        let answer = self.call(|buffer| fs::open::request(buffer, path, mode))?;
        let opened = answered(path, fs::open::reply(&answer))?;
        Ok((opened.handle, opened.size))
    }

    fn write(
        &mut self,
        path: &str,
        handle: Handle,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), String> {
        let answer = self.call(|buffer| fs::write::request(buffer, handle, offset, bytes))?;
        let written = answered(path, fs::write::reply(&answer))?;
        if written.length as usize != bytes.len() {
            return Err(format!(
                "{path}: wrote {} of {} bytes at {offset}",
                written.length,
                bytes.len()
            ));
        }
        black_box(written);
        Ok(())
    }

    /// Reads the whole file of `size` bytes in the largest reads; its
    /// checksum.
    fn read_all(&mut self, path: &str, handle: Handle, size: u64) -> Result<u64, String> {
        let mut hash = FNV_START;
        let mut offset = 0;
        while offset < size {
            let length = (size - offset).min(fs::MAX_TRANSFER_BYTES as u64) as u32;
            let answer = self
                .call(|buffer| fs::read::request(buffer, handle, offset, length))
                .map_err(|error| format!("{path}: {error} (reading at byte {offset})"))?;
            let data = answered(path, fs::read::reply(&answer))?;
            if data.bytes.is_empty() {
                return Err(format!("{path}: nothing to read at {offset} of {size}"));
            }
            hash = fold(hash, black_box(data.bytes));
            offset += data.bytes.len() as u64;
        }
        Ok(hash)
    }

    fn close(&mut self, path: &str, handle: Handle) -> Result<(), String> {
        let answer = self.call(|buffer| fs::close::request(buffer, handle))?;
        black_box(answered(path, fs::close::reply(&answer))?);
        Ok(())
    }

    fn create(&mut self, path: &str, kind: Kind) -> Result<(), String> {
        let answer = self.call(|buffer| fs::create::request(buffer, path, kind))?;
        answered(path, fs::create::reply(&answer)).map(|_| ())
    }

    /// Removes `path`; a path that is not there is no error.
    fn remove(&mut self, path: &str) -> Result<(), String> {
        let answer = self.call(|buffer| fs::remove::request(buffer, path))?;
        match fs::remove::reply(&answer) {
            Ok(Ok(_)) | Ok(Err(FsError::NotFound)) => Ok(()),
            other => answered(path, other).map(|_| ()),
        }
    }

    /// Writes a file of `size` bytes of file `number`'s pattern in the
    /// largest writes; its checksum.
    fn write_file(&mut self, path: &str, number: u32, size: u64) -> Result<u64, String> {
        let (handle, _) = self.open(path, Mode::Truncate)?;
        let mut hash = FNV_START;
        let mut offset = 0;
        while offset < size {
            let length = (size - offset).min(fs::MAX_TRANSFER_BYTES as u64) as usize;
            let bytes = pattern(number, offset, length);
            hash = fold(hash, &bytes);
            self.write(path, handle, offset, &bytes)
                .map_err(|error| format!("{error} (writing at byte {offset})"))?;
            offset += length as u64;
        }
        self.close(path, handle)?;
        Ok(hash)
    }

    /// Reads the file back whole; its checksum.
    fn read_file(&mut self, path: &str, size: u64) -> Result<u64, String> {
        let (handle, found) = self.open(path, Mode::Read)?;
        if found != size {
            return Err(format!("{path}: {found} bytes, {size} written"));
        }
        let hash = self.read_all(path, handle, size)?;
        self.close(path, handle)?;
        Ok(hash)
    }
}

/// Fuel, events and host calls of the modules on a file request's way.
const ON_THE_WAY: [&str; 2] = ["fs", "virtio-blk"];

/// Each of [`ON_THE_WAY`]'s counters so far (zero for one not running).
fn costs(system: &System) -> [(u64, u64, u64); 2] {
    ON_THE_WAY.map(|name| {
        system
            .find(name)
            .and_then(|index| system.module(index).sandbox.as_ref())
            .map_or((0, 0, 0), |sandbox| {
                let counters = sandbox.counters();
                (
                    counters.fuel_used,
                    counters.events_handled,
                    counters.host_calls,
                )
            })
    })
}

/// Prints what a phase cost each module on the way: where its time went.
fn print_costs(phase: &str, before: [(u64, u64, u64); 2], after: [(u64, u64, u64); 2]) {
    for (index, name) in ON_THE_WAY.iter().enumerate() {
        let (fuel, events, calls) = after[index];
        let (fuel_before, events_before, calls_before) = before[index];
        kprintln!(
            "fs_bench: cost of {phase} to {name}: {} fuel, {} events, {} host calls",
            fuel - fuel_before,
            events - events_before,
            calls - calls_before
        );
    }
}

/// The answer, or the error with the path it concerns.
fn answered<T>(path: &str, reply: Result<Result<T, FsError>, WireError>) -> Result<T, String> {
    match reply {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{path}: {error}")),
        Err(error) => Err(format!("{path}: the answer does not decode: {error}")),
    }
}

fn small_directory(directory: u32) -> String {
    format!("{DIRECTORY}/D{directory:02}")
}

fn small_path(number: u32) -> String {
    format!(
        "{}/F{number:04}.DAT",
        small_directory(number / FILES_PER_DIRECTORY)
    )
}

/// The directories of `files` small files.
fn directories(files: u32) -> core::ops::Range<u32> {
    0..files.div_ceil(FILES_PER_DIRECTORY)
}

/// The scenario `fs_bench`. The files are removed after a run that
/// passed (a failed one leaves them for a look at the disk).
pub fn run(system: &mut System, work: Work) -> Result<(), String> {
    system.run_for(100_000_000);
    let mut server = Server {
        system,
        buffer: alloc::vec![0u8; MESSAGE_BYTES],
    };
    measure(&mut server, work)?;
    clean(&mut server, work)?;
    server.system.settle();
    Ok(())
}

fn measure(server: &mut Server, work: Work) -> Result<(), String> {
    let Work { files, large_bytes } = work;
    server.create(DIRECTORY, Kind::Directory)?;
    for directory in directories(files) {
        server.create(&small_directory(directory), Kind::Directory)?;
    }
    let mut written = Vec::with_capacity(files as usize);
    let before = costs(server.system);
    let started = time::now_nanoseconds();
    for number in 0..files {
        written.push(server.write_file(&small_path(number), number, SMALL_FILE_BYTES)?);
    }
    let elapsed = time::now_nanoseconds() - started;
    kprintln!("fs_bench: fs-small-write {files} files in {elapsed} ns");
    let before = print_phase_costs(server, "fs-small-write", before);
    let mut read = Vec::with_capacity(files as usize);
    let started = time::now_nanoseconds();
    for number in 0..files {
        read.push(server.read_file(&small_path(number), SMALL_FILE_BYTES)?);
    }
    let elapsed = time::now_nanoseconds() - started;
    kprintln!("fs_bench: fs-small-read {files} files in {elapsed} ns");
    let before = print_phase_costs(server, "fs-small-read", before);
    if let Some(number) = (0..files as usize).find(|&index| written[index] != read[index]) {
        return Err(format!(
            "{}: what was read back is not what was written",
            small_path(number as u32)
        ));
    }
    let started = time::now_nanoseconds();
    let written = server.write_file(LARGE_FILE, files, large_bytes)?;
    let elapsed = time::now_nanoseconds() - started;
    kprintln!("fs_bench: fs-large-write {large_bytes} bytes in {elapsed} ns");
    let before = print_phase_costs(server, "fs-large-write", before);
    let started = time::now_nanoseconds();
    let read = server.read_file(LARGE_FILE, large_bytes)?;
    let elapsed = time::now_nanoseconds() - started;
    kprintln!("fs_bench: fs-large-read {large_bytes} bytes in {elapsed} ns");
    print_phase_costs(server, "fs-large-read", before);
    if written != read {
        return Err(format!(
            "{LARGE_FILE}: what was read back is not what was written"
        ));
    }
    Ok(())
}

/// Prints the costs of `phase` since `before`; the counters now.
fn print_phase_costs(
    server: &Server,
    phase: &str,
    before: [(u64, u64, u64); 2],
) -> [(u64, u64, u64); 2] {
    let now = costs(server.system);
    print_costs(phase, before, now);
    now
}

/// Removes the benchmark's files and directories.
fn clean(server: &mut Server, work: Work) -> Result<(), String> {
    server.remove(LARGE_FILE)?;
    for number in 0..work.files {
        server.remove(&small_path(number))?;
    }
    for directory in directories(work.files) {
        server.remove(&small_directory(directory))?;
    }
    server.remove(DIRECTORY)
}
