//! Calls the `checksum` server 10,000 times with varied requests and checks
//! every reply (the FNV-1a hash of the request); reports what it found.
#![no_std]
#![no_main]

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn main() -> i32 {
    let handle = loop {
        match cella_userland::lookup("checksum") {
            Ok(handle) => break handle,
            Err(_) => cella_userland::sleep(1_000_000),
        }
    };
    let (mut good, mut bad, mut failed) = (0u32, 0u32, 0u32);
    let mut reply = [0u8; 16];
    let started = cella_userland::now();
    for index in 0..10_000u64 {
        let mut request = [0u8; 24];
        request[..8].copy_from_slice(&index.to_le_bytes());
        request[8..16].copy_from_slice(&index.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
        request[16..].copy_from_slice(&(!index).to_le_bytes());
        match cella_userland::call(handle, &request, &mut reply) {
            Ok(8) if reply[..8] == fnv1a(&request).to_le_bytes() => good += 1,
            Ok(_) => bad += 1,
            Err(_) => failed += 1,
        }
    }
    let elapsed = cella_userland::now() - started;
    cella_userland::log!(
        "client: 10000 calls: {good} good, {bad} bad, {failed} failed; {} ns per round trip",
        elapsed / 10_000
    );
    if good == 10_000 { 0 } else { 1 }
}

cella_userland::entry!(main);
