//! `sockets`: TCP and UDP over IPv4, served by the `netstack` module.
//!
//! A socket is named by a [`Handle`]: a slot of the server's table and the
//! generation of that slot's use, so a handle closed, of another use of its
//! slot or of an earlier server instance (after a restart, which loses
//! every connection) answers [`SocketError::Stale`].
//!
//! TCP: `listen` makes a listener on a port; `accept` hands over the
//! oldest connection that arrived on it, as a new handle, or none yet.
//! `connect` starts a connection; `state` tells when it is established.
//! `send` takes as many of its bytes as the socket's buffer has room for
//! (maybe none: send the rest again later); `receive` answers the bytes
//! that arrived (none yet, or `end` once the peer closed and every byte was
//! read). UDP: `bind` makes a socket on a port; `send_to` sends one
//! datagram, `receive_from` answers the oldest one that arrived, or none.
//! ICMP echo (ping): `open_echo` makes a socket with an identifier of its
//! own; `send_echo` sends an echo request, `receive_echo` answers the
//! oldest echo reply that arrived for it, or none.
//! Nothing waits: a client asks again.

use crate::wire::{Reader, Wire, WireError, Writer};
use core::fmt;

/// The most bytes one TCP `send` or `receive` moves (a message holds at
/// most 4,096 bytes with the request's other fields).
pub const MAX_TRANSFER_BYTES: usize = 3584;
/// The largest UDP payload: what fits one Ethernet frame's 1,500 bytes
/// with the IPv4 and UDP headers (no fragmentation).
pub const MAX_DATAGRAM_BYTES: usize = 1472;

crate::wire_enum! {
    /// Why a request was not done.
    pub enum SocketError {
        /// A handle whose slot is past the end of the server's table.
        NotFound = 1 => "no such socket",
        /// A handle closed, of another use of its slot, or of an earlier
        /// server instance.
        Stale = 2 => "the handle is stale (closed, or the server restarted)",
        /// Every socket slot is in use.
        NoSockets = 3 => "no sockets left",
        /// Another socket has that port.
        AddressInUse = 4 => "the port is in use",
        /// The peer refused the connection.
        Refused = 5 => "the connection was refused",
        /// The peer reset the connection.
        Reset = 6 => "the connection was reset",
        /// The peer did not answer in time.
        TimedOut = 7 => "the connection timed out",
        /// The socket is not connected (a listener, or a connection closed).
        NotConnected = 8 => "not connected",
        /// A transfer longer than the interface takes.
        TooLong = 9 => "too long",
        /// An argument no request takes (port 0, a transfer of no bytes).
        BadArgument = 10 => "bad argument",
        /// The server has no IPv4 address yet (DHCP has not answered).
        NoAddress = 11 => "no address yet",
        /// A TCP request on a UDP socket or the other way round.
        WrongKind = 12 => "the socket is of the other kind (TCP or UDP)",
        /// The socket's buffer for outgoing datagrams is full.
        Busy = 13 => "the socket's buffer is full; send again later",
        /// No route leads to the address.
        Unreachable = 14 => "no route to the address",
    }
}

crate::wire_enum! {
    /// Where a socket is in its life.
    pub enum SocketState {
        /// A TCP listener waiting for connections.
        Listening = 1 => "listening",
        /// A connection asked for and not yet answered.
        Connecting = 2 => "connecting",
        /// A connection that carries data both ways.
        Established = 3 => "established",
        /// The peer closed its side; what it sent can still be read, and
        /// this side can still send.
        PeerClosed = 4 => "closed by the peer",
        /// The connection ended: refused, reset or timed out.
        Failed = 5 => "failed",
        /// A UDP socket bound to its port.
        Bound = 6 => "bound",
    }
}

crate::wire_enum! {
    /// How the server got its address.
    pub enum Dhcp {
        /// DHCP is asking for an address; there is none yet.
        Discovering = 1 => "discovering",
        /// A DHCP server gave the address.
        Bound = 2 => "bound",
        /// The address was configured, not asked for.
        Static = 3 => "static",
    }
}

/// An IPv4 address; a person writes it `10.0.2.15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ipv4(pub [u8; 4]);

impl fmt::Display for Ipv4 {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(out, "{a}.{b}.{c}.{d}")
    }
}

impl<'a> Wire<'a> for Ipv4 {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        out.put(&self.0)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        let bytes = input.take(4)?;
        Ok(Ipv4([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{self}")
    }

    fn from_text(word: &'a str) -> Option<Self> {
        let mut octets = [0u8; 4];
        let mut parts = word.split('.');
        for octet in &mut octets {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *octet = part.parse().ok()?;
        }
        parts.next().is_none().then_some(Ipv4(octets))
    }
}

/// A socket: the slot of the server's table and the generation that tells
/// this use of the slot from earlier ones. A person writes it as the
/// server shows it, `SLOT.GENERATION` (`3.17`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Handle {
    /// The slot in the server's table.
    pub slot: u32,
    /// The use's generation (server instance and slot use).
    pub generation: u32,
}

impl<'a> Wire<'a> for Handle {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        self.slot.encode(out)?;
        self.generation.encode(out)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        Ok(Handle {
            slot: u32::decode(input)?,
            generation: u32::decode(input)?,
        })
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "{self}")
    }

    fn from_text(word: &'a str) -> Option<Self> {
        let (slot, generation) = word.split_once('.')?;
        Some(Handle {
            slot: u32::from_text(slot)?,
            generation: u32::from_text(generation)?,
        })
    }
}

