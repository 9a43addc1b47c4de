//! Messages: sending to a granted endpoint, reading the message being
//! handled, and replying to a request.

use crate::error::{ErrorCode, Result, status, value32};
use crate::handle::{FromHandle, Handle};
use crate::sys;
use cella_abi::MAX_MESSAGE_BYTES;
use cella_interfaces::wire::WireError;

/// A granted endpoint this module may send to (manifest line
/// `endpoint NAME`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    handle: Handle,
}

impl FromHandle for Endpoint {
    fn from_handle(handle: Handle) -> Endpoint {
        Endpoint { handle }
    }
}

impl Endpoint {
    /// The capability handle.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Sends `message` (at most [`cella_abi::MAX_MESSAGE_BYTES`] bytes).
    ///
    /// # Errors
    /// [`ErrorCode::Busy`] when the receiver cannot take it now (keep it and
    /// try again later), [`ErrorCode::BadArgument`] when it is too long, or
    /// another refusal.
    pub fn send(&self, message: &[u8]) -> Result<()> {
        status(sys::ipc_send(
            self.handle.raw(),
            sys::pointer(message),
            sys::length(message),
        ))
    }
}

/// The message an `on_message` event delivers. Read it with
/// [`Message::read`]; answer a request with [`Message::reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    request: u32,
    length: u32,
}

impl Message {
    /// The message the host announced with `on_message(request, length)`.
    pub fn new(request: i32, length: i32) -> Message {
        Message {
            // The host passes request ids and lengths as unsigned 32 bits.
            request: request as u32,
            length: length.max(0) as u32,
        }
    }

    /// The host's id of the request (0 for a message with no reply): with
    /// [`Message::len`], what [`Message::new`] rebuilds the message from,
    /// for instance in the next version of a module after a hot swap.
    pub fn request_id(&self) -> u32 {
        self.request
    }

    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        self.length as usize
    }

    /// True for an empty message.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The DMA buffer the caller lent with this request
    /// (`Endpoint::call_lending`) with at least `access`, held until the
    /// request is answered.
    ///
    /// # Errors
    /// [`ErrorCode::NotFound`] when the request carries no loan, or
    /// (asking [`crate::Lend::ReadWrite`]) one lent read-only;
    /// [`ErrorCode::BadArgument`] when it is not pending (answered already,
    /// or a plain message).
    pub fn loan(&self, access: crate::Lend) -> Result<crate::dma::LentBuffer> {
        let access = match access {
            crate::Lend::ReadOnly => cella_abi::LEND_READ_ONLY,
            crate::Lend::ReadWrite => cella_abi::LEND_READ_WRITE,
        };
        let raw = value32(sys::ipc_loan(self.request as i32, access))?;
        // `raw` came from a non-negative i32.
        crate::dma::LentBuffer::from_handle(Handle::from_raw(raw as i32))
    }

    /// Whether the sender waits for a reply.
    pub fn is_request(&self) -> bool {
        self.request != 0
    }

    /// Copies the message into `buffer` and returns the part that fits.
    /// A buffer of [`cella_abi::MAX_MESSAGE_BYTES`] always holds all of it.
    ///
    /// # Errors
    /// The host's refusal (for example [`ErrorCode::NoMessage`] outside
    /// `on_message`).
    pub fn read<'b>(&self, buffer: &'b mut [u8]) -> Result<&'b [u8]> {
        let length = value32(sys::ipc_receive_into(buffer))? as usize;
        buffer
            .get(..length.min(buffer.len()))
            .ok_or(ErrorCode::BadArgument)
    }

    /// Answers the request through a typed interface: `serve` is the
    /// interface's `serve` (see [`crate::interfaces`]) over the request's
    /// bytes and a reply buffer. A message that is not a request of the
    /// interface is logged and answered with an empty reply, which no
    /// client decodes as an answer; a message nobody waits for is read and
    /// dropped.
    ///
    /// ```ignore
    /// fn on_message(&mut self, message: Message) -> Result<()> {
    ///     message.answer(|request, reply| rtc::serve(self, request, reply))
    /// }
    /// ```
    ///
    /// # Errors
    /// The host's refusal to hand over the message or take the reply.
    pub fn answer(
        &self,
        serve: impl FnOnce(&[u8], &mut [u8]) -> core::result::Result<usize, WireError>,
    ) -> Result<()> {
        let mut request = [0; MAX_MESSAGE_BYTES as usize];
        let request = self.read(&mut request)?;
        if !self.is_request() {
            return Ok(());
        }
        let mut reply = [0; MAX_MESSAGE_BYTES as usize];
        match serve(request, &mut reply) {
            Ok(length) => self.reply(&reply[..length.min(reply.len())]),
            Err(error) => {
                crate::warn!("a request of {} bytes not answered: {error}", request.len());
                self.reply(&[])
            }
        }
    }

    /// Hands a message of a one-way interface (one whose operations are
    /// sent, not called: `uart`, `console`) to `serve`, the interface's
    /// `serve` over the message's bytes and a reply buffer:
    ///
    /// ```ignore
    /// fn on_message(&mut self, message: Message) -> Result<()> {
    ///     message.accept(|request, reply| uart::serve(self, request, reply))
    /// }
    /// ```
    ///
    /// A message that is not one of the interface's (an unknown operation,
    /// bytes cut short or left over) is refused: logged with its length and
    /// what is wrong with it, and dropped; the module goes on serving. A
    /// sender that called instead of sending is answered with the empty
    /// answer, once its message was served or refused.
    ///
    /// # Errors
    /// The host's refusal to hand over the message or take the answer.
    pub fn accept(
        &self,
        serve: impl FnOnce(&[u8], &mut [u8]) -> core::result::Result<usize, WireError>,
    ) -> Result<()> {
        let mut request = [0; MAX_MESSAGE_BYTES as usize];
        let request = self.read(&mut request)?;
        if let Err(error) = serve(request, &mut []) {
            crate::warn!(
                "a message of {} bytes refused ({}): {error}",
                request.len(),
                Start(request)
            );
        }
        if self.is_request() {
            self.reply(&[])?;
        }
        Ok(())
    }

    /// Answers the request with `reply`.
    ///
    /// # Errors
    /// [`ErrorCode::BadArgument`] if this message is not a request (or was
    /// answered already), or another refusal.
    pub fn reply(&self, reply: &[u8]) -> Result<()> {
        if !self.is_request() {
            return Err(ErrorCode::BadArgument);
        }
        status(sys::ipc_reply(
            self.request as i32,
            sys::pointer(reply),
            sys::length(reply),
        ))
    }
}

/// The first bytes of a message as a person reads them: `starts "hello"`,
/// bytes that are not printable ASCII escaped (`\x00`).
struct Start<'a>(&'a [u8]);

/// Bytes of a refused message shown in its warning.
const START_BYTES: usize = 16;

impl core::fmt::Display for Start<'_> {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str("starts \"")?;
        for &byte in self.0.iter().take(START_BYTES) {
            write!(out, "{}", core::ascii::escape_default(byte))?;
        }
        out.write_str("\"")
    }
}
