//! Meets a Wasm module of the system manifest on the kernel's endpoints in
//! both directions: registers `peer-inbox`, calls the module's endpoint
//! `echo-sender` (the module answers the call and, in the same event, sends a
//! one-way message to `peer-inbox`), then receives that message; reports
//! both.
#![no_std]
#![no_main]

fn main() -> i32 {
    let Ok(inbox) = cella_userland::register("peer-inbox") else {
        cella_userland::log!("module-peer: could not register peer-inbox");
        return 1;
    };
    let module = loop {
        match cella_userland::lookup("echo-sender") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let mut reply = [0u8; 64];
    let replied = match cella_userland::call(module, b"ping", &mut reply) {
        Ok(length) => core::str::from_utf8(&reply[..length]).unwrap_or("?"),
        Err(code) => {
            cella_userland::log!("module-peer: call failed with {code}");
            return 1;
        }
    };
    let mut message = [0u8; 64];
    let (length, token) = match cella_userland::receive(inbox, &mut message) {
        Ok(received) => received,
        Err(code) => {
            cella_userland::log!("module-peer: receive failed with {code}");
            return 1;
        }
    };
    let sent = core::str::from_utf8(&message[..length]).unwrap_or("?");
    cella_userland::log!(
        "module-peer: the module replied `{replied}` and sent `{sent}` (a one-way message: token {token})"
    );
    0
}

cella_userland::entry!(main);
