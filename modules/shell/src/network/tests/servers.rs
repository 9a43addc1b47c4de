//! The in-memory `net` and `sockets` servers the network commands' tests
//! call: a link, an address, and a peer that answers a request once it has
//! all of it, then closes, resets or falls silent.

use super::super::*;
use cella_sdk::interfaces::net::{Frames, Info};
use cella_sdk::interfaces::sockets::{
    Configuration, Datagram, Dhcp, EchoReply, Received, Sent, SocketState,
};
extern crate std;

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::vec::Vec;

/// What the peer does once its answer is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It closes the connection (end of stream).
    Close,
    /// It resets the connection.
    Reset,
    /// It keeps the connection open and says nothing more.
    Silent,
}

/// The link, the address, and a peer that answers the request once it has
/// all of it.
pub struct Network {
    pub info: Result<Info, NetError>,
    pub configuration: Configuration,
    pub connect: Result<(), SocketError>,
    /// `receive`s answered with nothing before the connection is up.
    pub connecting_polls: u32,
    /// Bytes one `send` takes at most.
    pub send_room: usize,
    pub answer: Vec<u8>,
    /// Bytes one `receive` hands over at most.
    pub chunk: usize,
    pub ending: Ending,
    /// A failure the connection reports once this many answer bytes went out.
    pub fail_after: Option<(usize, SocketError)>,
    pub requests: Vec<u8>,
    pub delivered: usize,
    pub polls: u32,
    pub open: BTreeSet<u32>,
    pub next_slot: u32,
    pub transfer: Vec<u8>,
    /// Echo requests and datagrams sent: address, port (0 for ICMP),
    /// sequence number (ICMP's; the payload's for UDP) and bytes.
    pub echoes_sent: Vec<(Ipv4, u16, u16, Vec<u8>)>,
    /// Answers waiting to be received, as `echoes_sent` holds them.
    pub echo_answers: VecDeque<(Ipv4, u16, u16, Vec<u8>)>,
    /// Whether the peer answers what is sent to it (else it is lost).
    pub echo_peer: fn(u16) -> bool,
    /// The refusal of `send_echo` and `send_to`, if any.
    pub echo_refusal: Option<SocketError>,
}

pub fn network(answer: &[u8]) -> Network {
    Network {
        info: Ok(Info {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            mtu: 1500,
            link_up: true,
        }),
        configuration: Configuration {
            address: Ipv4([10, 0, 2, 15]),
            prefix: 24,
            gateway: Ipv4([10, 0, 2, 2]),
            dhcp: Dhcp::Bound,
        },
        connect: Ok(()),
        connecting_polls: 3,
        send_room: 10,
        answer: answer.to_vec(),
        chunk: 1000,
        ending: Ending::Close,
        fail_after: None,
        requests: Vec::new(),
        delivered: 0,
        polls: 0,
        open: BTreeSet::new(),
        next_slot: 0,
        transfer: Vec::new(),
        echoes_sent: Vec::new(),
        echo_answers: VecDeque::new(),
        echo_peer: |_| true,
        echo_refusal: None,
    }
}

impl Network {
    fn open(&mut self) -> Handle {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.open.insert(slot);
        Handle {
            slot,
            generation: 1,
        }
    }

    /// Keeps a request sent and queues its answer if the peer answers it.
    fn echo(&mut self, address: Ipv4, port: u16, sequence: u16, bytes: &[u8]) -> Sent {
        let sent = (address, port, sequence, bytes.to_vec());
        if (self.echo_peer)(sequence) {
            self.echo_answers.push_back(sent.clone());
        }
        self.echoes_sent.push(sent);
        Sent {
            length: bytes.len() as u32,
        }
    }

    fn check(&self, handle: Handle) -> Result<(), SocketError> {
        if self.open.contains(&handle.slot) {
            Ok(())
        } else {
            Err(SocketError::Stale)
        }
    }
}

