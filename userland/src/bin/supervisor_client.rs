//! Reads the kernel's typed `supervisor` interface from a native process
//! (granted `endpoint supervisor` in the system manifest): `status` 50
//! times, each checked to be a status, then the command operation `run`
//! (`restart rtc`), which the kernel answers only to the shell and so
//! denies; reports what it found.
#![no_std]
#![no_main]

use cella_sdk::interfaces::supervisor;

fn main() -> i32 {
    let Ok(handle) = cella_userland::lookup("supervisor") else {
        cella_userland::log!("supervisor-client: `supervisor` is not reachable");
        return 1;
    };
    let mut request = [0u8; 64];
    let mut reply = [0u8; 4096];
    let Ok(length) = supervisor::status::request(&mut request) else {
        return 1;
    };
    let (mut good, mut bad) = (0u32, 0u32);
    let mut modules = 0;
    for _ in 0..50 {
        let status = cella_userland::call(handle, &request[..length], &mut reply)
            .ok()
            .and_then(|answered| supervisor::status::reply(&reply[..answered]).ok())
            .and_then(Result::ok);
        match status {
            Some(status) => {
                modules = status.modules_total;
                good += 1;
            }
            None => bad += 1,
        }
    }
    let Ok(length) = supervisor::run::request(&mut request, "restart rtc") else {
        return 1;
    };
    let denied = i64::from(cella_sdk::ErrorCode::Denied.code());
    let run = match cella_userland::call(handle, &request[..length], &mut reply) {
        Err(code) if code == denied => "denied",
        Err(_) => "failed otherwise",
        Ok(_) => "answered",
    };
    cella_userland::log!(
        "supervisor-client: 50 status calls: {good} good, {bad} bad ({modules} modules); run: {run}"
    );
    if good == 50 && run == "denied" { 0 } else { 1 }
}

cella_userland::entry!(main);
