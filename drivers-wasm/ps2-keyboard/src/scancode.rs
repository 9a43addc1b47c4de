//! Scancode set 1 to characters, by the `pc-keyboard` crate: it tracks the
//! modifiers (both shifts, both controls, caps lock, num lock) and the `E0`
//! prefix, and maps keys through the US 104-key layout; Ctrl with a letter
//! gives the control characters 1 to 26. Every byte is accepted; codes the
//! crate does not know, and keys without a character, produce nothing.

use pc_keyboard::layouts::Us104Key;
use pc_keyboard::{DecodedKey, HandleControl, PS2Keyboard, ScancodeSet1};

/// Decoder state: the keyboard as `pc-keyboard` tracks it.
pub struct Decoder {
    keyboard: PS2Keyboard<Us104Key, ScancodeSet1>,
}

impl Decoder {
    /// No key held.
    pub const fn new() -> Decoder {
        Decoder {
            keyboard: PS2Keyboard::new(
                ScancodeSet1::new(),
                Us104Key,
                HandleControl::MapLettersToUnicode,
            ),
        }
    }

    /// Takes one byte from the keyboard; returns the character a key press
    /// typed, if any.
    pub fn feed(&mut self, byte: u8) -> Option<char> {
        let event = self.keyboard.add_byte(byte).ok()??;
        match self.keyboard.process_keyevent(event)? {
            DecodedKey::Unicode(character) => Some(character),
            DecodedKey::RawKey(_) => None,
        }
    }
}
