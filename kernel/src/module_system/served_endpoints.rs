//! The endpoints modules serve, as kernel IPC endpoints: every endpoint a
//! module serves is a kernel IPC endpoint of the same name, which the
//! router opens and receives from. Whatever a native process or another
//! module queues there, the router moves into the serving module's inbox
//! (a call becomes a request whose id stands for the caller's reply token,
//! and a buffer a module lent with it goes with the request). Removing a
//! module closes its endpoints, so that a native process may serve the
//! names; a module loaded again opens them again. The kernel's own
//! `supervisor` endpoint is opened the same way when a process is granted
//! it, and what processes queue there goes to the event loop (see
//! `super::inspection`).

use super::router::{KernelRequest, Router, SUPERVISOR_ENDPOINT};
use super::services::KernelServices;
use super::slot::{ModuleState, Pending};
use super::table::ModuleTable;
use crate::ipc::IpcError;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Why a module's message or call to an endpoint has no queue to go on.
pub(crate) enum NoQueue {
    /// The module serving it takes no messages.
    Down { module: String, state: &'static str },
    /// Its module runs, but its kernel IPC endpoint could not be opened.
    NotOpen,
    /// Neither a module nor a native process serves it.
    NoServer,
}

impl fmt::Display for NoQueue {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoQueue::Down { module, state } => write!(formatter, "module {module} is {state}"),
            NoQueue::NotOpen => formatter.write_str("its endpoint is not open"),
            NoQueue::NoServer => formatter.write_str("nobody serves it"),
        }
    }
}

/// The module serving endpoint `endpoint` (named `name`), unless it was
/// removed and a native process serves the endpoint since.
pub(crate) fn module_server<K: KernelServices>(
    table: &ModuleTable<K>,
    endpoint: u64,
    name: &str,
    kernel: &K,
) -> Option<usize> {
    table.server_of(endpoint).filter(|&index| {
        table.slots[index].state != ModuleState::Removed || kernel.endpoint_named(name).is_none()
    })
}

impl Router {
    /// The kernel IPC endpoint a module's message or call to endpoint
    /// `endpoint` (named `name`) is queued on, with the module serving it
    /// (`None`: a native process serves it).
    ///
    /// # Errors
    /// Why there is none: the serving module is down, its endpoint is not
    /// open, or nobody serves the name.
    pub(crate) fn queue_of<K: KernelServices>(
        &self,
        endpoint: u64,
        name: &str,
        table: &ModuleTable<K>,
        kernel: &K,
    ) -> Result<(u64, Option<usize>), NoQueue> {
        match module_server(table, endpoint, name, kernel) {
            Some(server) if !table.slots[server].accepts_messages() => {
                let slot = &table.slots[server];
                Err(NoQueue::Down {
                    module: slot.plan.name.clone(),
                    state: slot.state.name(),
                })
            }
            Some(server) => self
                .opened_endpoint(endpoint)
                .map(|opened| (opened, Some(server)))
                .ok_or(NoQueue::NotOpen),
            None => kernel
                .endpoint_named(name)
                .map(|opened| (opened, None))
                .ok_or(NoQueue::NoServer),
        }
    }

    /// The kernel IPC endpoint opened for endpoint `endpoint`, which a
    /// module serves.
    pub(crate) fn opened_endpoint(&self, endpoint: u64) -> Option<u64> {
        self.served_endpoints
            .iter()
            .find(|(_, served)| *served == endpoint)
            .map(|(opened, _)| *opened)
    }

    /// Queues on kernel IPC endpoint `opened` with `queue` (a send or a
    /// call). A queue the router receives from that is full is first moved
    /// into its module's inbox, so a burst routed in one pass (the
    /// kernel's console output) keeps its order instead of meeting a full
    /// queue; the queue's `Full` stands once the inbox is full too.
    pub(crate) fn queue_on<K: KernelServices, T>(
        &mut self,
        opened: u64,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
        mut queue: impl FnMut(&mut K) -> Result<T, IpcError>,
    ) -> Result<T, IpcError> {
        match queue(kernel) {
            Err(IpcError::Full)
                if self
                    .served_endpoints
                    .iter()
                    .any(|(open, _)| *open == opened) =>
            {
                self.look_again = true;
                self.take_endpoint_messages(table, kernel);
                queue(kernel)
            }
            outcome => outcome,
        }
    }

