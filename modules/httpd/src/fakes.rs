//! In-memory stand-ins for the host tests: a `sockets` server whose
//! connections the test writes to and reads from, and a `supervisor` that
//! answers the typed interface from rows the test gives, in small pages.

use crate::sockets::{Arrived, Failure, Sockets};
use crate::supervisor_client::SupervisorServer;
use cella_sdk::ErrorCode;
use cella_sdk::interfaces::sockets::{Handle, MAX_TRANSFER_BYTES, SocketError};
use cella_sdk::interfaces::supervisor::{
    self, Capabilities, CapabilityKind, CapabilityRow, FaultPage, FaultRow, ModulePage, ModuleRow,
    ProcessPage, ProcessRow, Status, SupervisorError, pack,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

/// One connection as the fake server holds it.
#[derive(Default)]
pub struct Peer {
    /// What the client sent that the server has not received yet.
    pub to_server: VecDeque<u8>,
    /// The client closed its side after `to_server`.
    pub client_closed: bool,
    /// What the server sent.
    pub from_server: Vec<u8>,
    /// The server closed the socket.
    pub closed: bool,
}

/// The fake `sockets` server.
pub struct FakeSockets {
    pub listeners: Vec<(Handle, u16)>,
    pub waiting: VecDeque<Handle>,
    pub peers: BTreeMap<u32, Peer>,
    next_slot: u32,
    /// The most bytes one `send` takes.
    pub window: usize,
    /// Every call fails with this (the server restarted: `Stale`).
    pub failing: Option<SocketError>,
    pub closes_of_unknown: u32,
}

impl Default for FakeSockets {
    fn default() -> Self {
        FakeSockets {
            listeners: Vec::new(),
            waiting: VecDeque::new(),
            peers: BTreeMap::new(),
            next_slot: 100,
            window: MAX_TRANSFER_BYTES,
            failing: None,
            closes_of_unknown: 0,
        }
    }
}

impl FakeSockets {
    /// A client connects; returns its socket's slot.
    pub fn connect(&mut self) -> u32 {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.peers.insert(slot, Peer::default());
        self.waiting.push_back(Handle {
            slot,
            generation: 1,
        });
        slot
    }

    /// The client of `slot` sends `bytes`.
    pub fn write(&mut self, slot: u32, bytes: &[u8]) {
        self.peers.get_mut(&slot).unwrap().to_server.extend(bytes);
    }

    pub fn peer(&self, slot: u32) -> &Peer {
        &self.peers[&slot]
    }

    /// The server's bytes to `slot` as text.
    pub fn answer(&self, slot: u32) -> String {
        String::from_utf8_lossy(&self.peer(slot).from_server).into_owned()
    }

    fn check(&self) -> Result<(), Failure> {
        match self.failing {
            Some(error) => Err(Failure::Socket(error)),
            None => Ok(()),
        }
    }

    fn open_peer(&mut self, socket: Handle) -> Result<&mut Peer, Failure> {
        match self.peers.get_mut(&socket.slot) {
            Some(peer) if !peer.closed => Ok(peer),
            _ => Err(Failure::Socket(SocketError::Stale)),
        }
    }
}

impl Sockets for FakeSockets {
    fn listen(&mut self, port: u16) -> Result<Handle, Failure> {
        self.check()?;
        let handle = Handle {
            slot: self.listeners.len() as u32,
            generation: 7,
        };
        self.listeners.push((handle, port));
        Ok(handle)
    }

    fn accept(&mut self, listener: Handle) -> Result<Option<Handle>, Failure> {
        self.check()?;
        if !self.listeners.iter().any(|(handle, _)| *handle == listener) {
            return Err(Failure::Socket(SocketError::Stale));
        }
        Ok(self.waiting.pop_front())
    }

    fn send(&mut self, socket: Handle, bytes: &[u8]) -> Result<usize, Failure> {
        self.check()?;
        assert!(!bytes.is_empty() && bytes.len() <= MAX_TRANSFER_BYTES);
        let window = self.window;
        let peer = self.open_peer(socket)?;
        let took = bytes.len().min(window);
        peer.from_server.extend_from_slice(&bytes[..took]);
        Ok(took)
    }

    fn receive(&mut self, socket: Handle, buffer: &mut [u8]) -> Result<Arrived, Failure> {
        self.check()?;
        assert!(!buffer.is_empty() && buffer.len() <= MAX_TRANSFER_BYTES);
        let peer = self.open_peer(socket)?;
        let length = buffer.len().min(peer.to_server.len());
        for (slot, byte) in buffer.iter_mut().zip(peer.to_server.drain(..length)) {
            *slot = byte;
        }
        Ok(Arrived {
            length,
            end: peer.client_closed && peer.to_server.is_empty() && length == 0,
        })
    }

    fn close(&mut self, socket: Handle) {
        match self.peers.get_mut(&socket.slot) {
            Some(peer) if !peer.closed => peer.closed = true,
            _ => self.closes_of_unknown += 1,
        }
    }
}

/// A module row the fake supervisor owns.
#[derive(Clone)]
pub struct Module {
    pub name: String,
    pub version: String,
    pub generation: u32,
    pub state: String,
    pub events: u64,
}

/// A fault record the fake supervisor owns.
#[derive(Clone)]
pub struct Fault {
    pub module: String,
    pub reason: String,
    pub accesses: String,
}

/// The fake `supervisor`: rows the test sets, in pages of at most
/// `page_bytes`.
pub struct FakeSupervisor {
    pub modules: Vec<Module>,
    pub processes: Vec<(String, String)>,
    pub faults: Vec<Fault>,
    pub page_bytes: usize,
    /// Every call fails with this.
    pub failing: Option<ErrorCode>,
    pub calls: RefCell<u32>,
}

impl FakeSupervisor {
    /// Modules `names`, each `1.0.0`, running, generation its index + 1.
    pub fn with_modules(names: &[&str]) -> FakeSupervisor {
        FakeSupervisor {
            modules: names
                .iter()
                .enumerate()
                .map(|(index, name)| Module {
                    name: (*name).to_owned(),
                    version: "1.0.0".to_owned(),
                    generation: index as u32 + 1,
                    state: "running".to_owned(),
                    events: 10 * index as u64,
                })
                .collect(),
            processes: Vec::new(),
            faults: Vec::new(),
            page_bytes: 160,
            failing: None,
            calls: RefCell::new(0),
        }
    }
}

/// The typed interface over the fake's rows.
struct Answering<'f> {
    fake: &'f FakeSupervisor,
    page: Vec<u8>,
}

