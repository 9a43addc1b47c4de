//! `net`: an Ethernet link, served by the `virtio-net` driver.
//!
//! A frame is an Ethernet frame from its destination address to the end of
//! its payload (no preamble, no frame check sequence): at least
//! [`MIN_FRAME_BYTES`] (its header) and at most [`MAX_FRAME_BYTES`].
//! `send` carries one frame. `receive` answers with the frames that have
//! arrived, oldest first, as many whole ones as fit one answer; with
//! `wait_ms` above zero, a `receive` that finds none is answered when one
//! arrives or when that long has passed (with none), so a TCP/IP server
//! waits for traffic without polling. Frames that arrive while no one
//! takes them wait in the driver up to its limit; past it the oldest are
//! dropped and counted, and the next answer says how many.
//!
//! `receive_lent` is `receive` with the frames written into a buffer the
//! caller lends read-write with the request (`call_lending`) instead of
//! into the answer: as many as fit the buffer (up to [`MAX_LENT_BYTES`],
//! some forty full-size frames against the answer's two), in the same form
//! as [`Frames::frames`], and the answer says how many and how many bytes
//! ([`Lent`]). The device keeps writing into the driver's own receive
//! buffers: a virtio device owns a posted buffer until it fills it, which
//! no wait's end can take back, so a frame is copied once from there into
//! the lent buffer, and no message carries it.

use crate::wire::{Reader, Wire, WireError};
use core::fmt;

/// The shortest frame: the Ethernet header (destination, source, type).
pub const MIN_FRAME_BYTES: usize = 14;
/// The longest frame: the header and a 1,500-byte payload.
pub const MAX_FRAME_BYTES: usize = 1514;
/// The longest a `receive` may wait for a frame.
pub const MAX_WAIT_MS: u32 = 10_000;
/// The most bytes of frames one `receive_lent` writes, whatever the size of
/// the buffer lent.
pub const MAX_LENT_BYTES: usize = 65536;

crate::wire_record! {
    /// The link as the driver sees it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Info {
        /// The interface's MAC address.
        pub mac: [u8; 6],
        /// The largest payload a frame carries.
        pub mtu: u16,
        /// Whether the link is up.
        pub link_up: bool,
    }
}

/// A MAC address as people write it: `52:54:00:12:34:56`.
pub struct MacText(pub [u8; 6]);

impl fmt::Display for MacText {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, f] = self.0;
        write!(out, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
    }
}

impl fmt::Display for Info {
    /// `52:54:00:12:34:56, MTU 1500, link up`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{}, MTU {}, link {}",
            MacText(self.mac),
            self.mtu,
            if self.link_up { "up" } else { "down" }
        )
    }
}

crate::wire_enum! {
    /// Why a request was not done.
    pub enum NetError {
        /// A frame shorter than its header or longer than [`MAX_FRAME_BYTES`].
        BadLength = 1 => "a frame shorter than 14 bytes or longer than 1514",
        /// The transmit queue is full.
        Busy = 2 => "the transmit queue is full; send again later",
        /// The link is down.
        LinkDown = 3 => "the link is down",
        /// The device reported an error, or its answer made no sense.
        DeviceError = 4 => "the device reported an error",
        /// A `receive` waiting longer than [`MAX_WAIT_MS`].
        BadArgument = 5 => "bad argument",
        /// Another `receive` is already waiting for frames.
        AlreadyWaiting = 6 => "another receive is already waiting",
        /// A `receive_lent` came with no buffer lent read-write.
        NoLoan = 7 => "no buffer lent read-write with the request",
    }
}

crate::wire_record! {
    /// A frame taken for sending.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Sent {
        /// Its length in bytes.
        pub length: u16,
    }
}

impl fmt::Display for Sent {
    /// `sent 60 bytes`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "sent {} bytes", self.length)
    }
}

crate::wire_record! {
    /// Frames that arrived.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Frames<'a> {
        /// How many frames `frames` holds.
        pub count: u16,
        /// Frames dropped since the last answer because too many waited.
        pub dropped: u32,
        /// The frames, each in its wire form (a length, then its bytes).
        pub frames: &'a [u8],
    }
}

impl<'a> Frames<'a> {
    /// The frames, decoded; one that does not decode ends them with its
    /// error.
    pub fn frames(&self) -> impl Iterator<Item = Result<&'a [u8], WireError>> + use<'a> {
        unpack(self.count, self.frames)
    }
}

/// The `count` frames packed in `packed` (each in its wire form), decoded;
/// one that does not decode ends them with its error.
fn unpack(count: u16, packed: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    let mut reader = Reader::new(packed);
    let mut left = count;
    core::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let frame = <&[u8]>::decode(&mut reader);
        if frame.is_err() {
            left = 0;
        }
        Some(frame)
    })
}

impl fmt::Display for Frames<'_> {
    /// `2 frames (60 and 342 bytes), 0 dropped`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "{} frames", self.count)?;
        for (index, frame) in self.frames().enumerate() {
            out.write_str(if index == 0 { " (" } else { ", " })?;
            match frame {
                Ok(frame) => write!(out, "{} bytes", frame.len())?,
                Err(error) => write!(out, "one does not decode: {error}")?,
            }
        }
        if self.count > 0 {
            out.write_str(")")?;
        }
        write!(out, ", {} dropped", self.dropped)
    }
}

crate::wire_record! {
    /// Frames that arrived, written into the buffer lent with a
    /// `receive_lent`: `bytes` bytes from its start, in the form of
    /// [`Frames::frames`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Lent {
        /// How many frames the buffer holds.
        pub count: u16,
        /// Frames dropped since the last answer because too many waited.
        pub dropped: u32,
        /// The bytes written, from the buffer's start.
        pub bytes: u32,
    }
}

impl Lent {
    /// The frames among `written` (the first [`Lent::bytes`] of the
    /// buffer), decoded as [`Frames::frames`] decodes them.
    pub fn frames<'a>(
        &self,
        written: &'a [u8],
    ) -> impl Iterator<Item = Result<&'a [u8], WireError>> + use<'a> {
        unpack(self.count, written)
    }
}

impl fmt::Display for Lent {
    /// `3 frames in 1542 bytes of the lent buffer, 0 dropped`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} frames in {} bytes of the lent buffer, {} dropped",
            self.count, self.bytes, self.dropped
        )
    }
}

crate::interface! {
    endpoint "net";
    /// The MAC address, MTU and link state.
    idempotent fn info() -> Result<Info, NetError>;
    /// Sends one frame.
    once fn send(frame: &[u8]) -> Result<Sent, NetError>;
    /// The frames that arrived; waits up to `wait_ms` (at most
    /// [`MAX_WAIT_MS`]) for one if none has. Replayed to a restarted
    /// driver, it answers with what that one received.
    idempotent fn receive(wait_ms: u32) -> Result<Frames<'_>, NetError>;
    /// As `receive`, the frames written into the buffer lent read-write
    /// with the request, as many as fit it (at most [`MAX_LENT_BYTES`]).
    idempotent fn receive_lent(wait_ms: u32) -> Result<Lent, NetError>;
}

#[cfg(test)]
mod tests;
