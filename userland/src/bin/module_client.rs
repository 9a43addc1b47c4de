//! Calls the `rtc` endpoint, served by a Wasm module of the system manifest
//! (drivers-wasm/cmos-rtc), 200 times through the kernel's IPC with the
//! typed `rtc` interface, and checks that every reply is a time; reports
//! what it found.
#![no_std]
#![no_main]

use cella_sdk::interfaces::rtc;

/// The time a `time` reply of the `rtc` interface carries, if it is one.
fn time_of(reply: &[u8]) -> Option<rtc::Timestamp> {
    rtc::time::reply(reply).ok()?.ok()
}

/// The first time read, or `?`.
struct First(Option<rtc::Timestamp>);

impl core::fmt::Display for First {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(time) => write!(out, "{time}"),
            None => out.write_str("?"),
        }
    }
}

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("rtc") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let (mut good, mut bad, mut failed) = (0u32, 0u32, 0u32);
    let mut request = [0u8; 8];
    let Ok(request_length) = rtc::time::request(&mut request) else {
        return 1;
    };
    let mut reply = [0u8; 64];
    let mut first = None;
    let started = cella_userland::now();
    for _ in 0..200 {
        match cella_userland::call(handle, &request[..request_length], &mut reply) {
            Ok(length) => match time_of(&reply[..length]) {
                Some(time) => {
                    first.get_or_insert(time);
                    good += 1;
                }
                None => bad += 1,
            },
            Err(_) => failed += 1,
        }
    }
    let elapsed = cella_userland::now() - started;
    let first = First(first);
    cella_userland::log!(
        "module-client: 200 calls to the rtc module: {good} good, {bad} bad, {failed} failed; first {first}; {} ns per round trip",
        elapsed / 200
    );
    if good == 200 { 0 } else { 1 }
}

cella_userland::entry!(main);