impl supervisor::Server for Answering<'_> {
    fn modules(&mut self, start: u32) -> Result<ModulePage<'_>, SupervisorError> {
        let rows = self.fake.modules.iter().map(|module| ModuleRow {
            name: &module.name,
            version: &module.version,
            generation: module.generation,
            state: &module.state,
            restarts: 0,
            events: module.events,
            fuel: 1000,
            memory_kib: 320,
            log_lines_dropped: 0,
            warnings_dropped: 0,
            lines_held_back: 0,
        });
        let packed = pack(rows, start, &mut self.page)?;
        Ok(packed.page(start, &self.page))
    }

    fn processes(&mut self, start: u32) -> Result<ProcessPage<'_>, SupervisorError> {
        let rows = self
            .fake
            .processes
            .iter()
            .map(|(name, line)| ProcessRow { name, line });
        let packed = pack(rows, start, &mut self.page)?;
        Ok(packed.page(start, &self.page))
    }

    fn faults(&mut self, start: u32) -> Result<FaultPage<'_>, SupervisorError> {
        let rows = self.fake.faults.iter().map(|fault| FaultRow {
            time_ns: 1_500_000_000,
            module: &fault.module,
            generation: 3,
            handling: "a message",
            reason: &fault.reason,
            accesses: &fault.accesses,
        });
        let packed = pack(rows, start, &mut self.page)?;
        Ok(packed.page(start, &self.page))
    }

    fn capabilities(
        &mut self,
        name: &str,
        start: u32,
    ) -> Result<Capabilities<'_>, SupervisorError> {
        let module = self
            .fake
            .modules
            .iter()
            .find(|module| module.name == name)
            .ok_or(SupervisorError::NotFound)?;
        let rows = [
            CapabilityRow {
                kind: CapabilityKind::Granted,
                text: "endpoint sockets",
            },
            CapabilityRow {
                kind: CapabilityKind::Serves,
                text: "http \"quoted\"",
            },
            CapabilityRow {
                kind: CapabilityKind::Held,
                text: "timer",
            },
        ];
        let packed = pack(rows, start, &mut self.page)?;
        Ok(Capabilities {
            module: &module.name,
            state: &module.state,
            generation: module.generation,
            page: packed.page(start, &self.page),
        })
    }

    fn status(&mut self) -> Result<Status, SupervisorError> {
        Ok(Status {
            uptime_ns: 12_345_000_000,
            heap_used: 2048 * 1024,
            heap_free: 30 * 1024 * 1024,
            modules_up: self.fake.modules.len() as u32,
            modules_total: self.fake.modules.len() as u32,
        })
    }

    /// Never reached: the kernel denies httpd the command operations, and
    /// so does the fake's `call`.
    fn run(&mut self, _line: &str) -> Result<supervisor::CommandAnswer<'_>, SupervisorError> {
        Err(SupervisorError::BadArgument)
    }

    /// Never reached, as `run`.
    fn report_page(
        &mut self,
        _page: u32,
    ) -> Result<supervisor::CommandAnswer<'_>, SupervisorError> {
        Err(SupervisorError::BadArgument)
    }
}

impl SupervisorServer for FakeSupervisor {
    fn call<'r>(&self, request: &[u8], reply: &'r mut [u8]) -> Result<&'r [u8], ErrorCode> {
        *self.calls.borrow_mut() += 1;
        if let Some(error) = self.failing {
            return Err(error);
        }
        // As the kernel: the command operations only for the console's server.
        if supervisor::CommandRequest::decode(request).is_some() {
            return Err(ErrorCode::Denied);
        }
        let mut server = Answering {
            fake: self,
            page: vec![0; self.page_bytes],
        };
        let length =
            supervisor::serve(&mut server, request, reply).map_err(|_| ErrorCode::BadArgument)?;
        Ok(&reply[..length])
    }
}
