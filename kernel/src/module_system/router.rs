//! The router: the endpoints modules serve, the requests in flight to
//! modules, and where each message goes.
//!
//! Every endpoint is a kernel IPC endpoint, whoever serves it, so one
//! queue and one set of rules (message limit, queue depth, back-pressure,
//! reply tokens) hold for modules, native processes and kernel threads
//! alike. A module's `ipc_send`, `ipc_reply` and `ipc_call` reach the router
//! through the kernel ([`KernelServices::take_routed`]):
//!
//! - a send is queued on the endpoint's kernel IPC queue
//!   ([`KernelServices::send_on`]);
//! - a call is a call on that queue, opened without blocking (see
//!   [`super::calls`]);
//! - a reply answers the token of the call its request was taken for.
//!
//! The router is the receiver of the endpoints modules serve: it moves
//! what is queued there into the serving module's inbox, a call as a
//! request whose id stands for the caller's reply token (see
//! [`super::served_endpoints`]). The kernel's own `supervisor` endpoint is
//! answered by the event loop: a call by the typed interface (see
//! [`super::inspection`] and [`super::command_calls`]), a send refused. The
//! kernel's own requests (the time at boot, a command's `call`) are put in
//! the server's inbox by the event loop itself.

use super::services::{KernelServices, Routed};
use super::slot::Pending;
use super::table::ModuleTable;
use crate::ipc::IpcError;
use crate::system_manifest::{GrantLine, ModulePlan};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Access, Delivery, Loan};
use hashbrown::HashMap;

/// The endpoint whose server gets the kernel's console output.
pub const CONSOLE_OUTPUT_ENDPOINT: &str = "uart";
/// The endpoint the kernel serves itself: the typed `supervisor` interface.
pub const SUPERVISOR_ENDPOINT: &str = "supervisor";
/// The sender name of the kernel's own messages (its console output among them).
pub const KERNEL_SENDER: &str = "kernel";

/// What a request to a module was for, so the router knows what its reply answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelRequest {
    /// The kernel's own question for the time.
    Time,
    /// A call taken off the endpoint's kernel IPC queue (a native process's
    /// or a module's); the reply answers its token.
    Call { token: u64 },
    /// A supervisor command's `call`; the reply completes the command.
    Command { operation: u64 },
    /// A request whose answer nobody needs (closing a file the supervisor
    /// read); the answer is dropped.
    Discard,
    /// A test scenario's request; the reply is only counted.
    #[cfg(feature = "test-hooks")]
    Probe,
    /// A test scenario's request whose reply is kept for the scenario.
    #[cfg(feature = "test-hooks")]
    Collect,
}

/// A message a module sent to the `supervisor` endpoint (refused: commands
/// are calls).
pub struct CommandLine {
    pub from: String,
    pub bytes: Vec<u8>,
}

