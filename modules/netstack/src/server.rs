//! The `sockets` interface served by the stack: each request checks its
//! handle and arguments, then asks smoltcp. Nothing waits: a request
//! answers what is there now, and the caller polls the stack after it.

use crate::limits::{ABANDONED_LISTENER_MS, MAX_SOCKETS, UDP_BUFFER_BYTES, UDP_DATAGRAMS};
use crate::link::Link;
use crate::stack::Stack;
use crate::table::{Connection, Kind};
use alloc::vec;
use cella_sdk::interfaces::sockets::{
    Configuration, Datagram, Dhcp, EchoReply, Handle, Ipv4, MAX_DATAGRAM_BYTES, MAX_TRANSFER_BYTES,
    Received, Sent, Server, SocketError, SocketState,
};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};

/// A connection's slot, or why the handle does not name one.
fn connection_slot<L: Link>(stack: &mut Stack<L>, handle: Handle) -> Result<usize, SocketError> {
    let slot = stack.table.find(handle)?;
    match stack.table.entry(slot).map(|entry| &entry.kind) {
        Some(Kind::Connection(_)) => {}
        Some(Kind::Listener { .. }) => return Err(SocketError::NotConnected),
        _ => return Err(SocketError::WrongKind),
    }
    stack.observe(slot);
    match stack.table.entry(slot).map(|entry| &entry.kind) {
        Some(Kind::Connection(Connection {
            failure: Some(failure),
            ..
        })) => Err(*failure),
        _ => Ok(slot),
    }
}

/// A UDP socket's slot, or why the handle does not name one.
fn datagram_slot<L: Link>(stack: &Stack<L>, handle: Handle) -> Result<usize, SocketError> {
    let slot = stack.table.find(handle)?;
    match stack.table.entry(slot).map(|entry| &entry.kind) {
        Some(Kind::Datagram { .. }) => Ok(slot),
        _ => Err(SocketError::WrongKind),
    }
}

/// A peer's address, or `BadArgument` for one no connection or datagram
/// goes to (`0.0.0.0`, broadcast, multicast) or port 0.
pub(crate) fn peer(address: Ipv4, port: u16) -> Result<IpEndpoint, SocketError> {
    let address = Ipv4Address::from(address.0);
    if port == 0 || address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
        return Err(SocketError::BadArgument);
    }
    Ok(IpEndpoint::new(IpAddress::Ipv4(address), port))
}

fn check_transfer(length: usize) -> Result<(), SocketError> {
    match length {
        0 => Err(SocketError::BadArgument),
        length if length > MAX_TRANSFER_BYTES => Err(SocketError::TooLong),
        _ => Ok(()),
    }
}

impl<L: Link> Stack<L> {
    fn socket_of(&self, slot: usize) -> Result<smoltcp::iface::SocketHandle, SocketError> {
        self.table
            .entry(slot)
            .map(|entry| entry.socket)
            .ok_or(SocketError::Stale)
    }

    /// Whether the stack can send to `address`: it has an address, and
    /// `address` is on its network or there is a gateway.
    pub(crate) fn reaches(&self, address: Ipv4) -> Result<(), SocketError> {
        let configuration = &self.configuration;
        if configuration.dhcp == Dhcp::Discovering {
            return Err(SocketError::NoAddress);
        }
        let mask = u32::MAX
            .checked_shl(32 - u32::from(configuration.prefix))
            .unwrap_or(0);
        let network = u32::from_be_bytes(configuration.address.0) & mask;
        let on_link = u32::from_be_bytes(address.0) & mask == network;
        if on_link || configuration.gateway != Ipv4::default() {
            Ok(())
        } else {
            Err(SocketError::Unreachable)
        }
    }
}

impl<L: Link> Stack<L> {
    /// Closes the listener (or other non-connection socket) in `slot`; a
    /// listener's waiting connections go with it.
    fn close_listener(&mut self, slot: usize) {
        let waiting: alloc::vec::Vec<usize> = self.waiting(slot).map(|(other, _)| other).collect();
        for other in waiting {
            self.release(other);
        }
        self.release(slot);
    }
}

