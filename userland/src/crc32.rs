//! CRC-32 (IEEE, reflected, bitwise table built at compile time): the
//! benchmark's shared computation, the same algorithm as the Wasm module's.

const fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut value = index as u32;
        let mut bit = 0;
        while bit < 8 {
            value = if value & 1 != 0 {
                (value >> 1) ^ 0xedb8_8320
            } else {
                value >> 1
            };
            bit += 1;
        }
        table[index] = value;
        index += 1;
    }
    table
}

static TABLE: [u32; 256] = table();

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// CRC-32 of `length` bytes from the LCG `seed = seed * 1103515245 + 12345`
/// (byte = bits 16..24), starting at seed 0x12345678: the same function, the
/// same source, as `modules/checksum`'s `crc32_of_pattern` (the benchmark
/// compares the two builds of it).
pub fn crc32_of_pattern(length: usize) -> u32 {
    let mut seed = 0x1234_5678u32;
    let mut crc = !0u32;
    for _ in 0..length {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let byte = (seed >> 16) as u8;
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}
