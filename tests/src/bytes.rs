//! Bytes the tests send and check: a seeded pattern and the FNV-1a checksum
//! the system's interfaces show.

/// 32-bit FNV-1a, the checksum the `block` interface shows for what it read
/// (and `httpd` for an upload).
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// `length` bytes of a xorshift sequence from `seed`: the same for the same
/// seed, different for each seed.
pub fn random_bytes(length: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9) | 1;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}
