//! Asking a running Cella's supervisor from the host: the host side of
//! `sdk/system/src/command_protocol.rs`, behind `cargo cella ps`, `list`, `caps`, `log`,
//! `trace`, `remove` and `mem`.
//!
//! [`ask`] connects to the run's push channel (COM2, [`crate::runs`]), asks for a nonce,
//! sends one command line signed with the push key and returns the kernel's answer: the text
//! the console shell prints for the same command.

use crate::{Error, Result};
use cella_system::command_protocol::{self, Reply, ReplyReader};
use cella_system::push_authority::PushKey;
use cella_system::push_protocol::HELLO;
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// What the kernel answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Whether the command succeeded.
    pub accepted: bool,
    /// Its text, as the shell prints it (lines ending in `\n`).
    pub text: String,
}

/// Sends command `line` to the system on `socket`, signed with `key`, and waits (up to
/// `timeout` for each read) for its answer.
///
/// # Errors
/// The command cannot be framed, the socket cannot be reached (is `cargo cella run`
/// running?), or no readable answer came.
pub fn ask(socket: &Path, key: &PushKey, line: &str, timeout: Duration) -> Result<Answer> {
    let (mut stream, reader) = crate::push::connect(socket, timeout)?;
    let mut reader = Replies {
        bytes: BufReader::new(reader),
        parser: ReplyReader::default(),
    };
    stream
        .write_all(format!("{HELLO}\n").as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|error| Error::new(format!("asking for a nonce: {error}")))?;
    let nonce = match reader.next()? {
        Reply::Nonce(nonce) => nonce,
        Reply::Answer { accepted, text } => return Ok(Answer { accepted, text }),
    };
    let request = command_protocol::request(key, &nonce, line).map_err(Error::usage)?;
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|error| Error::new(format!("sending the command: {error}")))?;
    match reader.next()? {
        Reply::Answer { accepted, text } => Ok(Answer { accepted, text }),
        Reply::Nonce(_) => Err(Error::new("the kernel sent a nonce instead of its answer")),
    }
}

/// The kernel's replies on a connection.
struct Replies {
    bytes: BufReader<UnixStream>,
    parser: ReplyReader,
}

impl Replies {
    /// The next nonce or answer (other output on the port is skipped).
    fn next(&mut self) -> Result<Reply> {
        let mut byte = [0u8];
        loop {
            let read = self
                .bytes
                .read(&mut byte)
                .map_err(|error| Error::new(format!("no answer from the kernel: {error}")))?;
            if read == 0 {
                return Err(Error::new(
                    "the connection closed before the kernel answered",
                ));
            }
            if let Some(reply) = self.parser.feed(byte[0]).map_err(Error::new)? {
                return Ok(reply);
            }
        }
    }
}

#[cfg(test)]
mod tests;
