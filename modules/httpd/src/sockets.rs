//! What the server needs of the `sockets` endpoint, as a trait: the Wasm
//! module implements it with calls to `netstack` ([`SocketsEndpoint`]),
//! the host tests with in-memory connections.

use cella_sdk::ErrorCode;
use cella_sdk::interfaces::sockets::{self, Handle, MAX_TRANSFER_BYTES, SocketError};
use cella_sdk::interfaces::wire::WireError;
use core::fmt;

/// Why a call to `sockets` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server's answer.
    Socket(SocketError),
    /// The call itself failed (the server is not running, did not answer).
    Call(ErrorCode),
    /// A request or answer did not encode or decode.
    Wire(WireError),
}

impl fmt::Display for Failure {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Socket(error) => write!(out, "{error}"),
            Failure::Call(error) => write!(out, "the call to `sockets` failed: {error}"),
            Failure::Wire(error) => write!(out, "an answer of `sockets` made no sense: {error}"),
        }
    }
}

impl From<SocketError> for Failure {
    fn from(error: SocketError) -> Failure {
        Failure::Socket(error)
    }
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Failure {
        Failure::Wire(error)
    }
}

impl From<ErrorCode> for Failure {
    fn from(error: ErrorCode) -> Failure {
        Failure::Call(error)
    }
}

/// Bytes that arrived on a connection: how many were written, and whether
/// the peer closed its side after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrived {
    pub length: usize,
    pub end: bool,
}

/// The TCP operations the server uses; nothing waits.
pub trait Sockets {
    /// A listener on `port`.
    fn listen(&mut self, port: u16) -> Result<Handle, Failure>;
    /// The oldest connection waiting on `listener`, or none.
    fn accept(&mut self, listener: Handle) -> Result<Option<Handle>, Failure>;
    /// Offers `bytes` (1 to [`MAX_TRANSFER_BYTES`]); answers how many the
    /// connection took (maybe none).
    fn send(&mut self, socket: Handle, bytes: &[u8]) -> Result<usize, Failure>;
    /// Bytes that arrived, written into `buffer` (at most
    /// [`MAX_TRANSFER_BYTES`]).
    fn receive(&mut self, socket: Handle, buffer: &mut [u8]) -> Result<Arrived, Failure>;
    /// Ends the socket; a failure is of no use to the caller.
    fn close(&mut self, socket: Handle);
}

/// One call to the `sockets` endpoint, answered.
pub trait Caller {
    /// Sends `request` and returns the answer's part of `reply`.
    ///
    /// # Errors
    /// The call's failure.
    fn call<'r>(&self, request: &[u8], reply: &'r mut [u8]) -> Result<&'r [u8], ErrorCode>;
}

/// The request and answer buffers: one message.
const MESSAGE: usize = cella_sdk::MAX_MESSAGE_BYTES as usize;

/// [`Sockets`] over a [`Caller`] of the `sockets` endpoint.
pub struct SocketsEndpoint<C> {
    caller: C,
    request: [u8; MESSAGE],
    reply: [u8; MESSAGE],
}

impl<C: Caller> SocketsEndpoint<C> {
    pub fn new(caller: C) -> Self {
        SocketsEndpoint {
            caller,
            request: [0; MESSAGE],
            reply: [0; MESSAGE],
        }
    }
}

impl<C: Caller> Sockets for SocketsEndpoint<C> {
    fn listen(&mut self, port: u16) -> Result<Handle, Failure> {
        let length = sockets::listen::request(&mut self.request, port)?;
        let answer = self.caller.call(&self.request[..length], &mut self.reply)?;
        Ok(sockets::listen::reply(answer)??)
    }

    fn accept(&mut self, listener: Handle) -> Result<Option<Handle>, Failure> {
        let length = sockets::accept::request(&mut self.request, listener)?;
        let answer = self.caller.call(&self.request[..length], &mut self.reply)?;
        Ok(sockets::accept::reply(answer)??)
    }

    fn send(&mut self, socket: Handle, bytes: &[u8]) -> Result<usize, Failure> {
        let bytes = &bytes[..bytes.len().min(MAX_TRANSFER_BYTES)];
        let length = sockets::send::request(&mut self.request, socket, bytes)?;
        let answer = self.caller.call(&self.request[..length], &mut self.reply)?;
        let sent = sockets::send::reply(answer)??;
        Ok((sent.length as usize).min(bytes.len()))
    }

    fn receive(&mut self, socket: Handle, buffer: &mut [u8]) -> Result<Arrived, Failure> {
        let max = buffer.len().min(MAX_TRANSFER_BYTES);
        if max == 0 {
            return Ok(Arrived {
                length: 0,
                end: false,
            });
        }
        let length = sockets::receive::request(&mut self.request, socket, max as u32)?;
        let answer = self.caller.call(&self.request[..length], &mut self.reply)?;
        let received = sockets::receive::reply(answer)??;
        let length = received.bytes.len().min(max);
        buffer[..length].copy_from_slice(&received.bytes[..length]);
        Ok(Arrived {
            length,
            end: received.end,
        })
    }

    fn close(&mut self, socket: Handle) {
        if let Ok(length) = sockets::close::request(&mut self.request, socket) {
            let _ = self.caller.call(&self.request[..length], &mut self.reply);
        }
    }
}
