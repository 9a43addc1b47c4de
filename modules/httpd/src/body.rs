//! A response body being written: a byte buffer that grows fallibly and
//! never past a bound, written to with `core::fmt::Write`. A write that
//! would go past the bound or finds no memory fails, and the body remembers
//! it ([`Body::overflowed`]) so the answer becomes an error instead of a
//! cut page.

use alloc::vec::Vec;
use core::fmt;

/// The most bytes of a rendered answer (the HTML page of a large system
/// is some tens of KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A bounded, fallibly grown byte buffer.
#[derive(Debug, Default)]
pub struct Body {
    bytes: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl Body {
    /// An empty body that holds at most [`MAX_BODY_BYTES`].
    pub fn new() -> Body {
        Body::with_limit(MAX_BODY_BYTES)
    }

    /// An empty body that holds at most `limit` bytes.
    pub fn with_limit(limit: usize) -> Body {
        Body {
            bytes: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    /// Appends `bytes`, or fails (and remembers it) if they pass the
    /// bound or no memory is left.
    pub fn push(&mut self, bytes: &[u8]) -> fmt::Result {
        if self.overflowed {
            return Err(fmt::Error);
        }
        let fits = self.bytes.len().saturating_add(bytes.len()) <= self.limit;
        if !fits || self.bytes.try_reserve(bytes.len()).is_err() {
            self.overflowed = true;
            return Err(fmt::Error);
        }
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// Whether a write failed: the body is not whole.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl fmt::Write for Body {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.push(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;

    #[test]
    fn a_body_refuses_bytes_past_its_bound_and_remembers_it() {
        let mut body = Body::with_limit(8);
        assert!(write!(body, "{}", 1234).is_ok());
        assert!(body.push(b"5678").is_ok());
        assert_eq!(body.as_bytes(), b"12345678");
        assert!(body.push(b"9").is_err());
        assert!(body.overflowed());
        // Nothing is written after an overflow, not even what would fit.
        let mut body = Body::with_limit(4);
        assert!(body.push(b"12345").is_err());
        assert!(body.push(b"1").is_err());
        assert!(body.is_empty());
    }
}
