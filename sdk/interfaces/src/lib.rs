//! cella-interfaces: Cella's system protocols, each described once as a typed interface, with the client and server stubs made from that description.
//!
//! An interface is a module written with [`interface!`]: the endpoint that
//! serves it and its operations, each with typed arguments, a typed answer
//! and whether it is `idempotent` (a request that may be replayed to a
//! restarted or swapped server without changing what happens) or `once`
//! (one that must not be). From that one description come:
//!
//! - a `Server` trait with one method per operation, and `serve`, which
//!   decodes a request, calls the method and encodes its answer;
//! - for each operation a module of the same name with `request` (encodes
//!   a call's bytes) and `reply` (decodes its answer), for clients;
//! - `OPERATIONS` (names, idempotence and whether the operation is
//!   answered), `idempotent(request)`,
//!   `request_from_text` and `render_reply`, with which a person calls an
//!   operation from the shell (`call rtc time`) and reads its answer.
//!
//! A request is the operation's name, then, if it has arguments, a zero
//! byte and the arguments in their [`wire`] form; so an operation without
//! arguments is called by sending its name. An answer is the operation's
//! answer type in its wire form; most are a `Result` of a value or the
//! interface's error enum. An operation without an answer type is
//! one-way: a stream of messages the sender does not wait on (`uart`'s
//! `write`, `console`'s `input`), served by the same `serve`.
//!
//! # Design principles
//! - One description: client, server, replay rule and shell all read the
//!   same declaration, as Hubris's Idol files are read by its stubs.
//! - No allocation and no `unsafe`: usable in Wasm drivers, native processes
//!   and the kernel alike.
//! - Closed sets: every error an operation can answer is a variant of its
//!   interface's error enum, encoded as one byte.
#![no_std]
#![forbid(unsafe_code)]

pub mod block;
pub mod console;
pub mod fs;
pub mod net;
pub mod pci;
pub mod rtc;
pub mod sockets;
pub mod supervisor;
pub mod uart;
pub mod wire;

mod macros;

use core::fmt;
use wire::{Reader, WireError};

/// One operation of an interface, as its description names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Its name, which is also the first bytes of each request.
    pub name: &'static str,
    /// Whether a request may be replayed to a restarted or swapped server.
    pub idempotent: bool,
    /// Whether the server answers it: `false` for a one-way operation,
    /// which is sent and not waited for.
    pub answers: bool,
}

/// Splits a request into the operation's name and a reader of its
/// arguments (empty if the request has none).
pub fn split_request(request: &[u8]) -> (&[u8], Reader<'_>) {
    match request.iter().position(|&byte| byte == 0) {
        Some(at) => (&request[..at], Reader::new(&request[at + 1..])),
        None => (request, Reader::new(&[])),
    }
}

/// An interface's `render_reply`.
type RenderReply = fn(&[u8], &[u8], &mut dyn fmt::Write) -> Result<(), WireError>;

/// Every endpoint with a typed interface, with the functions the shell's
/// `call` uses for it.
struct Known {
    endpoint: &'static str,
    operations: &'static [Operation],
    idempotent: fn(&[u8]) -> Option<bool>,
    request_from_text: fn(&str, &mut [u8]) -> Result<usize, WireError>,
    render_reply: RenderReply,
}

const KNOWN: [Known; 9] = [
    Known {
        endpoint: rtc::ENDPOINT,
        operations: rtc::OPERATIONS,
        idempotent: rtc::idempotent,
        request_from_text: rtc::request_from_text,
        render_reply: rtc::render_reply,
    },
    Known {
        endpoint: pci::ENDPOINT,
        operations: pci::OPERATIONS,
        idempotent: pci::idempotent,
        request_from_text: pci::request_from_text,
        render_reply: pci::render_reply,
    },
    Known {
        endpoint: block::ENDPOINT,
        operations: block::OPERATIONS,
        idempotent: block::idempotent,
        request_from_text: block::request_from_text,
        render_reply: block::render_reply,
    },
    Known {
        endpoint: fs::ENDPOINT,
        operations: fs::OPERATIONS,
        idempotent: fs::idempotent,
        request_from_text: fs::request_from_text,
        render_reply: fs::render_reply,
    },
    Known {
        endpoint: net::ENDPOINT,
        operations: net::OPERATIONS,
        idempotent: net::idempotent,
        request_from_text: net::request_from_text,
        render_reply: net::render_reply,
    },
    Known {
        endpoint: sockets::ENDPOINT,
        operations: sockets::OPERATIONS,
        idempotent: sockets::idempotent,
        request_from_text: sockets::request_from_text,
        render_reply: sockets::render_reply,
    },
    Known {
        endpoint: supervisor::ENDPOINT,
        operations: supervisor::OPERATIONS,
        idempotent: supervisor::idempotent,
        request_from_text: supervisor::request_from_text,
        render_reply: supervisor::render_reply,
    },
    Known {
        endpoint: uart::ENDPOINT,
        operations: uart::OPERATIONS,
        idempotent: uart::idempotent,
        request_from_text: uart::request_from_text,
        render_reply: uart::render_reply,
    },
    Known {
        endpoint: console::ENDPOINT,
        operations: console::OPERATIONS,
        idempotent: console::idempotent,
        request_from_text: console::request_from_text,
        render_reply: console::render_reply,
    },
];

fn known(endpoint: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|known| known.endpoint == endpoint)
}

/// The operations of `endpoint`'s typed interface, if it has one.
pub fn operations(endpoint: &str) -> Option<&'static [Operation]> {
    known(endpoint).map(|known| known.operations)
}

/// Whether `request` to `endpoint` may be replayed: `None` if the endpoint
/// has no typed interface or the request names none of its operations.
pub fn idempotent(endpoint: &str, request: &[u8]) -> Option<bool> {
    known(endpoint).and_then(|known| (known.idempotent)(request))
}

/// Encodes the line a person typed (`OPERATION ARGUMENTS`) as a request to
/// `endpoint`, if `endpoint` has a typed interface.
///
/// # Errors
/// The operation is unknown, an argument does not read as its type, or the
/// request does not fit `buffer`.
pub fn request_from_text(
    endpoint: &str,
    line: &str,
    buffer: &mut [u8],
) -> Option<Result<usize, WireError>> {
    known(endpoint).map(|known| (known.request_from_text)(line, buffer))
}

/// Writes the answer to `request` as a person reads it, if `endpoint` has a
/// typed interface.
///
/// # Errors
/// The answer is not one the operation gives.
pub fn render_reply(
    endpoint: &str,
    request: &[u8],
    reply: &[u8],
    out: &mut dyn fmt::Write,
) -> Option<Result<(), WireError>> {
    known(endpoint).map(|known| (known.render_reply)(request, reply, out))
}

/// A small text buffer for the tests.
#[cfg(test)]
pub(crate) struct Text {
    bytes: [u8; 256],
    length: usize,
}

#[cfg(test)]
impl Default for Text {
    fn default() -> Self {
        Text {
            bytes: [0; 256],
            length: 0,
        }
    }
}

#[cfg(test)]
impl Text {
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.length]).unwrap()
    }
}

#[cfg(test)]
impl fmt::Write for Text {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.length + text.len();
        self.bytes
            .get_mut(self.length..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(text.as_bytes());
        self.length = end;
        Ok(())
    }
}