impl<L: Link> Server for Stack<L> {
    fn listen(&mut self, port: u16) -> Result<Handle, SocketError> {
        if port == 0 {
            return Err(SocketError::BadArgument);
        }
        let now_ms = self.now_ms;
        let holder = (0..MAX_SOCKETS).find_map(|slot| match self.table.entry(slot)?.kind {
            Kind::Listener {
                port: held,
                polled_ms,
            } if held == port => Some((slot, polled_ms)),
            _ => None,
        });
        if let Some((slot, polled_ms)) = holder {
            if now_ms.saturating_sub(polled_ms) < ABANDONED_LISTENER_MS {
                return Err(SocketError::AddressInUse);
            }
            // Abandoned: closed with the connections waiting on it.
            self.close_listener(slot);
        }
        let slot = self.table.free_slot().ok_or(SocketError::NoSockets)?;
        let socket = self.new_listener(port)?;
        Ok(self.table.occupy(
            slot,
            socket,
            Kind::Listener {
                port,
                polled_ms: now_ms,
            },
        ))
    }

    fn accept(&mut self, listener: Handle) -> Result<Option<Handle>, SocketError> {
        let slot = self.table.find(listener)?;
        let now_ms = self.now_ms;
        match self.table.entry_mut(slot).map(|entry| &mut entry.kind) {
            Some(Kind::Listener { polled_ms, .. }) => *polled_ms = now_ms,
            Some(Kind::Connection(_)) => return Err(SocketError::BadArgument),
            _ => return Err(SocketError::WrongKind),
        }
        let listening = self.set_aside(slot);
        let oldest = self
            .waiting(slot)
            .min_by_key(|&(_, arrival)| arrival)
            .map(|(other, _)| other);
        let Some(oldest) = oldest else {
            return if listening {
                Ok(None)
            } else {
                Err(SocketError::NoSockets)
            };
        };
        if let Some(Kind::Connection(connection)) =
            self.table.entry_mut(oldest).map(|entry| &mut entry.kind)
        {
            connection.waiting_on = None;
        }
        Ok(self.table.handle(oldest))
    }

    fn connect(&mut self, address: Ipv4, port: u16) -> Result<Handle, SocketError> {
        let remote = peer(address, port)?;
        self.reaches(address)?;
        let slot = self.table.free_slot().ok_or(SocketError::NoSockets)?;
        let local = self.free_port().ok_or(SocketError::AddressInUse)?;
        let mut socket = Self::new_tcp();
        socket
            .connect(self.interface.context(), remote, local)
            .map_err(|error| match error {
                tcp::ConnectError::Unaddressable => SocketError::Unreachable,
                tcp::ConnectError::InvalidState => SocketError::BadArgument,
            })?;
        let socket = self.sockets.add(socket);
        let connection = Connection::new(local, self.now_ms);
        Ok(self
            .table
            .occupy(slot, socket, Kind::Connection(connection)))
    }