impl sockets::Server for Network {
    fn listen(&mut self, _port: u16) -> Result<Handle, SocketError> {
        Err(SocketError::BadArgument)
    }
    fn accept(&mut self, _listener: Handle) -> Result<Option<Handle>, SocketError> {
        Err(SocketError::BadArgument)
    }
    fn connect(&mut self, address: Ipv4, port: u16) -> Result<Handle, SocketError> {
        assert_eq!((address, port), (Ipv4([10, 0, 2, 100]), 80));
        self.connect?;
        Ok(self.open())
    }
    fn send(&mut self, socket: Handle, bytes: &[u8]) -> Result<Sent, SocketError> {
        self.check(socket)?;
        if self.polls < self.connecting_polls {
            return Ok(Sent { length: 0 });
        }
        let length = bytes.len().min(self.send_room);
        self.requests.extend_from_slice(&bytes[..length]);
        Ok(Sent {
            length: length as u32,
        })
    }
    fn receive(&mut self, socket: Handle, max: u32) -> Result<Received<'_>, SocketError> {
        self.check(socket)?;
        assert!(max as usize <= MAX_TRANSFER_BYTES);
        if self.polls < self.connecting_polls {
            self.polls += 1;
            return Ok(Received {
                bytes: &[],
                end: false,
            });
        }
        if let Some((after, error)) = self.fail_after
            && self.delivered >= after
        {
            return Err(error);
        }
        let nothing = Received {
            bytes: &[],
            end: false,
        };
        if !self.requests.ends_with(b"\r\n\r\n") {
            return Ok(nothing);
        }
        if self.delivered < self.answer.len() {
            let mut end = (self.delivered + self.chunk).min(self.answer.len());
            end = end.min(self.delivered + max as usize);
            if let Some((after, _)) = self.fail_after {
                end = end.min(after.max(self.delivered + 1));
            }
            self.transfer = self.answer[self.delivered..end].to_vec();
            self.delivered = end;
            return Ok(Received {
                bytes: &self.transfer,
                end: false,
            });
        }
        match self.ending {
            Ending::Close => Ok(Received {
                bytes: &[],
                end: true,
            }),
            Ending::Reset => Err(SocketError::Reset),
            Ending::Silent => Ok(nothing),
        }
    }
    fn state(&mut self, socket: Handle) -> Result<SocketState, SocketError> {
        self.check(socket)?;
        Ok(SocketState::Established)
    }
    fn close(&mut self, socket: Handle) -> Result<(), SocketError> {
        self.check(socket)?;
        self.open.remove(&socket.slot);
        Ok(())
    }
    fn bind(&mut self, port: u16) -> Result<Handle, SocketError> {
        assert_eq!(port, 0);
        Ok(self.open())
    }
    fn send_to(
        &mut self,
        socket: Handle,
        address: Ipv4,
        port: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        self.check(socket)?;
        if let Some(refusal) = self.echo_refusal {
            return Err(refusal);
        }
        let sequence = u16::from_be_bytes([bytes[0], bytes[1]]);
        Ok(self.echo(address, port, sequence, bytes))
    }
    fn receive_from(&mut self, socket: Handle) -> Result<Option<Datagram<'_>>, SocketError> {
        self.check(socket)?;
        let Some((address, port, _, bytes)) = self.echo_answers.pop_front() else {
            return Ok(None);
        };
        self.transfer = bytes;
        Ok(Some(Datagram {
            address,
            port,
            bytes: &self.transfer,
        }))
    }
    fn address(&mut self) -> Result<Configuration, SocketError> {
        Ok(self.configuration)
    }
    fn open_echo(&mut self) -> Result<Handle, SocketError> {
        Ok(self.open())
    }
    fn send_echo(
        &mut self,
        socket: Handle,
        address: Ipv4,
        sequence: u16,
        bytes: &[u8],
    ) -> Result<Sent, SocketError> {
        self.check(socket)?;
        if let Some(refusal) = self.echo_refusal {
            return Err(refusal);
        }
        Ok(self.echo(address, 0, sequence, bytes))
    }
    fn receive_echo(&mut self, socket: Handle) -> Result<Option<EchoReply<'_>>, SocketError> {
        self.check(socket)?;
        let Some((address, _, sequence, bytes)) = self.echo_answers.pop_front() else {
            return Ok(None);
        };
        self.transfer = bytes;
        Ok(Some(EchoReply {
            address,
            sequence,
            bytes: &self.transfer,
        }))
    }
}

impl net::Server for Network {
    fn info(&mut self) -> Result<Info, NetError> {
        self.info
    }
    fn send(&mut self, _frame: &[u8]) -> Result<net::Sent, NetError> {
        Err(NetError::BadArgument)
    }
    fn receive(&mut self, _wait_ms: u32) -> Result<Frames<'_>, NetError> {
        Err(NetError::BadArgument)
    }
    fn receive_lent(&mut self, _wait_ms: u32) -> Result<net::Lent, NetError> {
        Err(NetError::NoLoan)
    }
}

/// The in-memory servers behind [`NetworkServers`], as the shell sees them;
/// `absent` servers answer every call `Closed`.
pub struct Servers {
    pub network: RefCell<Network>,
    pub absent: Vec<Server>,
}

impl NetworkServers for Servers {
    fn call<'r>(
        &self,
        server: Server,
        request: &[u8],
        reply: &'r mut [u8],
    ) -> Result<&'r [u8], ErrorCode> {
        if self.absent.contains(&server) {
            return Err(ErrorCode::Closed);
        }
        let network = &mut *self.network.borrow_mut();
        let length = match server {
            Server::Net => net::serve(network, request, reply),
            Server::Sockets => sockets::serve(network, request, reply),
        }
        .map_err(|_| ErrorCode::BadArgument)?;
        Ok(&reply[..length])
    }
}

pub fn servers(network: Network) -> Servers {
    Servers {
        network: RefCell::new(network),
        absent: Vec::new(),
    }
}
