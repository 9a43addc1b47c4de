//! The supervisor's commands through its typed interface: the console's
//! server (the shell) calls `run(line)` with a command line and gets the
//! command's answer as the call's reply once the command ends. An answer
//! longer than one message comes in pages: the reply to `run` is page 0,
//! and `report_page(n)` gives page `n` of the caller's last answer, which
//! the kernel keeps until its last page is read, the caller's next command
//! replaces it or the caller's instance ends.

use crate::split_request;
use crate::wire::{Reader, Wire, WireError};
use core::fmt;

/// The most bytes of text one page of an answer carries.
pub const ANSWER_TEXT_BYTES: usize = super::MAX_PAGE_BYTES;

crate::wire_record! {
    /// One page of a command's answer.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct CommandAnswer<'a> {
        /// Whether the command did what it was asked (`false`: the text
        /// says why not).
        pub succeeded: bool,
        /// This page's number: 0 for the reply to `run`.
        pub page: u32,
        /// The page that follows (ask `report_page` for it), or 0 when this
        /// one ends the answer.
        pub next: u32,
        /// The text, each line ending in `\n`.
        pub text: &'a str,
    }
}

impl fmt::Display for CommandAnswer<'_> {
    /// The text as it is.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(self.text)
    }
}

/// A request of the command operations, decoded: the kernel answers `run`
/// only when the command ends, so it decodes the request itself rather
/// than through `serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandRequest<'a> {
    /// `run(line)`.
    Run { line: &'a str },
    /// `report_page(page)`.
    ReportPage { page: u32 },
}

impl<'a> CommandRequest<'a> {
    /// Decodes `request` if it names a command operation (`None`: it names
    /// another operation, or none).
    ///
    /// # Errors
    /// Arguments that do not decode: cut short, padded, of another type,
    /// text that is not UTF-8.
    pub fn decode(request: &'a [u8]) -> Option<Result<CommandRequest<'a>, WireError>> {
        let (name, mut arguments) = split_request(request);
        let decoded = match name {
            b"run" => <&str>::decode(&mut arguments).map(|line| CommandRequest::Run { line }),
            b"report_page" => {
                u32::decode(&mut arguments).map(|page| CommandRequest::ReportPage { page })
            }
            _ => return None,
        };
        Some(decoded.and_then(|decoded| Reader::finish(arguments).map(|()| decoded)))
    }
}

/// Page `page` of `text` cut into pages of at most `ANSWER_TEXT_BYTES`
/// bytes, never inside a character: its text and the next page's number
/// (0 after the last). `None` for a page past the end; an empty text is
/// one empty page.
pub fn text_page(text: &str, page: u32) -> Option<(&str, u32)> {
    let mut start = 0;
    let mut number = 0;
    loop {
        let mut end = (start + ANSWER_TEXT_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let next = if end < text.len() { number + 1 } else { 0 };
        if number == page {
            return Some((&text[start..end], next));
        }
        if next == 0 {
            return None;
        }
        start = end;
        number = next;
    }
}

#[cfg(test)]
mod tests;
