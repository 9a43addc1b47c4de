//! Calls `mute`, a module of the test manifest that takes every request and
//! never answers, 40 times with a 20 ms deadline each: the module may hold a
//! few requests unanswered (its `limit pending_requests` in the manifest), so
//! the first calls end at their deadline and every call after them is refused
//! at once with `E_FULL` (-9, `Busy`), instead of waiting and leaving a
//! request behind in the kernel.
#![no_std]
#![no_main]

use cella_userland::number::{E_FULL, E_TIMED_OUT};

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("mute") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let (mut timed_out, mut refused, mut other) = (0u32, 0u32, 0u32);
    let mut reply = [0u8; 16];
    for _ in 0..40 {
        let deadline = cella_userland::now() + 20_000_000;
        match cella_userland::call_until(handle, b"anyone?", &mut reply, deadline) {
            Err(E_TIMED_OUT) => timed_out += 1,
            Err(E_FULL) => refused += 1,
            _ => other += 1,
        }
    }
    cella_userland::log!(
        "mute-client: 40 calls to a module that never answers: {timed_out} timed out, {refused} refused at once, {other} other"
    );
    0
}

cella_userland::entry!(main);
