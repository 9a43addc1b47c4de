//! Calls `reply-trap`, a module of the test manifest that answers every call
//! with `pong` and then traps in the same event, 20 times: each call must get
//! the reply (the module's reply left before its fault), never an error, and
//! the module is restarted after each fault.
#![no_std]
#![no_main]

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("reply-trap") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let (mut answered, mut failed) = (0u32, 0u32);
    let mut reply = [0u8; 16];
    for _ in 0..20 {
        // The module is restarted after each fault: wait until it serves again.
        cella_userland::sleep(20_000_000);
        let deadline = cella_userland::now() + 2_000_000_000;
        match cella_userland::call_until(handle, b"ping", &mut reply, deadline) {
            Ok(4) if &reply[..4] == b"pong" => answered += 1,
            _ => failed += 1,
        }
    }
    cella_userland::log!(
        "reply-trap-client: 20 calls to a module that replies, then traps: {answered} answered, {failed} failed"
    );
    0
}

cella_userland::entry!(main);
