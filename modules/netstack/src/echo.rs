//! The UDP echo service (RFC 862) on port 7: each datagram that arrives
//! goes back to where it came from, unchanged. It is a client of the
//! stack's own [`Server`] interface, holding one UDP socket, so it is
//! bounded as any client is: the socket holds
//! [`crate::limits::UDP_DATAGRAMS`] datagrams each way, and what arrives
//! while they are full is dropped.

use cella_sdk::interfaces::sockets::{Handle, MAX_DATAGRAM_BYTES, Server, SocketError};

/// The port the service listens on.
pub const ECHO_PORT: u16 = 7;
/// Datagrams from a port below this one are not answered: such ports are
/// services' (another echo service would answer back, for ever).
pub const LOWEST_ANSWERED_PORT: u16 = 1024;
/// The most datagrams one [`Echo::serve`] takes.
pub const ECHOES_PER_ROUND: usize = crate::limits::UDP_DATAGRAMS;

/// The echo service's socket and its counts.
#[derive(Debug)]
pub struct Echo {
    socket: Handle,
    /// Datagrams sent back.
    pub echoed: u64,
    /// Datagrams taken and not sent back (a service's port as the source,
    /// a source no datagram goes to, the send buffer full).
    pub dropped: u64,
}

impl Echo {
    /// Binds the service's socket on `server`.
    ///
    /// # Errors
    /// The `bind`'s refusal (the port in use, no sockets left).
    pub fn open(server: &mut impl Server) -> Result<Echo, SocketError> {
        Ok(Echo {
            socket: server.bind(ECHO_PORT)?,
            echoed: 0,
            dropped: 0,
        })
    }

    /// Sends back the datagrams that arrived, at most [`ECHOES_PER_ROUND`];
    /// answers how many it took. The stack sends them at its next poll.
    pub fn serve(&mut self, server: &mut impl Server) -> usize {
        let mut bytes = [0u8; MAX_DATAGRAM_BYTES];
        for taken in 0..ECHOES_PER_ROUND {
            let (address, port, length) = match server.receive_from(self.socket) {
                Ok(Some(datagram)) => {
                    let length = datagram.bytes.len().min(MAX_DATAGRAM_BYTES);
                    bytes[..length].copy_from_slice(&datagram.bytes[..length]);
                    (datagram.address, datagram.port, length)
                }
                Ok(None) => return taken,
                Err(_) => {
                    self.dropped += 1;
                    continue;
                }
            };
            if port < LOWEST_ANSWERED_PORT {
                self.dropped += 1;
                continue;
            }
            match server.send_to(self.socket, address, port, &bytes[..length]) {
                Ok(_) => self.echoed += 1,
                Err(_) => self.dropped += 1,
            }
        }
        ECHOES_PER_ROUND
    }
}
