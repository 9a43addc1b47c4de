//! Calls `crasher`, a module of the test manifest that traps on every
//! message, three times: each call must end with an error (`E_CLOSED`, -16)
//! as the module faults and is restarted, never an empty reply as if it had
//! answered, and never a caller blocked until its deadline.
#![no_std]
#![no_main]

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("crasher") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    for attempt in 1..=3 {
        let mut reply = [0u8; 16];
        let started = cella_userland::now();
        let deadline = started + 5_000_000_000;
        let result = cella_userland::call_until(handle, b"crash", &mut reply, deadline)
            .map_or_else(|error| error, |length| length as i64);
        let milliseconds = (cella_userland::now() - started) / 1_000_000;
        cella_userland::log!(
            "crash-client: call {attempt} to a module that faults on it -> {result} after {milliseconds} ms"
        );
        // Give the supervisor time to restart it (its first restart is at once).
        cella_userland::sleep(200_000_000);
    }
    0
}

cella_userland::entry!(main);
