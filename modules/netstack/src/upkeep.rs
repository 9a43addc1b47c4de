//! The socket table's upkeep after each frame and poll: what each
//! connection has become (established, failed, timed out), closes that
//! are done, and connections that arrived on listeners set aside for
//! `accept`.

use crate::limits::{BACKLOG, CLOSE_LINGER_MS, CONNECT_TIMEOUT_MS, MAX_SOCKETS};
use crate::link::Link;
use crate::stack::Stack;
use crate::table::{Connection, Kind};
use alloc::vec::Vec;
use cella_sdk::interfaces::sockets::SocketError;
use smoltcp::socket::tcp;

impl<L: Link> Stack<L> {
    /// Brings what the table knows of a connection up to date: whether it
    /// was established, and how it failed.
    pub(crate) fn observe(&mut self, slot: usize) {
        let now_ms = self.now_ms;
        let Some(entry) = self.table.entry_mut(slot) else {
            return;
        };
        let Kind::Connection(connection) = &mut entry.kind else {
            return;
        };
        let socket = self.sockets.get_mut::<tcp::Socket>(entry.socket);
        match socket.state() {
            tcp::State::Closed if connection.failure.is_none() => {
                connection.failure = Some(if connection.established {
                    SocketError::Reset
                } else {
                    SocketError::Refused
                });
            }
            tcp::State::SynSent
                if now_ms.saturating_sub(connection.started_ms) >= CONNECT_TIMEOUT_MS =>
            {
                socket.abort();
                connection.failure = Some(SocketError::TimedOut);
            }
            tcp::State::Listen | tcp::State::SynSent | tcp::State::SynReceived => {}
            tcp::State::Closed => {}
            _ => connection.established = true,
        }
    }

    /// Frees a slot and its smoltcp socket.
    pub(crate) fn release(&mut self, slot: usize) {
        if let Some(entry) = self.table.free(slot) {
            self.sockets.remove(entry.socket);
        }
    }

    /// The upkeep after each poll: connections' states, closes finished,
    /// connections that arrived on listeners set aside for `accept`.
    pub(crate) fn keep_table(&mut self) {
        for slot in 0..MAX_SOCKETS {
            self.observe(slot);
            let Some(entry) = self.table.entry(slot) else {
                continue;
            };
            let state = match entry.kind {
                Kind::Listener { .. } | Kind::Datagram { .. } | Kind::Echo { .. } => continue,
                _ => self.sockets.get::<tcp::Socket>(entry.socket).state(),
            };
            let done = match &entry.kind {
                Kind::Closing { since_ms, .. } => {
                    matches!(state, tcp::State::Closed | tcp::State::TimeWait)
                        || self.now_ms.saturating_sub(*since_ms) >= CLOSE_LINGER_MS
                }
                Kind::Connection(connection) => {
                    connection.waiting_on.is_some() && state == tcp::State::Closed
                }
                _ => false,
            };
            if done {
                self.release(slot);
            }
        }
        let listeners: Vec<usize> = self
            .table
            .used()
            .filter(|&slot| {
                matches!(
                    self.table.entry(slot).map(|entry| &entry.kind),
                    Some(Kind::Listener { .. })
                )
            })
            .collect();
        for listener in listeners {
            self.set_aside(listener);
        }
    }

    /// Connections waiting for `accept` on the listener in `slot`.
    pub(crate) fn waiting(&self, slot: usize) -> impl Iterator<Item = (usize, u64)> + '_ {
        let handle = self.table.handle(slot);
        self.table
            .used()
            .filter_map(move |other| match &self.table.entry(other)?.kind {
                Kind::Connection(connection)
                    if connection.waiting_on.is_some() && connection.waiting_on == handle =>
                {
                    Some((other, connection.arrival))
                }
                _ => None,
            })
    }

    /// If the listener in `slot` has taken a connection, moves it to a slot
    /// of its own to wait for `accept` and listens again with a fresh
    /// socket (while slots are free and its backlog has room). Answers
    /// whether the listener is listening.
    pub(crate) fn set_aside(&mut self, slot: usize) -> bool {
        let Some(entry) = self.table.entry(slot) else {
            return false;
        };
        let Kind::Listener { port, .. } = entry.kind else {
            return false;
        };
        let socket = entry.socket;
        let taken = self.sockets.get::<tcp::Socket>(socket);
        if taken.is_listening() {
            return true;
        }
        let Some(local_port) = taken.local_endpoint().map(|endpoint| endpoint.port) else {
            return false;
        };
        let Some(free) = self.table.free_slot() else {
            return false;
        };
        if self.waiting(slot).count() >= BACKLOG {
            return false;
        }
        let Ok(fresh) = self.new_listener(port) else {
            return false;
        };
        let listener = self.table.handle(slot);
        if let Some(entry) = self.table.entry_mut(slot) {
            entry.socket = fresh;
        }
        self.arrivals += 1;
        let mut connection = Connection::new(local_port, self.now_ms);
        connection.waiting_on = listener;
        connection.arrival = self.arrivals;
        self.table
            .occupy(free, socket, Kind::Connection(connection));
        true
    }
}
