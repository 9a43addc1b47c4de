//! Benchmark program, started twice by the kernel's `bench` scenario. The
//! first copy finds no `bench-echo` endpoint and serves it (echo). The second
//! measures: null syscalls, CRC-32 over 64 KiB, IPC round trips to the first
//! copy (native to native), to `bench-wasm` (a Wasm server on a kernel thread)
//! and to `bench-module` (the same module in the kernel's module system), in
//! batches that take turns (each figure the median of its batches), and
//! sends the figures to the kernel's `bench-results` endpoint.
#![no_std]
#![no_main]

use cella_userland::crc32::crc32_of_pattern;

/// Batches per kind of round trip, and round trips per batch.
const BATCHES: usize = 10;
const ROUNDS_PER_BATCH: u64 = 200;

/// The average round trip of one batch to `handle`. Every answer is kept
/// (`black_box`), so no call can be left out.
fn batch(handle: u32) -> u64 {
    let mut reply = [0u8; 16];
    let started = cella_userland::now();
    for index in 0..ROUNDS_PER_BATCH {
        let answer = cella_userland::call(handle, &index.to_le_bytes(), &mut reply);
        let _ = core::hint::black_box((answer, &reply));
    }
    (cella_userland::now() - started) / ROUNDS_PER_BATCH
}

/// Round trips to each endpoint of `handles` (`None`: not there, 0), in
/// batches taking turns, so a stretch of load on the machine falls on all
/// of them alike; each figure is the median of its batches' averages.
fn round_trips(handles: [Option<u32>; 3]) -> [u64; 3] {
    let mut turns = [[0u64; 3]; BATCHES];
    for turn in &mut turns {
        for (average, handle) in turn.iter_mut().zip(handles) {
            if let Some(handle) = handle {
                *average = batch(handle);
            }
        }
    }
    core::array::from_fn(|kind| {
        let mut averages = turns.map(|turn| turn[kind]);
        averages.sort_unstable();
        averages[BATCHES / 2]
    })
}

fn serve_echo(handle: u32) -> i32 {
    let mut buffer = [0u8; 64];
    while let Ok((length, token)) = cella_userland::receive(handle, &mut buffer) {
        let _ = cella_userland::reply(token, &buffer[..length.min(64)]);
    }
    0
}

fn main() -> i32 {
    let echo = match cella_userland::lookup("bench-echo") {
        Ok(handle) => handle,
        Err(_) => {
            return match cella_userland::register("bench-echo") {
                Ok(handle) => serve_echo(handle),
                Err(_) => 1,
            };
        }
    };
    let rounds = 20_000u64;
    let started = cella_userland::now();
    for _ in 0..rounds {
        cella_userland::null();
    }
    let null_ns = (cella_userland::now() - started) / rounds;
    // Every round's result is kept (black_box) and compared with the first, so
    // the compiler cannot compute the CRC once and skip the other rounds.
    let crc_rounds = 8u32;
    let started = cella_userland::now();
    let crc = core::hint::black_box(crc32_of_pattern(core::hint::black_box(64 * 1024)));
    let mut all_agree = true;
    for _ in 1..crc_rounds {
        let value = core::hint::black_box(crc32_of_pattern(core::hint::black_box(64 * 1024)));
        all_agree &= value == crc;
    }
    let crc_ns = (cella_userland::now() - started) / u64::from(crc_rounds);
    // A disagreement shows as a CRC of 0, which the kernel reports as a mismatch.
    let crc = if all_agree { crc } else { 0 };
    let [native_ipc_ns, wasm_ipc_ns, module_ipc_ns] = round_trips([
        Some(echo),
        cella_userland::lookup("bench-wasm").ok(),
        cella_userland::lookup("bench-module").ok(),
    ]);
    cella_userland::log!(
        "bench: null {null_ns} ns, crc {crc_ns} ns ({crc:08x}), native IPC {native_ipc_ns} ns, wasm IPC {wasm_ipc_ns} ns, module IPC {module_ipc_ns} ns"
    );
    let mut results = [0u8; 48];
    for (index, value) in [
        null_ns,
        crc_ns,
        u64::from(crc),
        native_ipc_ns,
        wasm_ipc_ns,
        module_ipc_ns,
    ]
    .into_iter()
    .enumerate()
    {
        results[index * 8..index * 8 + 8].copy_from_slice(&value.to_le_bytes());
    }
    match cella_userland::lookup("bench-results") {
        Ok(handle) => {
            let _ = cella_userland::send(handle, &results);
            0
        }
        Err(_) => 2,
    }
}

cella_userland::entry!(main);
