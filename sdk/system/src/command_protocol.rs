//! Supervisor commands from the host: how `cargo cella ps`, `log`, `caps`,
//! `trace`, `list`, `remove` and `mem` ask a running kernel, over the push
//! channel (COM2), and read its answer.
//!
//! A command is authenticated like an upload (see [`crate::push_authority`]):
//! the tool asks for a nonce and signs the command line with the push key, so
//! nothing else that can write to COM2 can drive the supervisor.
//!
//! ```text
//! tool:   CELLA-PUSH-HELLO\n
//! kernel: CELLA-PUSH-NONCE NONCE\n
//! tool:   CELLA-COMMAND 1 NONCE SIGNATURE COMMAND-LINE\n
//! kernel: CELLA-COMMAND-RESULT ok LENGTH\n<LENGTH bytes of report text>
//!    (or: CELLA-COMMAND-RESULT error LENGTH\n<LENGTH bytes of error text>)
//! ```
//!
//! SIGNATURE is the 64-hex-digit HMAC-SHA-256, under the push key, of
//! `CELLA-COMMAND 1 NONCE` with a newline, followed by the command line's
//! bytes. The request uses up the outstanding nonce whatever becomes of it,
//! like an upload's header. The answer carries the text the console shell
//! prints for the same command (its lines end in `\n`), framed by its byte
//! length, since a report has many lines. A request refused by the channel
//! (closed, malformed, wrong key, replayed nonce) is answered with an error of
//! the same framing.
#![forbid(unsafe_code)]

use crate::push_authority::{NONCE_BYTES, PushKey, SIGNATURE_BYTES, decode_hex, encode_hex};
use crate::push_protocol::{HELLO, MAX_HEADER_BYTES, NONCE, PushAccess, PushEvent, RESULT};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// First word of a command request.
pub const MAGIC: &str = "CELLA-COMMAND";
/// The request format's version.
pub const VERSION: &str = "1";
/// First word of the kernel's answer to a command.
pub const COMMAND_RESULT: &str = "CELLA-COMMAND-RESULT";
/// Longest answer text a host accepts (the kernel's reports are far shorter).
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The part of a request the signature covers before the command line.
fn signed_prefix(nonce_hex: &str) -> String {
    format!("{MAGIC} {VERSION} {nonce_hex}\n")
}

/// The request line for command `line` with the nonce the kernel issued,
/// signed with `key`, ending in a newline.
///
/// # Errors
/// The command line is empty, holds a line break or control character, or
/// makes the request longer than the kernel reads.
pub fn request(key: &PushKey, nonce_hex: &str, line: &str) -> Result<String, String> {
    let line = line.trim();
    if line.is_empty() {
        return Err(String::from("the command is empty"));
    }
    if line.chars().any(char::is_control) {
        return Err(String::from(
            "the command holds a line break or another control character",
        ));
    }
    let signature = key.sign(&signed_prefix(nonce_hex), line.as_bytes());
    let request = format!(
        "{MAGIC} {VERSION} {nonce_hex} {} {line}\n",
        encode_hex(&signature)
    );
    if request.len() > MAX_HEADER_BYTES {
        return Err(format!(
            "the command is too long: the request would be {} bytes, the kernel reads at most {MAX_HEADER_BYTES}",
            request.len()
        ));
    }
    Ok(request)
}

/// Reads a command request line (`text`, without its newline) for the
/// receiver holding `access`, whose outstanding nonce was `outstanding`
/// (already used up by this request).
pub(crate) fn read_request(
    text: &str,
    access: &PushAccess,
    outstanding: Option<&str>,
) -> PushEvent {
    let refused = PushEvent::CommandRejected;
    let mut words = text.splitn(5, ' ');
    let (Some(_magic), Some(version), Some(nonce), Some(signature), Some(line)) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return refused(format!(
            "bad command request `{}`: expected `{MAGIC} {VERSION} NONCE SIGNATURE COMMAND` after `{HELLO}`",
            text.chars().take(80).collect::<String>()
        ));
    };
    let key = match access {
        PushAccess::Granted { key, .. } => key,
        PushAccess::Closed(reason) => return refused(reason.clone()),
    };
    if version != VERSION {
        return refused(format!(
            "command request version `{}` is not {VERSION}",
            version.chars().take(20).collect::<String>()
        ));
    }
    let Some(signature) = decode_hex(signature).filter(|bytes| bytes.len() == SIGNATURE_BYTES)
    else {
        return refused(format!(
            "signature `{}` is not {} hex digits",
            signature.chars().take(80).collect::<String>(),
            SIGNATURE_BYTES * 2
        ));
    };
    if nonce.len() != NONCE_BYTES * 2 || outstanding != Some(nonce) {
        return refused(format!(
            "nonce `{}` was not issued for this command or was used already (a replayed command?); ask with `{HELLO}` first",
            nonce.chars().take(40).collect::<String>()
        ));
    }
    if !key.verify(&signed_prefix(nonce), line.as_bytes(), &signature) {
        return refused(String::from(
            "authentication failed: the command was not signed with this system's push key, or changed in transit",
        ));
    }
    PushEvent::Command {
        line: line.to_string(),
    }
}

