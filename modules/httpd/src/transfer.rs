//! The bytes of `GET /download/N` and the checksum of `POST /upload`.
//!
//! Download: byte `i` (from 0) of the body is `(i * 31 + i / 4096) mod 251`,
//! so a client checks what it got without a copy. [`Pattern`] makes the
//! bytes chunk by chunk, continuing where the last chunk ended, so a body
//! of up to [`MAX_TRANSFER_BYTES`] is never held whole.
//!
//! Upload: the body's length and its 32-bit FNV-1a hash (offset basis
//! 0x811c9dc5, prime 0x01000193, as the shell's `get` prints it), taken as
//! the bytes arrive.

/// The largest download or upload body: 1 GiB.
pub const MAX_TRANSFER_BYTES: u64 = 1 << 30;

/// The modulus of the download pattern: a prime, so the pattern does not
/// repeat on a power of two.
const PATTERN_MODULUS: u64 = 251;
/// The pattern's step up every 4096 bytes.
const PATTERN_PAGE: u64 = 4096;

/// Byte `index` of a download body, computed alone.
pub fn pattern_byte(index: u64) -> u8 {
    ((index.wrapping_mul(31) + index / PATTERN_PAGE) % PATTERN_MODULUS) as u8
}

/// A download body's bytes from some position on, made a chunk at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// The index of the next byte.
    next: u64,
    /// The index one past the last byte.
    end: u64,
    /// `pattern_byte(next)`.
    value: u8,
}

impl Pattern {
    /// The bytes `0..length` of a body.
    pub fn new(length: u64) -> Pattern {
        Pattern::from(0, length)
    }

    /// The bytes `start..end` of a body.
    pub fn from(start: u64, end: u64) -> Pattern {
        Pattern {
            next: start,
            end,
            value: pattern_byte(start),
        }
    }

    /// Bytes not made yet.
    pub fn remaining(&self) -> u64 {
        self.end.saturating_sub(self.next)
    }

    /// Fills as much of `buffer` as bytes remain; returns how many it
    /// wrote. The pattern does not move: [`Pattern::advance`] moves it by
    /// as many as were sent.
    pub fn fill(&self, buffer: &mut [u8]) -> usize {
        let count = usize::try_from(self.remaining())
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        let mut index = self.next;
        let mut value = u64::from(self.value);
        for byte in &mut buffer[..count] {
            *byte = value as u8;
            index += 1;
            // One step of `index * 31 + index / 4096`, reduced at once.
            value += if index.is_multiple_of(PATTERN_PAGE) {
                32
            } else {
                31
            };
            if value >= PATTERN_MODULUS {
                value -= PATTERN_MODULUS;
            }
        }
        count
    }

    /// Moves past `count` bytes (those sent).
    pub fn advance(&mut self, count: u64) {
        let next = self.next.saturating_add(count).min(self.end);
        *self = Pattern::from(next, self.end);
    }
}

/// The FNV-1a hash of no bytes.
pub const FNV_START: u32 = 0x811c_9dc5;

/// The FNV-1a hash of `bytes`, continued from `hash`.
pub fn fnv1a(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chunked_pattern_is_the_formula_across_page_and_modulus_boundaries() {
        let length = 3 * 4096 + 777;
        let mut pattern = Pattern::new(length);
        let mut made = alloc::vec::Vec::new();
        // Odd chunk sizes, and a partial send of each chunk.
        let mut buffer = [0u8; 1000];
        while pattern.remaining() > 0 {
            let filled = pattern.fill(&mut buffer);
            let sent = filled.min(613);
            made.extend_from_slice(&buffer[..sent]);
            pattern.advance(sent as u64);
        }
        assert_eq!(made.len() as u64, length);
        for (index, &byte) in made.iter().enumerate() {
            let index = index as u64;
            assert_eq!(
                u64::from(byte),
                (index * 31 + index / 4096) % 251,
                "byte {index}"
            );
        }
        assert_eq!(pattern_byte(4096), ((4096 * 31 + 1) % 251) as u8);
        assert_eq!(Pattern::new(0).fill(&mut buffer), 0);
    }

    #[test]
    fn fnv1a_matches_the_published_values() {
        assert_eq!(fnv1a(FNV_START, b""), 0x811c_9dc5);
        assert_eq!(fnv1a(FNV_START, b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(FNV_START, b"foobar"), 0xbf9c_f968);
        // In pieces, the same.
        assert_eq!(fnv1a(fnv1a(FNV_START, b"foo"), b"bar"), 0xbf9c_f968);
    }
}