    fn send(&mut self, handle: Handle, bytes: &[u8]) -> Result<Sent, SocketError> {
        check_transfer(bytes.len())?;
        let slot = connection_slot(self, handle)?;
        let socket = self.sockets.get_mut::<tcp::Socket>(self.socket_of(slot)?);
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => Ok(Sent { length: 0 }),
            _ => {
                let length = socket
                    .send_slice(bytes)
                    .map_err(|_| SocketError::NotConnected)?;
                Ok(Sent {
                    length: length as u32,
                })
            }
        }
    }

    fn receive(&mut self, handle: Handle, max: u32) -> Result<Received<'_>, SocketError> {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        check_transfer(max)?;
        let slot = connection_slot(self, handle)?;
        let socket = self.sockets.get_mut::<tcp::Socket>(self.socket_of(slot)?);
        let connecting = matches!(
            socket.state(),
            tcp::State::SynSent | tcp::State::SynReceived
        );
        match socket.recv_slice(&mut self.transfer[..max]) {
            Ok(length) => Ok(Received {
                bytes: &self.transfer[..length],
                end: false,
            }),
            Err(tcp::RecvError::Finished) => Ok(Received {
                bytes: &[],
                end: true,
            }),
            Err(tcp::RecvError::InvalidState) if connecting => Ok(Received {
                bytes: &[],
                end: false,
            }),
            Err(tcp::RecvError::InvalidState) => Err(SocketError::NotConnected),
        }
    }

    fn state(&mut self, handle: Handle) -> Result<SocketState, SocketError> {
        let slot = self.table.find(handle)?;
        self.observe(slot);
        let entry = self.table.entry(slot).ok_or(SocketError::Stale)?;
        Ok(match &entry.kind {
            Kind::Listener { .. } => SocketState::Listening,
            Kind::Datagram { .. } | Kind::Echo { .. } => SocketState::Bound,
            Kind::Closing { .. } => return Err(SocketError::Stale),
            Kind::Connection(connection) => {
                if connection.failure.is_some() {
                    SocketState::Failed
                } else {
                    match self.sockets.get::<tcp::Socket>(entry.socket).state() {
                        tcp::State::SynSent | tcp::State::SynReceived | tcp::State::Listen => {
                            SocketState::Connecting
                        }
                        tcp::State::CloseWait | tcp::State::LastAck => SocketState::PeerClosed,
                        _ => SocketState::Established,
                    }
                }
            }
        })
    }

    fn close(&mut self, handle: Handle) -> Result<(), SocketError> {
        let slot = self.table.find(handle)?;
        let now_ms = self.now_ms;
        let Some(entry) = self.table.entry_mut(slot) else {
            return Err(SocketError::Stale);
        };
        let port = match &entry.kind {
            Kind::Connection(connection) => connection.port,
            _ => {
                self.close_listener(slot);
                return Ok(());
            }
        };
        let socket = self.sockets.get_mut::<tcp::Socket>(entry.socket);
        socket.close();
        if socket.state() == tcp::State::Closed {
            self.release(slot);
        } else {
            entry.kind = Kind::Closing {
                since_ms: now_ms,
                port,
            };
        }
        Ok(())
    }

    fn bind(&mut self, port: u16) -> Result<Handle, SocketError> {
        let used = |stack: &Self, port| {
            stack.table.port_used(port, |kind| match kind {
                Kind::Datagram { port } => Some(*port),
                _ => None,
            })
        };
        let port = match port {
            0 => self.free_port().ok_or(SocketError::AddressInUse)?,
            port if used(self, port) => return Err(SocketError::AddressInUse),
            port => port,
        };
        let slot = self.table.free_slot().ok_or(SocketError::NoSockets)?;
        let mut socket = udp::Socket::new(
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_DATAGRAMS],
                vec![0; UDP_BUFFER_BYTES],
            ),
            udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; UDP_DATAGRAMS],
                vec![0; UDP_BUFFER_BYTES],
            ),
        );
        socket.bind(port).map_err(|_| SocketError::BadArgument)?;
        let socket = self.sockets.add(socket);
        Ok(self.table.occupy(slot, socket, Kind::Datagram { port }))
    }

    fn send_to(
        &mut self,
        handle: Handle,
        address: Ipv4,
        port: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        if bytes.len() > MAX_DATAGRAM_BYTES {
            return Err(SocketError::TooLong);
        }
        let slot = datagram_slot(self, handle)?;
        let remote = peer(address, port)?;
        self.reaches(address)?;
        let socket = self.sockets.get_mut::<udp::Socket>(self.socket_of(slot)?);
        socket
            .send_slice(bytes, remote)
            .map_err(|error| match error {
                udp::SendError::BufferFull => SocketError::Busy,
                udp::SendError::Unaddressable => SocketError::BadArgument,
            })?;
        Ok(Sent {
            length: bytes.len() as u32,
        })
    }

    fn receive_from(&mut self, handle: Handle) -> Result<Option<Datagram<'_>>, SocketError> {
        let slot = datagram_slot(self, handle)?;
        let socket = self.sockets.get_mut::<udp::Socket>(self.socket_of(slot)?);
        match socket.recv_slice(&mut self.transfer) {
            Ok((length, metadata)) => {
                let IpAddress::Ipv4(address) = metadata.endpoint.addr;
                Ok(Some(Datagram {
                    address: Ipv4(address.octets()),
                    port: metadata.endpoint.port,
                    bytes: &self.transfer[..length],
                }))
            }
            Err(udp::RecvError::Exhausted) => Ok(None),
            Err(udp::RecvError::Truncated) => Err(SocketError::TooLong),
        }
    }

    fn address(&mut self) -> Result<Configuration, SocketError> {
        Ok(self.configuration)
    }

    fn open_echo(&mut self) -> Result<Handle, SocketError> {
        self.open_echo_socket()
    }

    fn send_echo(
        &mut self,
        socket: Handle,
        address: Ipv4,
        sequence: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        self.send_echo_request(socket, address, sequence, bytes)
    }

    fn receive_echo(&mut self, socket: Handle) -> Result<Option<EchoReply<'_>>, SocketError> {
        self.receive_echo_reply(socket)
    }
}