/// The endpoints and the requests in flight.
#[derive(Default)]
pub struct Router {
    /// Endpoint names; the id of `endpoints[i]` is `i + 1`.
    endpoints: Vec<String>,
    /// Endpoint name -> id.
    ids: HashMap<String, u64>,
    /// Requests in flight: id -> (the module asked, what for).
    pub(crate) requests: BTreeMap<u32, (usize, KernelRequest)>,
    /// The buffers lent with modules' calls (`ipc_call_lending`), by
    /// request: each holds its buffer until the request ends.
    pub(crate) loans: BTreeMap<u32, Loan>,
    /// Loans of requests that ended, for the event loop to give back
    /// (see `EventLoop::give_back_loans`).
    pub(crate) ended_loans: Vec<Loan>,
    /// The bytes of requests an instance took and left unanswered whose
    /// operation is idempotent: replayed if the instance restarts.
    replayable: BTreeMap<u32, Vec<u8>>,
    next_request: u32,
    /// Endpoints opened for processes: (the kernel's id for it, endpoint id).
    pub(crate) served_endpoints: Vec<(u64, u64)>,
    /// A module's inbox was full when processes had more for it: look again.
    pub(crate) look_again: bool,
    /// Answers to [`KernelRequest::Command`] requests, until the command takes them.
    answers: Vec<(u64, Result<Vec<u8>, IpcError>)>,
    /// Answers to modules' calls, until the event loop puts them in the
    /// callers' inboxes (see `super::calls`).
    pub(crate) call_answers: Vec<super::calls::CallAnswer>,
    /// Modules' calls, by the token of their IPC call, until answered or
    /// withdrawn (see `super::calls`).
    pub(crate) open_calls: BTreeMap<u64, super::calls::OpenCall>,
    /// What modules and native processes queued on the `supervisor`
    /// endpoint, until the event loop answers it (see `super::inspection`).
    pub(crate) supervisor_calls: Vec<super::services::EndpointMessage>,
    /// The kernel's console output went to the terminal's driver since the
    /// prompt's server was last told (see `super::prompt`).
    pub(crate) console_written: bool,
    /// Replies to [`KernelRequest::Probe`] so far.
    #[cfg(feature = "test-hooks")]
    pub probe_replies: u64,
    /// Replies to [`KernelRequest::Collect`] by request id, until taken.
    #[cfg(feature = "test-hooks")]
    pub collected_replies: BTreeMap<u32, Vec<u8>>,
}

/// The endpoints `plan` serves or is granted.
pub(crate) fn endpoints_of(plan: &ModulePlan) -> impl Iterator<Item = &str> {
    let granted = plan.grants.iter().filter_map(|grant| match grant {
        GrantLine::Endpoint { name } => Some(name.as_str()),
        _ => None,
    });
    plan.serves.iter().map(String::as_str).chain(granted)
}

impl Router {
    /// The endpoints `plans` serve or are granted, numbered in order.
    pub fn for_plans(plans: &[ModulePlan]) -> Self {
        let mut router = Router {
            next_request: 1,
            ..Router::default()
        };
        for name in plans.iter().flat_map(endpoints_of) {
            router.add_endpoint(name);
        }
        router
    }

