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

use crate::wire::{Reader, Wire, WireError};
use core::fmt;

/// The shortest frame: the Ethernet header (destination, source, type).
pub const MIN_FRAME_BYTES: usize = 14;
/// The longest frame: the header and a 1,500-byte payload.
pub const MAX_FRAME_BYTES: usize = 1514;
/// The longest a `receive` may wait for a frame.
pub const MAX_WAIT_MS: u32 = 10_000;

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
    pub fn frames(&self) -> impl Iterator<Item = Result<&'a [u8], WireError>> + 'a {
        let mut reader = Reader::new(self.frames);
        let mut left = self.count;
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
}

#[cfg(test)]
mod tests;
