//! Asking a running Cella's supervisor from the host: the host side of
//! `sdk/system/src/command_protocol.rs`, behind `cargo cella ps`, `list`, `caps`, `log`,
//! `trace`, `remove` and `mem`.
//!
//! [`ask`] connects to the run's push channel (COM2, [`crate::runs`]), asks for a nonce,
//! sends one command line signed with the push key and returns the kernel's answer: the text
//! the console shell prints for the same command.

use crate::push::{Answer, Reply, exchange};
use crate::{Error, Result};
use cella_system::command_protocol::{self, ReplyReader};
use cella_system::push_authority::PushKey;
use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Sends command `line` to the system on `socket`, signed with `key`, and waits (up to
/// `timeout` for each read) for its answer.
///
/// # Errors
/// The command cannot be framed, the socket cannot be reached (is `cargo cella run`
/// running?), or no readable answer came.
pub fn ask(socket: &Path, key: &PushKey, line: &str, timeout: Duration) -> Result<Answer> {
    let request = |nonce: &str| {
        command_protocol::request(key, nonce, line)
            .map(String::into_bytes)
            .map_err(Error::usage)
    };
    let mut parser = ReplyReader::default();
    exchange(socket, timeout, "the command", request, |reader| {
        next_reply(reader, &mut parser)
    })
}

/// The kernel's next nonce or framed answer on the connection (other output on the port is
/// skipped).
fn next_reply(bytes: &mut BufReader<UnixStream>, parser: &mut ReplyReader) -> Result<Reply> {
    let mut byte = [0u8];
    loop {
        let read = bytes
            .read(&mut byte)
            .map_err(|error| Error::new(format!("no answer from the kernel: {error}")))?;
        if read == 0 {
            return Err(Error::new(
                "the connection closed before the kernel answered",
            ));
        }
        match parser.feed(byte[0]).map_err(Error::new)? {
            Some(command_protocol::Reply::Nonce(nonce)) => return Ok(Reply::Nonce(nonce)),
            Some(command_protocol::Reply::Answer { accepted, text }) => {
                return Ok(Reply::Answer(Answer { accepted, text }));
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests;
