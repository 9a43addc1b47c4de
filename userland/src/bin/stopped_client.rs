//! Calls `sleeper`, a module of the test manifest that is never started
//! (`boot no`): the call must fail with `E_CLOSED` (-14), not return an empty
//! reply as if the module had answered.
#![no_std]
#![no_main]

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("sleeper") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let mut reply = [0u8; 16];
    let deadline = cella_userland::now() + 2_000_000_000;
    let result = cella_userland::call_until(handle, b"anyone?", &mut reply, deadline)
        .map_or_else(|error| error, |length| length as i64);
    cella_userland::log!("stopped-client: call to a module that is not running -> {result}");
    0
}

cella_userland::entry!(main);