    /// The id of endpoint `name`, numbering it next if it has none.
    pub fn add_endpoint(&mut self, name: &str) -> u64 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        self.endpoints.push(String::from(name));
        let id = self.endpoints.len() as u64;
        self.ids.insert(String::from(name), id);
        id
    }

    /// How many endpoints are numbered.
    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// Forgets the endpoints numbered after the first `count` (an install
    /// that was refused numbered them).
    pub fn forget_endpoints_after(&mut self, count: usize) {
        for name in self.endpoints.drain(count.min(self.endpoints.len())..) {
            self.ids.remove(&name);
        }
    }

    /// The id of endpoint `name`.
    pub fn endpoint_id(&self, name: &str) -> Option<u64> {
        self.ids.get(name).copied()
    }

    /// A trace entry as a person reads it: as the Wasm host writes it, with
    /// endpoints by name rather than by number.
    pub fn access_text(&self, access: &Access) -> String {
        format!(
            "{}",
            access.with_endpoint_names(&|id| self.endpoint_name(id))
        )
    }

    /// The name of endpoint `id` (`?` if there is none).
    pub fn endpoint_name(&self, id: u64) -> &str {
        usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| self.endpoints.get(index))
            .map_or("?", String::as_str)
    }

    /// A fresh request id for a request to module `server`.
    pub fn new_request(&mut self, server: usize, purpose: KernelRequest) -> u32 {
        let request = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        self.requests.insert(request, (server, purpose));
        request
    }

    /// Whether request `request` is in flight.
    pub fn is_open(&self, request: u32) -> bool {
        self.requests.contains_key(&request)
    }

    /// The reply token of request `request` if it is a call taken off an
    /// endpoint's queue.
    pub fn call_token(&self, request: u32) -> Option<u64> {
        match self.requests.get(&request) {
            Some((_, KernelRequest::Call { token })) => Some(*token),
            _ => None,
        }
    }

    /// Forgets request `request`.
    pub fn forget(&mut self, request: u32) {
        self.take(request);
    }

    /// Takes request `request` out of those in flight; a buffer lent with
    /// it is to be given back.
    fn take(&mut self, request: u32) -> Option<(usize, KernelRequest)> {
        self.replayable.remove(&request);
        if let Some(loan) = self.loans.remove(&request) {
            self.ended_loans.push(loan);
        }
        self.requests.remove(&request)
    }

    /// The buffer lent with request `request`, if any.
    pub fn loan_of(&self, request: u32) -> Option<Loan> {
        self.loans.get(&request).copied()
    }

    /// Keeps the bytes of request `request`, which an instance of a module
    /// serving `served` took and did not answer, if an interface of those
    /// endpoints declares its operation idempotent: a new instance may then
    /// be asked again (see `crate::supervisor::replay`).
    pub(crate) fn keep_if_idempotent(&mut self, request: u32, bytes: Vec<u8>, served: &[String]) {
        // Most requests are answered during their event: nothing to keep.
        if !self.requests.contains_key(&request) {
            return;
        }
        let idempotent = served
            .iter()
            .any(|endpoint| cella_interfaces::idempotent(endpoint, &bytes) == Some(true));
        if idempotent {
            self.replayable.insert(request, bytes);
        }
    }

    /// Whether request `request` may be replayed to a new instance.
    pub(crate) fn is_replayable(&self, request: u32) -> bool {
        self.replayable.contains_key(&request)
    }

    /// The bytes to replay request `request` with.
    pub(crate) fn replay_bytes(&mut self, request: u32) -> Option<Vec<u8>> {
        self.replayable.remove(&request)
    }

    /// The requests in flight to module `server`.
    pub fn requests_to(&self, server: usize) -> Vec<u32> {
        self.requests
            .iter()
            .filter(|(_, (asked, _))| *asked == server)
            .map(|(request, _)| *request)
            .collect()
    }

    /// Queues a request for the module serving `endpoint`; its id, or `None`
    /// if nobody serves it or its server takes no messages.
    pub fn request<K: KernelServices>(
        &mut self,
        table: &mut ModuleTable<K>,
        endpoint: &str,
        bytes: &[u8],
        purpose: KernelRequest,
    ) -> Option<u32> {
        let server = self
            .endpoint_id(endpoint)
            .and_then(|id| table.server_of(id))?;
        if !table.slots[server].accepts_messages() {
            return None;
        }
        let request = self.new_request(server, purpose);
        table.slots[server].inbox.push_back(Pending::Message {
            request,
            bytes: bytes.to_vec(),
        });
        Some(request)
    }

    /// Routes one message; one sent to `supervisor` comes back to the caller.
    pub fn route<K: KernelServices>(
        &mut self,
        message: Routed,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
    ) -> Option<CommandLine> {
        match message {
            Routed::Send {
                from,
                endpoint,
                bytes,
            } => {
                match self.endpoint_name(endpoint) {
                    SUPERVISOR_ENDPOINT => return Some(CommandLine { from, bytes }),
                    CONSOLE_OUTPUT_ENDPOINT if from == KERNEL_SENDER => {
                        self.console_written = true;
                    }
                    _ => {}
                }
                self.route_send(&from, endpoint, bytes, table, kernel);
            }
            Routed::Reply {
                from,
                request,
                bytes,
            } => self.route_reply(&from, request, bytes, kernel),
            Routed::Call {
                from,
                generation,
                endpoint,
                call,
                bytes,
                loan,
            } => self.route_call(
                &from, generation, endpoint, call, bytes, loan, table, kernel,
            ),
        }
        None
    }

    /// Queues a message on endpoint `endpoint`'s kernel IPC queue. What
    /// is not taken is logged, except console output, which the kernel
    /// writes itself when no driver takes it.
    fn route_send<K: KernelServices>(
        &mut self,
        from: &str,
        endpoint: u64,
        bytes: Vec<u8>,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
    ) {
        let endpoint_name = String::from(self.endpoint_name(endpoint));
        let refusal = match self.queue_of(endpoint, &endpoint_name, table, kernel) {
            Ok((opened, _)) => self
                .queue_on(opened, table, kernel, |kernel| {
                    kernel.send_on(opened, &bytes)
                })
                .err()
                .map(|error| format!("{error}")),
            Err(why) => Some(format!("{why}")),
        };
        let Some(why) = refusal else {
            return;
        };
        if endpoint_name == CONSOLE_OUTPUT_ENDPOINT {
            kernel.write_console(from, &bytes);
        } else {
            log::warn!(
                "message from {from} to `{endpoint_name}` ({} bytes) not delivered: {why}",
                bytes.len()
            );
        }
    }

    fn route_reply<K: KernelServices>(
        &mut self,
        from: &str,
        request: u32,
        bytes: Vec<u8>,
        kernel: &mut K,
    ) {
        let bytes = bytes.as_slice();
        match self.take(request) {
            Some((_, KernelRequest::Time)) => match cella_interfaces::rtc::time::reply(bytes) {
                Ok(Ok(time)) => log::info!("{from} answered the kernel's time request: {time}"),
                Ok(Err(error)) => log::warn!("{from} could not tell the time: {error}"),
                Err(error) => log::warn!(
                    "{from} answered the time request with {} bytes that are not a time: {error}",
                    bytes.len()
                ),
            },
            #[cfg(feature = "test-hooks")]
            Some((_, KernelRequest::Probe)) => self.probe_replies += 1,
            #[cfg(feature = "test-hooks")]
            Some((_, KernelRequest::Collect)) => {
                self.collected_replies.insert(request, bytes.to_vec());
            }
            // A module's reply is at most the ABI's one message limit, which
            // kernel IPC carries too.
            Some((_, purpose)) => self.deliver_answer(request, purpose, Ok(bytes), kernel),
            None => log::warn!("{from} replied to unknown request {request}; dropped"),
        }
    }

    /// Gives an answer to whoever waits for it: a process, a command's
    /// `call`, or the module that called. The kernel's own requests need no
    /// answer delivered.
    fn deliver_answer<K: KernelServices>(
        &mut self,
        request: u32,
        purpose: KernelRequest,
        answer: Result<&[u8], IpcError>,
        kernel: &mut K,
    ) {
        match purpose {
            // Unless the module's worker gave the reply to the caller already.
            KernelRequest::Call { token } if !kernel.answered_directly(request) => {
                kernel.answer_token(token, answer);
            }
            KernelRequest::Command { operation } => {
                self.answers.push((operation, answer.map(<[u8]>::to_vec)));
            }
            _ => {}
        }
    }

    /// Answers request `request` with an error now: the module will never
    /// answer it (it faulted, was stopped, held or restarted, refused the
    /// message or has no handler for it). A process waiting for it gets
    /// `error` at once instead of at its deadline.
    pub fn fail<K: KernelServices>(&mut self, request: u32, error: IpcError, kernel: &mut K) {
        if let Some((_, purpose)) = self.take(request) {
            self.deliver_answer(request, purpose, Err(error), kernel);
        }
    }

    /// A request the module never took (refused, or no handler).
    pub fn settle_refused<K: KernelServices>(
        &mut self,
        request: u32,
        delivery: Delivery,
        kernel: &mut K,
    ) {
        if request == 0 {
            return;
        }
        let error = match delivery {
            Delivery::Refused => IpcError::Full,
            _ => IpcError::Closed,
        };
        self.fail(request, error, kernel);
    }

    /// The answers commands' calls got since the last call.
    pub fn take_answers(&mut self) -> Vec<(u64, Result<Vec<u8>, IpcError>)> {
        core::mem::take(&mut self.answers)
    }
}
