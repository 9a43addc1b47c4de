//! The socket table: [`MAX_SOCKETS`] slots, each holding one smoltcp
//! socket and what the server knows of it, named by handles whose
//! generation tells one use of a slot from the others.

use crate::limits::MAX_SOCKETS;
use cella_sdk::interfaces::sockets::{Handle, SocketError};
use smoltcp::iface::SocketHandle;

/// What a slot holds.
pub(crate) enum Kind {
    /// A TCP listener on its port, and when it was made or last asked to
    /// `accept`.
    Listener { port: u16, polled_ms: u64 },
    /// A TCP connection, made by `connect` or arrived on a listener.
    Connection(Connection),
    /// A UDP socket on its port.
    Datagram { port: u16 },
    /// An ICMP echo socket with its echo identifier.
    Echo { identifier: u16 },
    /// A connection its client closed, finishing its close; its handle is
    /// stale, its slot not yet free.
    Closing { since_ms: u64, port: u16 },
}

/// What the server knows of a TCP connection.
pub(crate) struct Connection {
    /// The listener it arrived on while no `accept` has taken it.
    pub(crate) waiting_on: Option<Handle>,
    /// The order connections arrived in, for `accept`.
    pub(crate) arrival: u64,
    /// When `connect` started it.
    pub(crate) started_ms: u64,
    /// Whether it was ever established.
    pub(crate) established: bool,
    /// How it ended, once it has.
    pub(crate) failure: Option<SocketError>,
    /// Its local port.
    pub(crate) port: u16,
}

impl Connection {
    pub(crate) fn new(port: u16, now_ms: u64) -> Connection {
        Connection {
            waiting_on: None,
            arrival: 0,
            started_ms: now_ms,
            established: false,
            failure: None,
            port,
        }
    }
}

/// One slot in use.
pub(crate) struct Entry {
    pub(crate) socket: SocketHandle,
    pub(crate) generation: u32,
    pub(crate) kind: Kind,
}

/// The slots, and how often each was used.
pub(crate) struct Table {
    entries: [Option<Entry>; MAX_SOCKETS],
    uses: [u16; MAX_SOCKETS],
    epoch: u16,
}

impl Table {
    /// An empty table; `epoch` tells this server instance's handles from
    /// an earlier one's.
    pub(crate) fn new(epoch: u16) -> Table {
        Table {
            entries: Default::default(),
            uses: [0; MAX_SOCKETS],
            epoch,
        }
    }

    /// A free slot, if any.
    pub(crate) fn free_slot(&self) -> Option<usize> {
        self.entries.iter().position(Option::is_none)
    }

    /// The generation the next use of `slot` will have.
    pub(crate) fn next_generation(&self, slot: usize) -> u32 {
        u32::from(self.epoch) << 16 | u32::from(self.uses[slot].wrapping_add(1))
    }

    /// Puts a socket in a free slot and answers its handle.
    pub(crate) fn occupy(&mut self, slot: usize, socket: SocketHandle, kind: Kind) -> Handle {
        let generation = self.next_generation(slot);
        self.uses[slot] = self.uses[slot].wrapping_add(1);
        self.entries[slot] = Some(Entry {
            socket,
            generation,
            kind,
        });
        Handle {
            slot: slot as u32,
            generation,
        }
    }

    /// The slot a client's handle names.
    ///
    /// # Errors
    /// `NotFound` past the table's end; `Stale` for a slot empty, of
    /// another use, closing, or holding a connection not yet accepted.
    pub(crate) fn find(&self, handle: Handle) -> Result<usize, SocketError> {
        let slot = usize::try_from(handle.slot)
            .ok()
            .filter(|&slot| slot < MAX_SOCKETS)
            .ok_or(SocketError::NotFound)?;
        match &self.entries[slot] {
            Some(entry) if entry.generation == handle.generation => match &entry.kind {
                Kind::Closing { .. } => Err(SocketError::Stale),
                Kind::Connection(connection) if connection.waiting_on.is_some() => {
                    Err(SocketError::Stale)
                }
                _ => Ok(slot),
            },
            _ => Err(SocketError::Stale),
        }
    }

    /// The handle of the use a slot holds.
    pub(crate) fn handle(&self, slot: usize) -> Option<Handle> {
        self.entries[slot].as_ref().map(|entry| Handle {
            slot: slot as u32,
            generation: entry.generation,
        })
    }

    pub(crate) fn entry(&self, slot: usize) -> Option<&Entry> {
        self.entries.get(slot)?.as_ref()
    }

    pub(crate) fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.entries.get_mut(slot)?.as_mut()
    }

    /// Empties a slot and answers what it held.
    pub(crate) fn free(&mut self, slot: usize) -> Option<Entry> {
        self.entries.get_mut(slot)?.take()
    }

    /// The slots in use, in order.
    pub(crate) fn used(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_SOCKETS).filter(|&slot| self.entries[slot].is_some())
    }

    /// How many slots are in use.
    pub(crate) fn count(&self) -> usize {
        self.used().count()
    }

    /// Whether a socket of the kind `matches` picks uses `port`.
    pub(crate) fn port_used(&self, port: u16, matches: impl Fn(&Kind) -> Option<u16>) -> bool {
        self.entries
            .iter()
            .flatten()
            .any(|entry| matches(&entry.kind) == Some(port))
    }
}