impl fmt::Display for Handle {
    /// `socket 3.17`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "socket {}.{}", self.slot, self.generation)
    }
}

crate::wire_record! {
    /// Bytes a socket took for sending.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Sent {
        pub length: u32,
    }
}

impl fmt::Display for Sent {
    /// `took 12 bytes`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "took {} bytes", self.length)
    }
}

crate::wire_record! {
    /// Bytes that arrived on a connection; `end` once the peer closed and
    /// every byte it sent was read (then `bytes` is empty).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Received<'a> {
        pub bytes: &'a [u8],
        pub end: bool,
    }
}

impl fmt::Display for Received<'_> {
    /// `12 bytes` or `end of stream`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.end {
            out.write_str("end of stream")
        } else {
            write!(out, "{} bytes", self.bytes.len())
        }
    }
}

crate::wire_record! {
    /// A datagram that arrived, with where it came from.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Datagram<'a> {
        pub address: Ipv4,
        pub port: u16,
        pub bytes: &'a [u8],
    }
}

impl fmt::Display for Datagram<'_> {
    /// `12 bytes from 10.0.2.2:53`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} bytes from {}:{}",
            self.bytes.len(),
            self.address,
            self.port
        )
    }
}

crate::wire_record! {
    /// An ICMP echo reply that arrived: who answered, the sequence number
    /// of the request it answers and the request's payload, sent back.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct EchoReply<'a> {
        pub address: Ipv4,
        pub sequence: u16,
        pub bytes: &'a [u8],
    }
}

impl fmt::Display for EchoReply<'_> {
    /// `56 bytes from 10.0.2.2, sequence 1`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} bytes from {}, sequence {}",
            self.bytes.len(),
            self.address,
            self.sequence
        )
    }
}

crate::wire_record! {
    /// The server's IPv4 configuration. With [`Dhcp::Discovering`] there
    /// is no address yet and the fields are zero.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Configuration {
        pub address: Ipv4,
        /// The network prefix's length in bits.
        pub prefix: u8,
        /// The default router (`0.0.0.0`: none).
        pub gateway: Ipv4,
        pub dhcp: Dhcp,
    }
}

impl fmt::Display for Configuration {
    /// `10.0.2.15/24, gateway 10.0.2.2, by DHCP` or `no address yet
    /// (DHCP discovering)`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dhcp == Dhcp::Discovering {
            return out.write_str("no address yet (DHCP discovering)");
        }
        write!(out, "{}/{}", self.address, self.prefix)?;
        if self.gateway == Ipv4::default() {
            out.write_str(", no gateway")?;
        } else {
            write!(out, ", gateway {}", self.gateway)?;
        }
        match self.dhcp {
            Dhcp::Static => out.write_str(", static"),
            _ => out.write_str(", by DHCP"),
        }
    }
}

crate::interface! {
    endpoint "sockets";
    /// A TCP listener on `port` (1 to 65,535).
    once fn listen(port: u16) -> Result<Handle, SocketError>;
    /// The oldest connection that arrived on `listener`, as a new socket,
    /// or none yet.
    once fn accept(listener: Handle) -> Result<Option<Handle>, SocketError>;
    /// Starts a TCP connection to `address`:`port`; `state` says when it
    /// is established or failed.
    once fn connect(address: Ipv4, port: u16) -> Result<Handle, SocketError>;
    /// Takes up to all of `bytes` (1 to [`MAX_TRANSFER_BYTES`]) for
    /// sending on a connection; answers how many it took.
    once fn send(socket: Handle, bytes: &[u8]) -> Result<Sent, SocketError>;
    /// Up to `max` bytes (1 to [`MAX_TRANSFER_BYTES`]) that arrived on a
    /// connection.
    once fn receive(socket: Handle, max: u32) -> Result<Received<'_>, SocketError>;
    /// Where the socket is in its life.
    idempotent fn state(socket: Handle) -> Result<SocketState, SocketError>;
    /// Closes the socket (a connection sends what it holds, then ends);
    /// the handle ends.
    once fn close(socket: Handle) -> Result<(), SocketError>;
    /// A UDP socket on `port` (0: a free port of the server's choice).
    once fn bind(port: u16) -> Result<Handle, SocketError>;
    /// Sends `bytes` (at most [`MAX_DATAGRAM_BYTES`]) as one datagram to
    /// `address`:`port`.
    once fn send_to(socket: Handle, address: Ipv4, port: u16, bytes: &[u8]) -> Result<Sent, SocketError>;
    /// The oldest datagram that arrived on a UDP socket, or none.
    once fn receive_from(socket: Handle) -> Result<Option<Datagram<'_>>, SocketError>;
    /// The server's IPv4 address, prefix, gateway and how it got them.
    idempotent fn address() -> Result<Configuration, SocketError>;
    /// An ICMP echo socket, with an echo identifier of its own.
    once fn open_echo() -> Result<Handle, SocketError>;
    /// Sends an ICMP echo request carrying `bytes` (at most
    /// [`MAX_ECHO_BYTES`]) with `sequence` to `address`.
    once fn send_echo(socket: Handle, address: Ipv4, sequence: u16, bytes: &[u8]) -> Result<Sent, SocketError>;
    /// The oldest echo reply that arrived on an echo socket, or none.
    once fn receive_echo(socket: Handle) -> Result<Option<EchoReply<'_>>, SocketError>;
}

/// The most payload bytes of one echo request: a datagram's room less
/// the ICMP header's 8 bytes.
pub const MAX_ECHO_BYTES: usize = MAX_DATAGRAM_BYTES - 8;

#[cfg(test)]
mod tests;
