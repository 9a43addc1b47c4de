//! The manifest's Wasm modules on the kernel's IPC endpoints, so native
//! processes and modules reach each other by name.
//!
//! At boot every endpoint a module serves is also registered as a kernel IPC
//! endpoint, which the event loop watches: a process's `call` to `rtc` (served
//! by the cmos-rtc module) becomes a message event for the module, with a
//! kernel request id standing for the caller's reply token; the module's
//! `ipc_reply` answers the token. A module's `ipc_send` to an endpoint no
//! module serves goes to the IPC endpoint of that name, if a process
//! registered one.
//!
//! A call to a module that is stopped or held fails at once with `Closed`
//! (-14 for a process), and so does one the module was handling when it
//! faulted (as `supervisor::replay` decides for kernel requests); calls wait in the IPC
//! queue while the module's inbox is full (the queue's own back-pressure,
//! `Full`, then reaches callers).

use super::system::{KernelRequest, System};
use super::{slot::Pending, worker};
use crate::ipc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set by the IPC watcher when a message is queued on a module's endpoint.
static QUEUED: AtomicBool = AtomicBool::new(false);

/// The watcher of the modules' IPC endpoints (interrupts off, IPC locked).
fn message_queued() {
    QUEUED.store(true, Ordering::Release);
    worker::nudge_event_loop();
}

impl System {
    /// Registers every endpoint a module serves as a kernel IPC endpoint.
    pub(crate) fn open_ipc_endpoints(&mut self) {
        let served: Vec<u64> = self
            .slots
            .iter()
            .flat_map(|slot| slot.serves.iter().copied())
            .collect();
        for endpoint in served {
            let name = alloc::string::String::from(self.endpoint_name(endpoint));
            match ipc::create_endpoint(Some(&name))
                .and_then(|id| ipc::watch(id, message_queued).map(|()| id))
            {
                Ok(id) => self.ipc_endpoints.push((id, endpoint)),
                Err(error) => {
                    log::warn!("endpoint `{name}` is not reachable by processes: {error:?}")
                }
            }
        }
    }

    /// Moves calls and messages from the IPC endpoints to the modules serving
    /// them. Returns whether any arrived. Looks only when one was queued
    /// since the last look.
    pub(crate) fn poll_ipc(&mut self) -> bool {
        if !QUEUED.swap(false, Ordering::AcqRel) {
            return false;
        }
        let mut arrived = false;
        for index in 0..self.ipc_endpoints.len() {
            let (id, endpoint) = self.ipc_endpoints[index];
            let Some(server) = self.server_of(endpoint) else {
                continue;
            };
            loop {
                let slot = &self.slots[server];
                let accepting = slot.accepts_messages();
                if accepting && !slot.inbox_has_room() {
                    // The rest waits in the IPC queue: look again next pass.
                    QUEUED.store(true, Ordering::Release);
                    break;
                }
                let Ok(message) = ipc::receive(id, false) else {
                    break;
                };
                arrived = true;
                if !accepting {
                    if message.token != 0 {
                        let _ = ipc::fail(message.token, ipc::IpcError::Closed);
                    }
                    log::warn!(
                        "a process's message to {} ({} bytes) refused: module {}",
                        self.slots[server].plan.name,
                        message.bytes.len(),
                        self.slots[server].state.name()
                    );
                    continue;
                }
                let request = if message.token == 0 {
                    0
                } else {
                    self.new_kernel_request(
                        server,
                        KernelRequest::Ipc {
                            token: message.token,
                        },
                    )
                };
                self.slots[server].inbox.push_back(Pending::Message {
                    request,
                    bytes: message.bytes,
                });
            }
        }
        arrived
    }

    /// Sends `bytes` from module `from` to the IPC endpoint called `name`
    /// (served by a process). Returns whether there is one.
    pub(crate) fn send_to_process(&self, from: &str, name: &str, bytes: &[u8]) -> bool {
        let Ok(id) = ipc::lookup(name) else {
            return false;
        };
        if self.ipc_endpoints.iter().any(|(bridged, _)| *bridged == id) {
            return false;
        }
        if let Err(error) = ipc::send(id, bytes) {
            log::warn!(
                "message from {from} to `{name}` ({} bytes) refused: {error:?}",
                bytes.len()
            );
        }
        true
    }
}

/// Fails an IPC call whose module will not answer (it faulted, was stopped,
/// held or restarted): its caller gets `Closed`.
pub(crate) fn fail_call(token: u64) {
    let _ = ipc::fail(token, ipc::IpcError::Closed);
}
