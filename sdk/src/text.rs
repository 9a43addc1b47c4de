//! [`TextBuffer`]: a fixed-capacity UTF-8 buffer for formatting without a heap.

use core::fmt;

/// Up to `N` bytes of UTF-8 text, filled with `write!`. Text that does not
/// fit is cut at a character boundary and [`TextBuffer::truncated`] is set;
/// writing never fails and never panics.
///
/// ```
/// use core::fmt::Write;
/// let mut line = cella_sdk::TextBuffer::<16>::new();
/// write!(line, "irq {} fired {} times", 4, 1000).unwrap();
/// assert_eq!(line.as_str(), "irq 4 fired 1000");
/// assert!(line.truncated());
/// ```
#[derive(Clone)]
pub struct TextBuffer<const N: usize> {
    bytes: [u8; N],
    length: usize,
    truncated: bool,
}

impl<const N: usize> Default for TextBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TextBuffer<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        TextBuffer {
            bytes: [0; N],
            length: 0,
            truncated: false,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..self.length).unwrap_or_default();
        // Only whole UTF-8 characters are ever copied in.
        core::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The text so far, as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }

    /// Bytes used.
    pub fn len(&self) -> usize {
        self.length
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Whether some text did not fit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.length = 0;
        self.truncated = false;
    }

    /// Appends as much of `text` as fits, cut at a character boundary.
    pub fn push_str(&mut self, text: &str) {
        let room = N.saturating_sub(self.length);
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        if take < text.len() {
            self.truncated = true;
        }
        if let (Some(destination), Some(source)) = (
            self.bytes.get_mut(self.length..self.length + take),
            text.as_bytes().get(..take),
        ) {
            destination.copy_from_slice(source);
            self.length += take;
        }
    }
}

impl<const N: usize> fmt::Write for TextBuffer<N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push_str(text);
        Ok(())
    }
}

impl<const N: usize> fmt::Display for TextBuffer<N> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for TextBuffer<N> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), formatter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn cuts_at_character_boundaries() {
        let mut text = TextBuffer::<5>::new();
        let tail = "çdé";
        write!(text, "ab{tail}").unwrap();
        assert_eq!(text.as_str(), "abçd");
        assert!(text.truncated());
        text.clear();
        text.push_str("xy");
        assert_eq!(text.as_str(), "xy");
        assert!(!text.truncated());
        let mut empty = TextBuffer::<0>::new();
        empty.push_str("z");
        assert_eq!(empty.as_str(), "");
    }
}
