//! The module endpoints opened for native processes: every endpoint a module
//! serves is also a kernel IPC endpoint of the same name, whose queued
//! messages and calls the router moves into the serving module's inbox (a
//! call becomes a request whose id stands for the caller's reply token).
//! Removing a module closes its side of them, so that a native process may
//! serve the names; a module loaded again opens them again. The kernel's own
//! `supervisor` endpoint is opened the same way when a process is granted it,
//! and what processes queue there goes to the event loop (see
//! `super::inspection`).

use super::router::{KernelRequest, Router, SUPERVISOR_ENDPOINT};
use super::services::KernelServices;
use super::slot::{ModuleState, Pending};
use super::table::ModuleTable;
use crate::ipc::IpcError;
use alloc::vec::Vec;

/// The module serving endpoint `endpoint` (named `name`), unless it was
/// removed and a native process serves the endpoint since.
pub(crate) fn module_server<K: KernelServices>(
    table: &ModuleTable<K>,
    endpoint: u64,
    name: &str,
    kernel: &K,
) -> Option<usize> {
    table.server_of(endpoint).filter(|&index| {
        table.slots[index].state != ModuleState::Removed || !kernel.process_serves(name)
    })
}

impl Router {
    /// Opens every endpoint a module serves for native processes.
    pub fn open_process_endpoints<K: KernelServices>(
        &mut self,
        table: &ModuleTable<K>,
        kernel: &mut K,
    ) {
        let served: Vec<u64> = table
            .slots
            .iter()
            .flat_map(|slot| slot.serves.iter().copied())
            .collect();
        self.open_for_processes(&served, kernel);
    }

    /// Opens `served` (endpoint ids a module serves) for native processes.
    pub fn open_for_processes<K: KernelServices>(&mut self, served: &[u64], kernel: &mut K) {
        for &endpoint in served {
            if self
                .process_endpoints
                .iter()
                .any(|(_, open)| *open == endpoint)
            {
                continue;
            }
            let name = self.endpoint_name(endpoint);
            match kernel.open_process_endpoint(name) {
                Ok(opened) => self.process_endpoints.push((opened, endpoint)),
                Err(problem) => {
                    log::warn!("endpoint `{name}` is not reachable by processes: {problem}")
                }
            }
        }
    }

    /// Closes the process side of `served` (endpoint ids of a module that
    /// was removed): calls processes queued there fail with `Closed`, and a
    /// native process may serve the names from now on.
    pub fn close_for_processes<K: KernelServices>(&mut self, served: &[u64], kernel: &mut K) {
        self.process_endpoints.retain(|&(opened, endpoint)| {
            if served.contains(&endpoint) {
                kernel.close_process_endpoint(opened);
                false
            } else {
                true
            }
        });
    }

    /// Moves what processes queued on module endpoints into the modules'
    /// inboxes. Returns whether anything arrived. A call to a module that
    /// is down fails at once with `Closed`; while a module's inbox is full
    /// the rest waits in the process-side queue (whose own back-pressure,
    /// `Full`, then reaches callers).
    pub fn take_process_messages<K: KernelServices>(
        &mut self,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
    ) -> bool {
        let waiting = kernel.process_messages_waiting();
        if !waiting && !core::mem::take(&mut self.look_again) {
            return false;
        }
        self.look_again = false;
        let mut arrived = false;
        for index in 0..self.process_endpoints.len() {
            let (opened, endpoint) = self.process_endpoints[index];
            let Some(server) = table.server_of(endpoint) else {
                // The kernel's own endpoint: answered by the event loop.
                if self.endpoint_name(endpoint) == SUPERVISOR_ENDPOINT {
                    while let Some(message) = kernel.take_process_message(opened) {
                        arrived = true;
                        self.process_supervisor_calls.push(message);
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
                let Some(message) = kernel.take_process_message(opened) else {
                    break;
                };
                arrived = true;
                if !accepting {
                    if message.token != 0 {
                        kernel.answer_process(message.token, Err(IpcError::Closed));
                    }
                    log::warn!(
                        "a process's message to {} ({} bytes) refused: module {}",
                        slot.plan.name,
                        message.bytes.len(),
                        slot.state.name()
                    );
                    continue;
                }
                let request = match message.token {
                    0 => 0,
                    token => self.new_request(server, KernelRequest::Process { token }),
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
