//! The kernel command line: space-separated words, each `key=value` or a bare flag.
//!
//! QEMU passes `-append "..."` through the PVH start info. One kernel image can
//! run a named self-test with `test=NAME`; later issues add more keys.
#![forbid(unsafe_code)]

/// A parsed view over the command line; borrows the original text.
#[derive(Clone, Copy, Debug)]
pub struct CommandLine<'a> {
    text: &'a str,
}

impl<'a> CommandLine<'a> {
    /// Wraps a command line. Leading, trailing and repeated spaces are fine.
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// The whole text, as given.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Every word as `(key, value)`; a bare flag has the value `""`.
    pub fn words(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.text
            .split_ascii_whitespace()
            .map(|word| word.split_once('=').unwrap_or((word, "")))
    }

    /// The value of the last occurrence of `key` (later words override earlier ones).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.words()
            .filter(|(word_key, _)| *word_key == key)
            .map(|(_, value)| value)
            .last()
    }

    /// Whether `key` appears at all, as a flag or with a value.
    pub fn has(&self, key: &str) -> bool {
        self.words().any(|(word_key, _)| word_key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::CommandLine;

    #[test]
    fn keys_values_and_flags() {
        let line = CommandLine::new("  test=heap  verbose log=debug  ");
        assert_eq!(line.get("test"), Some("heap"));
        assert_eq!(line.get("log"), Some("debug"));
        assert_eq!(line.get("verbose"), Some(""));
        assert!(line.has("verbose"));
        assert!(!line.has("quiet"));
        assert_eq!(line.get("missing"), None);
        assert_eq!(line.words().count(), 3);
    }

    #[test]
    fn later_words_override_and_values_keep_equals_signs() {
        let line = CommandLine::new("test=a test=b path=x=y");
        assert_eq!(line.get("test"), Some("b"));
        assert_eq!(line.get("path"), Some("x=y"));
    }

    #[test]
    fn empty_line_has_nothing() {
        let line = CommandLine::new("");
        assert_eq!(line.words().count(), 0);
        assert_eq!(line.get("test"), None);
    }
}
