//! Lab 8's client (`docs/labs/08-wasm-native.md`): serves `round-trips`, and for each call
//! (`call round-trips CALLS BYTES` in the shell) calls the checksum server's Wasm build
//! (`checksum-wasm`, a module) and its native build (`checksum-ring3`, a ring-3 process)
//! CALLS times each with the same BYTES-byte requests, checks every answer against the
//! FNV-1a hash it computes itself, and logs the mean round trip of each in kernel time.
#![no_std]
#![no_main]

use cella_abi::syscalls::{E_DENIED, E_NOT_FOUND};

/// The endpoint this client serves: a call to it runs one measurement.
const SERVED: &str = "round-trips";

/// The two builds of the checksum server, with the words the log uses for each.
const SERVERS: [(&str, &str); 2] = [
    ("checksum-wasm", "the Wasm module"),
    ("checksum-ring3", "the native process"),
];

/// Calls per server when the request names none, and the most it may name.
const DEFAULT_CALLS: u32 = 200;
const MAX_CALLS: u32 = 2_000;

/// Request bytes when the request names none, and the most it may name (the ABI's limit).
const DEFAULT_BYTES: usize = 64;
const MAX_BYTES: usize = 4096;

/// How long a server not registered yet is looked up again.
const LOOKUP_PATIENCE_NANOSECONDS: u64 = 2_000_000_000;

/// FNV-1a, 64 bits: what both builds answer.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// What one server did in one measurement.
struct Measurement {
    /// Answers equal to the hash of their request.
    right: u32,
    /// Calls that failed or answered something else.
    wrong: u32,
    /// The answers folded together, to compare the two servers' answers.
    answers: u64,
    /// Kernel nanoseconds for all the calls.
    elapsed: u64,
}

/// Request `index` of `bytes` bytes: a pattern that differs from call to call.
fn fill_request(request: &mut [u8], index: u32) {
    for (offset, byte) in request.iter_mut().enumerate() {
        *byte = (index as usize).wrapping_mul(31).wrapping_add(offset) as u8;
    }
}

/// A send handle to `name`: `Err` with the error code if it is not granted, or not
/// registered within [`LOOKUP_PATIENCE_NANOSECONDS`].
fn find(name: &str) -> Result<u32, i64> {
    let deadline = cella_userland::now() + LOOKUP_PATIENCE_NANOSECONDS;
    loop {
        match cella_userland::lookup(name) {
            Err(E_NOT_FOUND) if cella_userland::now() < deadline => {
                cella_userland::sleep(1_000_000);
            }
            result => return result,
        }
    }
}

/// `calls` calls of `bytes` bytes to `handle`, each answer checked.
fn measure(handle: u32, calls: u32, bytes: usize) -> Measurement {
    let mut request = [0u8; MAX_BYTES];
    let mut reply = [0u8; 64];
    let mut measurement = Measurement {
        right: 0,
        wrong: 0,
        answers: 0,
        elapsed: 0,
    };
    for index in 0..calls {
        let request = &mut request[..bytes];
        fill_request(request, index);
        let started = cella_userland::now();
        let answer = cella_userland::call(handle, request, &mut reply);
        measurement.elapsed += cella_userland::now().saturating_sub(started);
        let expected = fnv1a_64(request).to_le_bytes();
        match answer {
            Ok(8) if reply[..8] == expected => measurement.right += 1,
            _ => measurement.wrong += 1,
        }
        let answered = match answer {
            Ok(length) => fnv1a_64(&reply[..length.min(reply.len())]),
            Err(code) => code as u64,
        };
        measurement.answers = (measurement.answers ^ answered).wrapping_mul(0x0100_0000_01b3);
    }
    measurement
}

/// The calls and bytes a request asks for: `CALLS BYTES`, either left out for its default;
/// `None` for anything else or a number out of range.
fn parse(request: &[u8]) -> Option<(u32, usize)> {
    let text = core::str::from_utf8(request).ok()?;
    let mut words = text.split_ascii_whitespace();
    let calls = match words.next() {
        Some(word) => word.parse().ok()?,
        None => DEFAULT_CALLS,
    };
    let bytes = match words.next() {
        Some(word) => word.parse().ok()?,
        None => DEFAULT_BYTES,
    };
    let in_range = (1..=MAX_CALLS).contains(&calls) && (1..=MAX_BYTES).contains(&bytes);
    (in_range && words.next().is_none()).then_some((calls, bytes))
}

/// Nanoseconds as microseconds with one decimal.
struct Microseconds(u64);

impl core::fmt::Display for Microseconds {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(out, "{}.{} us", self.0 / 1000, self.0 % 1000 / 100)
    }
}

/// One measurement of both servers; the reply byte: 0 when both answered every call
/// right with the same answers, 1 otherwise.
fn run(handles: &mut [Option<u32>; SERVERS.len()], calls: u32, bytes: usize) -> u8 {
    let mut means = [None; SERVERS.len()];
    let mut answers = [None; SERVERS.len()];
    for (index, (name, what)) in SERVERS.iter().enumerate() {
        // A handle found is kept: a lookup makes a new handle, charged to this process.
        let found = match handles[index] {
            Some(handle) => Ok(handle),
            None => find(name),
        };
        let handle = match found {
            Ok(handle) => {
                handles[index] = Some(handle);
                handle
            }
            Err(E_DENIED) => {
                cella_userland::log!(
                    "{name}, {what}: not measured, this process is not granted the endpoint"
                );
                continue;
            }
            Err(code) => {
                cella_userland::log!(
                    "{name}, {what}: not measured, no server registered it (error {code})"
                );
                continue;
            }
        };
        let measurement = measure(handle, calls, bytes);
        let mean = measurement.elapsed / u64::from(calls);
        cella_userland::log!(
            "{name}, {what}: {calls} calls of {bytes} bytes, {} answers right, {} wrong, mean round trip {}",
            measurement.right,
            measurement.wrong,
            Microseconds(mean)
        );
        if measurement.wrong == 0 {
            means[index] = Some(mean);
            answers[index] = Some(measurement.answers);
        }
    }
    match (means, answers) {
        ([Some(wasm), Some(native)], [Some(first), Some(second)]) if first == second => {
            let hundredths = wasm * 100 / native.max(1);
            cella_userland::log!(
                "the same {calls} answers from both builds; the Wasm module's round trip is {}.{:02} times the native process's",
                hundredths / 100,
                hundredths % 100
            );
            0
        }
        ([Some(_), Some(_)], _) => {
            cella_userland::log!("the two builds answered differently");
            1
        }
        _ => 1,
    }
}

fn main() -> i32 {
    let Ok(inbox) = cella_userland::register(SERVED) else {
        cella_userland::log!("could not register {SERVED}");
        return 1;
    };
    let mut request = [0u8; MAX_BYTES];
    let mut handles = [None; SERVERS.len()];
    loop {
        let Ok((length, token)) = cella_userland::receive(inbox, &mut request) else {
            cella_userland::log!("receiving on {SERVED} failed");
            return 1;
        };
        let outcome = match parse(&request[..length.min(request.len())]) {
            Some((calls, bytes)) => run(&mut handles, calls, bytes),
            None => {
                cella_userland::log!(
                    "a request is `CALLS BYTES` (1-{MAX_CALLS} calls, 1-{MAX_BYTES} bytes; default {DEFAULT_CALLS} {DEFAULT_BYTES})"
                );
                2
            }
        };
        if token != 0 {
            // A caller that gave up is no reason to stop serving.
            let _ = cella_userland::reply(token, &[outcome]);
        }
    }
}

cella_userland::entry!(main);
