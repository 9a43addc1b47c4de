//! checksum: a small Cella server used by the process and benchmark scenarios.
//!
//! - a request starting with `crc` is answered with the CRC-32 (IEEE) of
//!   64 KiB of pseudo-random bytes (a fixed LCG), 4 bytes little-endian: the
//!   benchmark's "same computation" for Wasm versus native;
//! - any other request is answered with the FNV-1a 64-bit hash of its bytes,
//!   8 bytes little-endian (what the kernel's test servers answer too);
//! - a message that is not a request is ignored.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{MAX_MESSAGE_BYTES, Message, Module, Result};

cella_sdk::module! {
    name: "checksum",
    version: "1.0.0",
    module: Checksum,
    capabilities: {},
}

/// No state between events.
pub struct Checksum;

impl Module for Checksum {
    type Capabilities = Capabilities;

    fn init(_capabilities: Capabilities) -> Result<Checksum> {
        Ok(Checksum)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut buffer = [0u8; MAX_MESSAGE_BYTES as usize];
        let request = message.read(&mut buffer)?;
        if !message.is_request() {
            return Ok(());
        }
        if request.starts_with(b"crc") {
            // black_box: the length is not a constant the compiler could fold
            // the whole computation from, and the result is really computed.
            let crc = core::hint::black_box(crc32_of_pattern(core::hint::black_box(64 * 1024)));
            message.reply(&crc.to_le_bytes())
        } else {
            message.reply(&fnv1a_64(request).to_le_bytes())
        }
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const fn crc_table() -> [u32; 256] {
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

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE) of `length` bytes from the LCG `seed = seed * 1103515245 + 12345`
/// (byte = bits 16..24), starting at seed 0x12345678.
pub fn crc32_of_pattern(length: usize) -> u32 {
    let mut seed = 0x1234_5678u32;
    let mut crc = !0u32;
    for _ in 0..length {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let byte = (seed >> 16) as u8;
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}
