//! `uart`: the terminal's serial line, served by the `uart16550` driver.
//!
//! Everything printed on the console goes through it: the kernel's log
//! lines and the lines of modules (once the driver runs), and what the shell
//! and the console server echo. `write` is one-way: a writer sends its bytes
//! and goes on, without a round trip per message, and the driver writes them
//! to the line in the order they came. One `write` carries at most
//! [`MAX_WRITE_BYTES`]; a writer with more sends several.

use crate::wire::{Reader, Wire, WireError, Writer};
use core::fmt;

/// The bytes a `write` adds to what it carries: its name (`write`), the
/// zero byte after it and the 16-bit length.
pub const WRITE_OVERHEAD: usize = 8;
/// The most bytes one `write` carries: the 4,096-byte message limit less
/// [`WRITE_OVERHEAD`].
pub const MAX_WRITE_BYTES: usize = 4096 - WRITE_OVERHEAD;

/// Bytes for the terminal, as they are (control characters and escape
/// sequences included). A person types them as one word (`call uart write
/// hello`); an answer shows how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Wire<'a> for Bytes<'a> {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        self.0.encode(out)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        <&[u8]>::decode(input).map(Bytes)
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.0.render(out)
    }

    fn from_text(word: &'a str) -> Option<Self> {
        Some(Bytes(word.as_bytes()))
    }
}

crate::interface! {
    endpoint "uart";
    /// Writes the bytes to the line, after those written before.
    once fn write(bytes: Bytes<'_>);
}

/// The bytes a `write` request carries, borrowed from it.
///
/// # Errors
/// The request is not a whole `write` ([`WireError::UnknownOperation`],
/// [`WireError::Truncated`], [`WireError::TrailingBytes`]).
pub fn written(request: &[u8]) -> Result<&[u8], WireError> {
    let (name, mut arguments) = crate::split_request(request);
    if name != b"write" {
        return Err(WireError::UnknownOperation);
    }
    let bytes = Bytes::decode(&mut arguments)?;
    arguments.finish()?;
    Ok(bytes.0)
}

#[cfg(test)]
mod tests;
