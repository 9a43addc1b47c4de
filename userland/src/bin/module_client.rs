//! Calls the `rtc` endpoint, served by a Wasm module of the system manifest
//! (drivers-wasm/cmos-rtc), 200 times through the kernel's IPC, and checks
//! that every reply is a time `YYYY-MM-DDTHH:MM:SSZ`; reports what it found.
#![no_std]
#![no_main]

/// Whether `reply` has the shape of the driver's answer.
fn is_time(reply: &[u8]) -> bool {
    const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd:dd:ddZ";
    reply.len() == SHAPE.len()
        && reply.iter().zip(SHAPE).all(|(&byte, &shape)| match shape {
            b'd' => byte.is_ascii_digit(),
            other => byte == other,
        })
}

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("rtc") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let (mut good, mut bad, mut failed) = (0u32, 0u32, 0u32);
    let mut reply = [0u8; 64];
    let mut first = [0u8; 20];
    let started = cella_userland::now();
    for _ in 0..200 {
        match cella_userland::call(handle, b"time", &mut reply) {
            Ok(length) if is_time(&reply[..length]) => {
                if good == 0 {
                    first.copy_from_slice(&reply[..20]);
                }
                good += 1;
            }
            Ok(_) => bad += 1,
            Err(_) => failed += 1,
        }
    }
    let elapsed = cella_userland::now() - started;
    let first = core::str::from_utf8(&first).unwrap_or("?");
    cella_userland::log!(
        "module-client: 200 calls to the rtc module: {good} good, {bad} bad, {failed} failed; first {first}; {} ns per round trip",
        elapsed / 200
    );
    if good == 200 { 0 } else { 1 }
}

cella_userland::entry!(main);
