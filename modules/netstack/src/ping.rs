//! ICMP echo sockets (ping): each has an echo identifier of its own, so
//! the replies to its requests come back to it and to no other socket.
//! The client chooses the sequence numbers and the payload; a reply is
//! handed over as it arrived, and the client matches it to its request.

use crate::limits::{MAX_SOCKETS, UDP_BUFFER_BYTES, UDP_DATAGRAMS};
use crate::link::Link;
use crate::server::peer;
use crate::stack::Stack;
use crate::table::Kind;
use alloc::vec;
use cella_sdk::interfaces::sockets::{EchoReply, Handle, Ipv4, MAX_ECHO_BYTES, Sent, SocketError};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};

/// The echo identifier of the socket in `slot` with `generation`: the
/// slot's use and the instance's epoch above the slot, so no two live
/// echo sockets share one and a new instance's differ from the last's.
fn identifier(slot: usize, generation: u32) -> u16 {
    let uses_and_epoch = (generation ^ (generation >> 16)) as u16;
    uses_and_epoch.wrapping_mul(MAX_SOCKETS as u16) | slot as u16
}

fn buffer() -> icmp::PacketBuffer<'static> {
    icmp::PacketBuffer::new(
        vec![icmp::PacketMetadata::EMPTY; UDP_DATAGRAMS],
        vec![0; UDP_BUFFER_BYTES],
    )
}

impl<L: Link> Stack<L> {
    /// An echo socket in a free slot.
    pub(crate) fn open_echo_socket(&mut self) -> Result<Handle, SocketError> {
        let slot = self.table.free_slot().ok_or(SocketError::NoSockets)?;
        let identifier = identifier(slot, self.table.next_generation(slot));
        let mut socket = icmp::Socket::new(buffer(), buffer());
        socket
            .bind(icmp::Endpoint::Ident(identifier))
            .map_err(|_| SocketError::BadArgument)?;
        let socket = self.sockets.add(socket);
        Ok(self.table.occupy(slot, socket, Kind::Echo { identifier }))
    }

    /// The echo socket a handle names, and its identifier.
    fn echo_socket(
        &self,
        handle: Handle,
    ) -> Result<(smoltcp::iface::SocketHandle, u16), SocketError> {
        let slot = self.table.find(handle)?;
        match self.table.entry(slot) {
            Some(entry) => match entry.kind {
                Kind::Echo { identifier } => Ok((entry.socket, identifier)),
                _ => Err(SocketError::WrongKind),
            },
            None => Err(SocketError::Stale),
        }
    }

    /// Queues an echo request to `address`; the next poll sends it.
    pub(crate) fn send_echo_request(
        &mut self,
        handle: Handle,
        address: Ipv4,
        sequence: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        if bytes.len() > MAX_ECHO_BYTES {
            return Err(SocketError::TooLong);
        }
        let (socket, identifier) = self.echo_socket(handle)?;
        let remote = peer(address, 1)?.addr;
        self.reaches(address)?;
        let request = Icmpv4Repr::EchoRequest {
            ident: identifier,
            seq_no: sequence,
            data: bytes,
        };
        let socket = self.sockets.get_mut::<icmp::Socket>(socket);
        let buffer = socket
            .send(request.buffer_len(), remote)
            .map_err(|error| match error {
                icmp::SendError::BufferFull => SocketError::Busy,
                icmp::SendError::Unaddressable => SocketError::BadArgument,
            })?;
        request.emit(
            &mut Icmpv4Packet::new_unchecked(buffer),
            &ChecksumCapabilities::default(),
        );
        Ok(Sent {
            length: bytes.len() as u32,
        })
    }

    /// The oldest echo reply that arrived on the socket; other ICMP
    /// messages with its identifier (a peer's echo request) are skipped.
    pub(crate) fn receive_echo_reply(
        &mut self,
        handle: Handle,
    ) -> Result<Option<EchoReply<'_>>, SocketError> {
        let (socket, _) = self.echo_socket(handle)?;
        let socket = self.sockets.get_mut::<icmp::Socket>(socket);
        while let Ok((packet, IpAddress::Ipv4(from))) = socket.recv() {
            let Ok(packet) = Icmpv4Packet::new_checked(packet) else {
                continue;
            };
            let Ok(Icmpv4Repr::EchoReply { seq_no, data, .. }) =
                Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default())
            else {
                continue;
            };
            let length = data.len().min(self.transfer.len());
            self.transfer[..length].copy_from_slice(&data[..length]);
            return Ok(Some(EchoReply {
                address: Ipv4(from.octets()),
                sequence: seq_no,
                bytes: &self.transfer[..length],
            }));
        }
        Ok(None)
    }
}
