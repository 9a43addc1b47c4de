//! The server: its listener on [`PORT`] and a table of at most
//! [`MAX_CONNECTIONS`] connections, polled on the module's timer.
//!
//! Each poll makes the listener if there is none (again after a failure,
//! [`LISTEN_RETRY_MS`] later), accepts what waits on it (a connection
//! beyond the table's room is closed at once, unanswered), and steps every
//! connection. If the listener's handle is stale (the `sockets` server
//! restarted and lost every socket), the listener and the table are
//! dropped and made again. The poll's [`Activity`] tells the module how
//! soon to poll again.

use crate::connection::{Connection, Outcome, Scratch};
use crate::sockets::{Failure, Sockets};
use crate::supervisor_client::SupervisorServer;
use alloc::vec::Vec;
use cella_sdk::interfaces::sockets::{Handle, MAX_TRANSFER_BYTES, SocketError};

/// The TCP port the server listens on.
pub const PORT: u16 = 80;
/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// How long after a failed `listen` it is tried again.
pub const LISTEN_RETRY_MS: u64 = 500;
/// The most connections one poll accepts (the rest wait for the next).
const ACCEPTS_PER_POLL: usize = 16;

/// What a poll found, for the module's next timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Bytes moved: poll again at once.
    Busy,
    /// Connections are open but nothing moved.
    Waiting,
    /// No connection is open.
    Idle,
}

/// Counters of the server's life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections taken into the table.
    pub accepted: u64,
    /// Connections closed at once: the table was full.
    pub refused: u64,
    /// Listeners made (more than one: the `sockets` server restarted).
    pub listens: u64,
}

/// The listener and the connection table.
pub struct Server {
    listener: Option<Handle>,
    next_listen_ms: u64,
    connections: Vec<Connection>,
    /// Sockets of a predecessor's connections (a hot swap), closed at the
    /// next poll.
    to_close: Vec<Handle>,
    scratch: Scratch,
    counters: Counters,
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    pub fn new() -> Server {
        Server {
            listener: None,
            next_listen_ms: 0,
            connections: Vec::new(),
            to_close: Vec::new(),
            scratch: [0; MAX_TRANSFER_BYTES],
            counters: Counters::default(),
        }
    }

    /// A server taking over from a predecessor (a hot swap): it keeps the
    /// predecessor's `listener` and closes the sockets of its connections
    /// (`connections`: their answers were under way and are not carried
    /// over) at the first poll.
    pub fn taking_over(listener: Option<Handle>, connections: Vec<Handle>) -> Server {
        Server {
            listener,
            to_close: connections,
            ..Server::new()
        }
    }

    /// The listener and the open connections' sockets, for a successor.
    pub fn handles(&self) -> (Option<Handle>, impl Iterator<Item = Handle> + '_) {
        let connections = self.connections.iter().map(Connection::socket);
        (
            self.listener,
            connections.chain(self.to_close.iter().copied()),
        )
    }

    /// Connections open.
    pub fn open(&self) -> usize {
        self.connections.len()
    }

    /// Whether the listener is up.
    pub fn listening(&self) -> bool {
        self.listener.is_some()
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// One poll at `now_ms`: listen, accept, step every connection.
    pub fn poll(
        &mut self,
        now_ms: u64,
        sockets: &mut impl Sockets,
        supervisor: &impl SupervisorServer,
    ) -> Activity {
        let mut moved = false;
        for socket in self.to_close.drain(..) {
            sockets.close(socket);
        }
        if let Some(listener) = self.listener_at(now_ms, sockets) {
            moved |= self.accept(listener, now_ms, sockets);
        }
        let scratch = &mut self.scratch;
        self.connections.retain_mut(|connection| {
            match connection.step(now_ms, sockets, supervisor, scratch) {
                Outcome::Open { moved: progress } => {
                    moved |= progress;
                    true
                }
                Outcome::Closed => {
                    moved = true;
                    false
                }
            }
        });
        match (moved, self.connections.is_empty()) {
            (true, _) => Activity::Busy,
            (false, false) => Activity::Waiting,
            (false, true) => Activity::Idle,
        }
    }

    /// The listener, made if there is none and it is time to try.
    fn listener_at(&mut self, now_ms: u64, sockets: &mut impl Sockets) -> Option<Handle> {
        if self.listener.is_none() && now_ms >= self.next_listen_ms {
            match sockets.listen(PORT) {
                Ok(listener) => {
                    self.listener = Some(listener);
                    self.counters.listens += 1;
                }
                Err(_) => self.next_listen_ms = now_ms + LISTEN_RETRY_MS,
            }
        }
        self.listener
    }

    /// Takes the connections waiting on `listener`; whether any came.
    fn accept(&mut self, listener: Handle, now_ms: u64, sockets: &mut impl Sockets) -> bool {
        let mut came = false;
        for _ in 0..ACCEPTS_PER_POLL {
            match sockets.accept(listener) {
                Ok(Some(socket)) => {
                    came = true;
                    if self.connections.len() < MAX_CONNECTIONS
                        && self.connections.try_reserve(1).is_ok()
                    {
                        self.connections.push(Connection::new(socket, now_ms));
                        self.counters.accepted += 1;
                    } else {
                        sockets.close(socket);
                        self.counters.refused += 1;
                    }
                }
                Ok(None) => break,
                Err(failure) => {
                    self.lose_listener(failure, sockets);
                    break;
                }
            }
        }
        came
    }

    /// The listener failed: a stale or unknown handle means the `sockets`
    /// server lost every socket, the connections' too; anything else
    /// closes the listener. Either way a new one is made next poll.
    fn lose_listener(&mut self, failure: Failure, sockets: &mut impl Sockets) {
        let lost_all = matches!(
            failure,
            Failure::Socket(SocketError::Stale | SocketError::NotFound)
        );
        if let Some(listener) = self.listener.take()
            && !lost_all
        {
            sockets.close(listener);
        }
        if lost_all {
            self.connections.clear();
        }
    }
}

#[cfg(test)]
mod tests;