    /// Opens every endpoint a module serves.
    pub fn open_served_endpoints<K: KernelServices>(
        &mut self,
        table: &ModuleTable<K>,
        kernel: &mut K,
    ) {
        let served: Vec<u64> = table
            .slots
            .iter()
            .flat_map(|slot| slot.serves.iter().copied())
            .collect();
        self.open_served(&served, kernel);
    }

    /// Opens `served` (endpoint ids a module serves).
    pub fn open_served<K: KernelServices>(&mut self, served: &[u64], kernel: &mut K) {
        for &endpoint in served {
            if self
                .served_endpoints
                .iter()
                .any(|(_, open)| *open == endpoint)
            {
                continue;
            }
            let name = self.endpoint_name(endpoint);
            match kernel.open_endpoint(name) {
                Ok(opened) => self.served_endpoints.push((opened, endpoint)),
                Err(problem) => {
                    log::warn!("endpoint `{name}` could not be opened: {problem}")
                }
            }
        }
    }

    /// Closes the process side of `served` (endpoint ids of a module that
    /// was removed): calls processes queued there fail with `Closed`, and a
    /// native process may serve the names from now on.
    pub fn close_served<K: KernelServices>(&mut self, served: &[u64], kernel: &mut K) {
        self.served_endpoints.retain(|&(opened, endpoint)| {
            if served.contains(&endpoint) {
                kernel.close_endpoint(opened);
                false
            } else {
                true
            }
        });
    }

    /// Moves what processes and modules queued on the endpoints modules
    /// serve into the serving modules' inboxes. Returns whether anything
    /// arrived. A call to a module that is down fails at once with
    /// `Closed`; while a module's inbox is full the rest waits in the
    /// endpoint's queue (whose own back-pressure, `Full`, then reaches
    /// callers).
    pub fn take_endpoint_messages<K: KernelServices>(
        &mut self,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
    ) -> bool {
        let waiting = kernel.messages_waiting();
        if !waiting && !core::mem::take(&mut self.look_again) {
            return false;
        }
        self.look_again = false;
        let mut arrived = false;
        for index in 0..self.served_endpoints.len() {
            let (opened, endpoint) = self.served_endpoints[index];
            let Some(server) = table.server_of(endpoint) else {
                // The kernel's own endpoint: answered by the event loop.
                if self.endpoint_name(endpoint) == SUPERVISOR_ENDPOINT {
                    while let Some(message) = kernel.take_message(opened) {
                        arrived = true;
                        self.supervisor_calls.push(message);
                    }
                }
                continue;
            };
            loop {
                let slot = &table.slots[server];
                let accepting = slot.accepts_messages();
                if accepting && !slot.inbox_has_room() {
                    self.look_again = true;
                    break;
                }
                let Some(message) = kernel.take_message(opened) else {
                    break;
                };
                arrived = true;
                if !accepting {
                    if message.token != 0 {
                        kernel.answer_token(message.token, Err(IpcError::Closed));
                    }
                    log::warn!(
                        "a message to {} ({} bytes) refused: module {}",
                        slot.plan.name,
                        message.bytes.len(),
                        slot.state.name()
                    );
                    continue;
                }
                let request = match message.token {
                    0 => 0,
                    token => {
                        let request = self.new_request(server, KernelRequest::Call { token });
                        // A module's call: the buffer it lent goes with the request.
                        let lent = self
                            .open_calls
                            .get_mut(&token)
                            .and_then(|open| open.loan.take());
                        if let Some(loan) = lent {
                            self.loans.insert(request, loan);
                        }
                        request
                    }
                };
                table.slots[server].inbox.push_back(Pending::Message {
                    request,
                    bytes: message.bytes,
                });
            }
        }
        arrived
    }
}
