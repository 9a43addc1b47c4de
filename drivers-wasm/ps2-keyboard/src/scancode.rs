//! Scancode set 1 to characters: a small state machine that tracks the
//! modifier keys. Every byte is accepted; unknown codes produce nothing.

/// Prefix of extended codes (cursor keys, keypad enter, right ctrl, ...).
const EXTENDED: u8 = 0xe0;
/// Set on the code of a key release.
const RELEASE: u8 = 0x80;

const LEFT_SHIFT: u8 = 0x2a;
const RIGHT_SHIFT: u8 = 0x36;
const CONTROL: u8 = 0x1d;
const CAPS_LOCK: u8 = 0x3a;
const KEYPAD_ENTER: u8 = 0x1c; // after EXTENDED
const KEYPAD_SLASH: u8 = 0x35; // after EXTENDED

/// What each press code from 0x00 to 0x39 types, unshifted and shifted
/// (`\0`: nothing, a modifier or a key without a character).
#[rustfmt::skip]
const KEYS: [(char, char); 0x3a] = [
    ('\0', '\0'), ('\x1b', '\x1b'), ('1', '!'), ('2', '@'), ('3', '#'), ('4', '$'),
    ('5', '%'), ('6', '^'), ('7', '&'), ('8', '*'), ('9', '('), ('0', ')'),
    ('-', '_'), ('=', '+'), ('\x08', '\x08'), ('\t', '\t'),
    ('q', 'Q'), ('w', 'W'), ('e', 'E'), ('r', 'R'), ('t', 'T'), ('y', 'Y'),
    ('u', 'U'), ('i', 'I'), ('o', 'O'), ('p', 'P'), ('[', '{'), (']', '}'),
    ('\n', '\n'), ('\0', '\0'),
    ('a', 'A'), ('s', 'S'), ('d', 'D'), ('f', 'F'), ('g', 'G'), ('h', 'H'),
    ('j', 'J'), ('k', 'K'), ('l', 'L'), (';', ':'), ('\'', '"'), ('`', '~'),
    ('\0', '\0'), ('\\', '|'),
    ('z', 'Z'), ('x', 'X'), ('c', 'C'), ('v', 'V'), ('b', 'B'), ('n', 'N'),
    ('m', 'M'), (',', '<'), ('.', '>'), ('/', '?'), ('\0', '\0'),
    ('*', '*'), ('\0', '\0'), (' ', ' '),
];

/// Decoder state: modifiers held and whether an extended code is pending.
#[derive(Clone, Copy, Debug, Default)]
pub struct Decoder {
    left_shift: bool,
    right_shift: bool,
    control: bool,
    caps_lock: bool,
    extended: bool,
}

impl Decoder {
    /// No key held.
    pub const fn new() -> Decoder {
        Decoder {
            left_shift: false,
            right_shift: false,
            control: false,
            caps_lock: false,
            extended: false,
        }
    }

    /// Takes one byte from the keyboard; returns the character a key press
    /// typed, if any.
    pub fn feed(&mut self, byte: u8) -> Option<char> {
        if byte == EXTENDED {
            self.extended = true;
            return None;
        }
        let extended = core::mem::take(&mut self.extended);
        let pressed = byte & RELEASE == 0;
        let code = byte & !RELEASE;
        if extended {
            // Extended codes: right ctrl, keypad enter and slash; the
            // "fake shift" codes around cursor keys (E0 2A, E0 36) are ignored.
            return match code {
                CONTROL => {
                    self.control = pressed;
                    None
                }
                KEYPAD_ENTER if pressed => Some('\n'),
                KEYPAD_SLASH if pressed => Some('/'),
                _ => None,
            };
        }
        match code {
            LEFT_SHIFT => self.left_shift = pressed,
            RIGHT_SHIFT => self.right_shift = pressed,
            CONTROL => self.control = pressed,
            CAPS_LOCK if pressed => self.caps_lock = !self.caps_lock,
            _ if pressed => return self.character(code),
            _ => {}
        }
        None
    }

    fn character(&self, code: u8) -> Option<char> {
        let (plain, shifted) = KEYS.get(usize::from(code)).copied()?;
        let shift = self.left_shift || self.right_shift;
        let mut character = if shift { shifted } else { plain };
        if plain.is_ascii_lowercase() {
            if self.caps_lock {
                character = if shift { plain } else { shifted };
            }
            if self.control {
                // Ctrl-A .. Ctrl-Z are the control characters 1 .. 26.
                return char::from_u32(u32::from(plain) - u32::from('a') + 1);
            }
        }
        (character != '\0').then_some(character)
    }
}