/// The answer's first line, with its newline: `ok` or `error` and the byte
/// length of `text`, which follows it as is.
pub fn answer_header(accepted: bool, text: &str) -> String {
    let word = if accepted { "ok" } else { "error" };
    format!("{COMMAND_RESULT} {word} {}\n", text.len())
}

/// What the kernel said on the channel, as the host reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A nonce for the next request.
    Nonce(String),
    /// The answer to a command: whether it succeeded, and its text.
    Answer { accepted: bool, text: String },
}

#[derive(Debug)]
enum ReadState {
    Line(Vec<u8>),
    Text {
        accepted: bool,
        expected: usize,
        text: Vec<u8>,
    },
}

/// Turns the bytes the host receives into [`Reply`]s: nonce lines, framed
/// command answers and the one-line refusals of the push channel
/// (`CELLA-PUSH-RESULT error TEXT`, for a request too malformed to be read
/// as a command). Other lines are skipped; `\r` before a line's newline is
/// dropped.
#[derive(Debug)]
pub struct ReplyReader {
    state: ReadState,
}

impl Default for ReplyReader {
    fn default() -> Self {
        ReplyReader {
            state: ReadState::Line(Vec::new()),
        }
    }
}

impl ReplyReader {
    /// Takes one byte; returns a reply once one is complete, or why the
    /// answer cannot be read.
    ///
    /// # Errors
    /// An answer header whose length is not a number or exceeds
    /// [`MAX_ANSWER_BYTES`], or answer text that is not UTF-8.
    pub fn feed(&mut self, byte: u8) -> Result<Option<Reply>, String> {
        match &mut self.state {
            ReadState::Line(line) => {
                if byte != b'\n' {
                    if line.len() < MAX_HEADER_BYTES * 4 {
                        line.push(byte);
                    }
                    return Ok(None);
                }
                let line = core::mem::take(line);
                self.line(&line)
            }
            ReadState::Text { text, expected, .. } => {
                text.push(byte);
                if text.len() < *expected {
                    return Ok(None);
                }
                let ReadState::Text { accepted, text, .. } =
                    core::mem::replace(&mut self.state, ReadState::Line(Vec::new()))
                else {
                    return Ok(None);
                };
                finish(accepted, text).map(Some)
            }
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, String> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        if let Some(nonce) = text
            .strip_prefix(NONCE)
            .and_then(|rest| rest.strip_prefix(' '))
        {
            return Ok(Some(Reply::Nonce(nonce.trim().to_string())));
        }
        if let Some(rest) = text
            .strip_prefix(RESULT)
            .and_then(|rest| rest.strip_prefix(' '))
        {
            let (word, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            return Ok(Some(Reply::Answer {
                accepted: word == "ok",
                text: format!("error: {reason}\n"),
            }));
        }
        let Some(rest) = text
            .strip_prefix(COMMAND_RESULT)
            .and_then(|rest| rest.strip_prefix(' '))
        else {
            return Ok(None);
        };
        let (word, length) = rest.split_once(' ').unwrap_or((rest, ""));
        let accepted = match word {
            "ok" => true,
            "error" => false,
            other => {
                return Err(format!(
                    "the kernel's answer says `{other}`, not ok or error"
                ));
            }
        };
        let expected = length
            .parse::<usize>()
            .map_err(|_| format!("the kernel's answer length `{length}` is not a number"))?;
        if expected > MAX_ANSWER_BYTES {
            return Err(format!(
                "the kernel's answer of {expected} bytes exceeds the limit of {MAX_ANSWER_BYTES}"
            ));
        }
        if expected == 0 {
            return finish(accepted, Vec::new()).map(Some);
        }
        self.state = ReadState::Text {
            accepted,
            expected,
            text: Vec::with_capacity(expected),
        };
        Ok(None)
    }
}

fn finish(accepted: bool, text: Vec<u8>) -> Result<Reply, String> {
    let text =
        String::from_utf8(text).map_err(|_| String::from("the kernel's answer is not UTF-8"))?;
    Ok(Reply::Answer { accepted, text })
}

#[cfg(test)]
mod tests;
