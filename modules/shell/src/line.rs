//! Line editing: no host calls, tested on the host.

use cella_sdk::TextBuffer;

/// Longest command line.
pub const LINE_BYTES: usize = 200;

/// Whether a submitted line is left alone: empty, blank, or a `#` comment.
pub fn is_comment_or_empty(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

/// What to do after a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes to the terminal.
    Echo(Echo),
    /// Enter was pressed: take the line.
    Submit,
    /// Ignore the key.
    Nothing,
}

/// Up to three bytes to echo.
#[derive(Debug, PartialEq, Eq)]
pub struct Echo {
    bytes: [u8; 3],
    length: usize,
}

impl Echo {
    fn of(bytes: &[u8]) -> Echo {
        let mut echo = Echo {
            bytes: [0; 3],
            length: 0,
        };
        for (slot, &byte) in echo.bytes.iter_mut().zip(bytes) {
            *slot = byte;
            echo.length += 1;
        }
        echo
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.length).unwrap_or_default()
    }
}

/// The line being typed.
pub struct LineEditor {
    line: [u8; LINE_BYTES],
    length: usize,
    /// Characters typed past [`LINE_BYTES`]: not stored, but they make the
    /// line too long to run.
    refused: usize,
}

/// A submitted line longer than [`LINE_BYTES`]: it is dropped, never cut and run.
#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong;

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    /// An empty line.
    pub const fn new() -> LineEditor {
        LineEditor {
            line: [0; LINE_BYTES],
            length: 0,
            refused: 0,
        }
    }

    /// The bytes typed so far.
    pub fn line(&self) -> &[u8] {
        self.line.get(..self.length).unwrap_or_default()
    }

    /// Handles one key: printable ASCII is added and echoed, backspace or
    /// delete erases the last character, Enter submits, the rest is ignored.
    /// A full line stores no more characters (it rings the bell and
    /// counts them, so the line is refused when submitted); backspace takes
    /// back those counted characters first.
    pub fn key(&mut self, byte: u8) -> Action {
        match byte {
            b'\r' | b'\n' => Action::Submit,
            0x08 | 0x7f if self.refused > 0 => {
                self.refused -= 1;
                Action::Nothing
            }
            0x08 | 0x7f if self.length > 0 => {
                self.length -= 1;
                Action::Echo(Echo::of(b"\x08 \x08"))
            }
            0x20..=0x7e if self.length < LINE_BYTES => {
                self.line[self.length] = byte;
                self.length += 1;
                Action::Echo(Echo::of(&[byte]))
            }
            0x20..=0x7e => {
                self.refused = self.refused.saturating_add(1);
                Action::Echo(Echo::of(b"\x07"))
            }
            _ => Action::Nothing,
        }
    }

    /// Takes the line and starts a new one.
    ///
    /// # Errors
    /// [`LineTooLong`] when more than [`LINE_BYTES`] characters were typed:
    /// the whole line is dropped.
    pub fn take(&mut self) -> Result<TextBuffer<LINE_BYTES>, LineTooLong> {
        let too_long = self.refused > 0;
        let mut text = TextBuffer::new();
        // Only printable ASCII is ever stored, so the line is valid UTF-8.
        text.push_str(core::str::from_utf8(self.line()).unwrap_or_default());
        self.length = 0;
        self.refused = 0;
        if too_long { Err(LineTooLong) } else { Ok(text) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    fn type_all(editor: &mut LineEditor, bytes: &[u8]) -> Vec<u8> {
        let mut echoed = Vec::new();
        for &byte in bytes {
            if let Action::Echo(echo) = editor.key(byte) {
                echoed.extend_from_slice(echo.as_slice());
            }
        }
        echoed
    }

    #[test]
    fn typing_echoes_and_backspace_erases() {
        let mut editor = LineEditor::new();
        let echoed = type_all(&mut editor, b"psx\x08\x7f\x7fps");
        assert_eq!(editor.line(), b"ps");
        assert_eq!(echoed, b"psx\x08 \x08\x08 \x08\x08 \x08ps");
        // Backspace on an empty line does nothing.
        let mut empty = LineEditor::new();
        assert_eq!(empty.key(0x08), Action::Nothing);
        assert_eq!(editor.key(b'\r'), Action::Submit);
        assert_eq!(editor.take().map(|line| line.as_str() == "ps"), Ok(true));
        assert_eq!(editor.line(), b"");
    }

    #[test]
    fn control_bytes_are_ignored_and_a_full_line_rings() {
        let mut editor = LineEditor::new();
        assert_eq!(editor.key(0x1b), Action::Nothing);
        assert_eq!(editor.key(0xc3), Action::Nothing);
        for _ in 0..LINE_BYTES {
            assert!(matches!(editor.key(b'a'), Action::Echo(_)));
        }
        assert_eq!(editor.key(b'b'), Action::Echo(Echo::of(b"\x07")));
        assert_eq!(editor.line().len(), LINE_BYTES);
    }

    #[test]
    fn an_over_long_line_is_refused_whole_and_the_next_one_runs() {
        let mut editor = LineEditor::new();
        for round in 0..50 {
            for _ in 0..LINE_BYTES + 10 {
                editor.key(b'x');
            }
            assert_eq!(editor.key(b'\r'), Action::Submit);
            assert_eq!(editor.take().err(), Some(LineTooLong), "round {round}");
            assert_eq!(editor.line(), b"");
            type_all(&mut editor, b"ps");
            assert_eq!(editor.take().map(|line| line.as_str() == "ps"), Ok(true));
        }
    }

    #[test]
    fn backspace_takes_back_the_characters_past_the_limit_first() {
        let mut editor = LineEditor::new();
        for _ in 0..LINE_BYTES + 3 {
            editor.key(b'y');
        }
        for _ in 0..3 {
            assert_eq!(editor.key(0x7f), Action::Nothing);
        }
        assert_eq!(editor.line().len(), LINE_BYTES);
        let line = editor.take().map(|line| line.as_str().len());
        assert_eq!(line, Ok(LINE_BYTES));
    }

    #[test]
    fn comments_and_blank_lines_are_not_commands() {
        assert!(is_comment_or_empty(""));
        assert!(is_comment_or_empty("   "));
        assert!(is_comment_or_empty("# a comment"));
        assert!(is_comment_or_empty("  #x"));
        assert!(!is_comment_or_empty("ps # list"));
    }

    #[test]
    fn a_forged_answer_typed_in_is_edited_as_keys_not_printed() {
        let mut editor = LineEditor::new();
        let echoed = type_all(&mut editor, b"\x02Sdone");
        // The control byte is ignored; the rest is a line being typed.
        assert_eq!(editor.line(), b"Sdone");
        assert_eq!(echoed, b"Sdone");
    }
}
