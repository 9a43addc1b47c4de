//! Benchmark program: null syscalls, CRC-32 over 64 KiB, and IPC round trips
//! to the endpoint named by its role (`bench-echo` served by another copy of
//! this program, or a Wasm server). Reports cycles-free nanosecond figures
//! from the kernel clock.
#![no_std]
#![no_main]

use cella_userland::crc32::crc32;

static mut BUFFER: [u8; 65536] = [0; 65536];

fn fill(buffer: &mut [u8]) {
    let mut seed = 0x1234_5678u32;
    for byte in buffer.iter_mut() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *byte = (seed >> 16) as u8;
    }
}

fn main() -> i32 {
    // Null syscall.
    let rounds = 20_000u64;
    let started = cella_userland::now();
    for _ in 0..rounds {
        cella_userland::null();
    }
    let null_ns = (cella_userland::now() - started) / rounds;
    // CRC-32 over 64 KiB, 8 times.
    // SAFETY: the only reference to BUFFER; this program is single-threaded.
    let buffer = unsafe { core::slice::from_raw_parts_mut((&raw mut BUFFER).cast::<u8>(), 65536) };
    fill(buffer);
    let started = cella_userland::now();
    let mut crc = 0;
    for _ in 0..8 {
        crc = crc32(core::hint::black_box(&buffer[..]));
    }
    let crc_ns = (cella_userland::now() - started) / 8;
    cella_userland::log!(
        "bench: native null syscall {null_ns} ns; crc32 64 KiB {crc_ns} ns (crc {crc:08x})"
    );
    // IPC round trips to `bench-echo` if someone serves it, else serve it.
    match cella_userland::lookup("bench-echo") {
        Ok(handle) => {
            let mut reply = [0u8; 8];
            let rounds = 2_000u64;
            let started = cella_userland::now();
            for index in 0..rounds {
                let _ = cella_userland::call(handle, &index.to_le_bytes(), &mut reply);
            }
            let ipc_ns = (cella_userland::now() - started) / rounds;
            cella_userland::log!("bench: native-native IPC round trip {ipc_ns} ns");
        }
        Err(_) => {
            let Ok(handle) = cella_userland::register("bench-echo") else {
                return 1;
            };
            let mut buffer = [0u8; 64];
            while let Ok((length, token)) = cella_userland::receive(handle, &mut buffer) {
                let _ = cella_userland::reply(token, &buffer[..length]);
            }
        }
    }
    0
}

cella_userland::entry!(main);
