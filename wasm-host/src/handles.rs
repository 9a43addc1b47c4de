//! Capability handles: a slot index plus the generation of the instance that
//! holds it.
//!
//! A handle is a positive `i32`: `generation << 8 | slot`. Every instance
//! gets a fresh generation from its [`crate::Runtime`], so a handle kept
//! across a restart or swap (for example in a saved state) is stale, and a
//! handle copied from another module names a different generation.

/// Slots per capability table (8 bits of the handle).
pub const SLOTS: usize = 256;

/// Largest generation (23 bits, so handles stay positive); generations wrap
/// back to 1 after it.
pub const MAX_GENERATION: u32 = (1 << 23) - 1;

/// A decoded handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    /// Instance generation.
    pub generation: u32,
    /// Slot in the capability table.
    pub slot: usize,
}

impl Handle {
    /// Encodes a handle; `slot` must be below [`SLOTS`] and `generation` at
    /// most [`MAX_GENERATION`] (both are masked).
    pub fn encode(generation: u32, slot: usize) -> i32 {
        let generation = generation & MAX_GENERATION;
        let slot = (slot % SLOTS) as u32;
        // Fits in 31 bits by construction.
        ((generation << 8) | slot) as i32
    }

    /// Decodes a guest-supplied value; `None` for zero or negative values.
    pub fn decode(value: i32) -> Option<Handle> {
        let value = u32::try_from(value).ok().filter(|value| *value != 0)?;
        Some(Handle {
            generation: value >> 8,
            slot: (value & 0xff) as usize,
        })
    }
}

/// The next generation after `generation` (skipping 0).
pub fn next_generation(generation: u32) -> u32 {
    if generation >= MAX_GENERATION {
        1
    } else {
        generation + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let value = Handle::encode(MAX_GENERATION, 255);
        assert!(value > 0);
        assert_eq!(
            Handle::decode(value),
            Some(Handle {
                generation: MAX_GENERATION,
                slot: 255
            })
        );
        assert_eq!(Handle::decode(0), None);
        assert_eq!(Handle::decode(-5), None);
        assert_eq!(next_generation(MAX_GENERATION), 1);
    }
}
