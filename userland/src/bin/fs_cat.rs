//! fs-cat: a native process that reads a file through the `fs` server with
//! the typed `fs` interface, as the shell's `cat` and any Wasm module do:
//! opens `/README.TXT`, reads it to its end and logs each line, its size and
//! its FNV-1a checksum, then counts the entries of `/modules`.
#![no_std]
#![no_main]

use cella_sdk::interfaces::fs::{self, Handle, Mode};
use cella_sdk::interfaces::wire::WireError;

const PATH: &str = "/README.TXT";
const MESSAGE: usize = cella_sdk::MAX_MESSAGE_BYTES as usize;

/// Why a step failed, for the log.
enum Failure {
    Call(i64),
    Wire(WireError),
    Fs(fs::FsError),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Call(code) => write!(out, "the call failed ({code})"),
            Failure::Wire(error) => write!(out, "the answer made no sense: {error}"),
            Failure::Fs(error) => write!(out, "{error}"),
        }
    }
}

/// One call: the request `encode` writes, answered into `reply`.
fn ask(
    server: u32,
    reply: &mut [u8; MESSAGE],
    encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Result<&[u8], Failure> {
    let mut request = [0u8; MESSAGE];
    let length = encode(&mut request).map_err(Failure::Wire)?;
    let answered =
        cella_userland::call(server, &request[..length], reply).map_err(Failure::Call)?;
    Ok(&reply[..answered])
}

/// Reads the whole file, logging its lines; returns its size and checksum.
fn cat(server: u32, handle: Handle, size: u64) -> Result<(u64, u32), Failure> {
    let mut reply = [0u8; MESSAGE];
    let mut line = [0u8; 120];
    let mut used = 0usize;
    let mut offset = 0u64;
    let mut checksum = 0x811c_9dc5u32;
    while offset < size {
        let length = (size - offset).min(fs::MAX_TRANSFER_BYTES as u64) as u32;
        let answer = ask(server, &mut reply, |buffer| {
            fs::read::request(buffer, handle, offset, length)
        })?;
        let data = fs::read::reply(answer)
            .map_err(Failure::Wire)?
            .map_err(Failure::Fs)?;
        if data.bytes.is_empty() {
            break;
        }
        for &byte in data.bytes {
            checksum = (checksum ^ u32::from(byte)).wrapping_mul(0x0100_0193);
            if byte == b'\n' || used == line.len() {
                log_line(&line[..used]);
                used = 0;
            }
            if byte != b'\n' {
                line[used] = byte;
                used += 1;
            }
        }
        offset += data.bytes.len() as u64;
    }
    if used > 0 {
        log_line(&line[..used]);
    }
    Ok((offset, checksum))
}

fn log_line(bytes: &[u8]) {
    match core::str::from_utf8(bytes) {
        Ok(text) => cella_userland::log!("fs-cat| {text}"),
        Err(_) => cella_userland::log!("fs-cat| ({} bytes that are not text)", bytes.len()),
    }
}

/// The entries of directory `path`, counted over as many answers as it takes.
fn count_entries(server: u32, path: &str) -> Result<u32, Failure> {
    let mut reply = [0u8; MESSAGE];
    let (mut count, mut start) = (0u32, 0u32);
    loop {
        let answer = ask(server, &mut reply, |buffer| {
            fs::list::request(buffer, path, start)
        })?;
        let listing = fs::list::reply(answer)
            .map_err(Failure::Wire)?
            .map_err(Failure::Fs)?;
        count += listing.count;
        if listing.next == 0 || listing.next <= start {
            return Ok(count);
        }
        start = listing.next;
    }
}

fn run(server: u32) -> Result<(), Failure> {
    let mut reply = [0u8; MESSAGE];
    let opened = {
        let answer = ask(server, &mut reply, |buffer| {
            fs::open::request(buffer, PATH, Mode::Read)
        })?;
        fs::open::reply(answer)
            .map_err(Failure::Wire)?
            .map_err(Failure::Fs)?
    };
    let result = cat(server, opened.handle, opened.size);
    let _ = ask(server, &mut reply, |buffer| {
        fs::close::request(buffer, opened.handle)
    });
    let (size, checksum) = result?;
    cella_userland::log!("fs-cat: {PATH}: {size} bytes, FNV-1a {checksum:#010x}");
    let entries = count_entries(server, "/modules")?;
    cella_userland::log!("fs-cat: /modules holds {entries} entries");
    Ok(())
}

fn main() -> i32 {
    let server = loop {
        match cella_userland::lookup(fs::ENDPOINT) {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    match run(server) {
        Ok(()) => 0,
        Err(failure) => {
            cella_userland::log!("fs-cat: {PATH}: {failure}");
            1
        }
    }
}

cella_userland::entry!(main);
