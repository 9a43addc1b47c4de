//! Supervisor commands under way. A command is carried out by the event
//! loop, never by a loop of its own: one that needs an instance at rest
//! waits (as an operation) until the instance is home from its event, and
//! one with slow work (a swap's new version to prepare, a call to answer)
//! waits for that work while the loop goes on delivering events. Each turn
//! [`EventLoop::advance_operations`] moves every operation as far as it can
//! go; when it ends, its typed report goes to whoever asked.
//!
//! A hot swap goes through these stages: checked (the module runs, the file
//! exists, both versions fit its memory limit) -> preparing (the new version
//! is loaded and instantiated elsewhere while the old instance handles its
//! events) -> handing over (the old instance gets no new event; once it is
//! home its state moves to the new instance, which takes its place). Only
//! the hand-over stops the module's events: that is the blackout
//! `cargo cella bench` measures.

use super::event_loop::EventLoop;
use super::router::{CommandLine, KernelRequest, SUPERVISOR_ENDPOINT};
use super::services::{Finished, KernelServices, PreparedOf, PushRequest};
use super::slot::{ModuleState, Pending, SwapStage};
use super::table::{ModuleTable, account_of};
use crate::supervisor::command_line::Command;
use crate::supervisor::decisions::{SupervisorEvent, decide};
use crate::supervisor::report_text::text_of;
use crate::supervisor::reports::{
    CommandError, Installed, ModuleMemory, ModuleRow, Report, SwapReport,
};
use crate::system_manifest::ModulePlan;
use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::Capability;

/// Marker of a piece of an answer to a shell with more to come.
pub const MORE: [u8; 2] = [0x01, b'S'];
/// Marker of an answer's last piece.
pub const DONE: [u8; 2] = [0x02, b'S'];
/// Text bytes per answer message (plus the marker).
const PIECE_BYTES: usize = 2048;
/// How long a `call` waits for its reply.
pub const CALL_TIMEOUT_NS: u64 = 1_000_000_000;

/// Who asked for a command, and so gets its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// A module that sent a command line to the `supervisor` endpoint (the
    /// shell): the answer's text comes back as messages on the first
    /// endpoint it serves, each starting with [`MORE`] or, the last, [`DONE`].
    Module(String),
    /// The host, over the push link.
    Push,
    /// Kernel code (a test scenario): the report is kept until taken.
    Kernel,
}

/// What an operation is to do.
pub enum Task {
    Command(Command),
    /// Install a module pushed from the host under `target`.
    Install {
        target: String,
        bytes: Vec<u8>,
    },
}

/// Which instances an operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    One(usize),
    All,
}

enum Stage<K: KernelServices> {
    /// Waits until the instances are home, then carries out the task.
    WaitingHome { wait: Wait, task: Task },
    /// A swap's new version is being prepared elsewhere.
    Preparing {
        index: usize,
        started_at: u64,
        install: bool,
    },
    /// A swap waits for the old instance to come home, then hands over.
    HandingOver {
        index: usize,
        prepared: Box<PreparedOf<K>>,
        started_at: u64,
        events_stopped_at: u64,
        install: bool,
    },
    /// A call waits for its reply (from a module, or a process elsewhere).
    Calling {
        endpoint: String,
        deadline: u64,
        request: Option<u32>,
    },
}

impl<K: KernelServices> Stage<K> {
    /// The module this stage works on, if one.
    fn module(&self) -> Option<usize> {
        match self {
            Stage::WaitingHome {
                wait: Wait::One(index),
                ..
            }
            | Stage::Preparing { index, .. }
            | Stage::HandingOver { index, .. } => Some(*index),
            _ => None,
        }
    }
}

struct Operation<K: KernelServices> {
    id: u64,
    requester: Requester,
    stage: Stage<K>,
}

/// The commands under way, and finished reports kept for kernel code.
pub struct Operations<K: KernelServices> {
    under_way: Vec<Operation<K>>,
    next_id: u64,
    /// Reports for [`Requester::Kernel`], by operation id.
    kept: BTreeMap<u64, Result<Report, CommandError>>,
}

impl<K: KernelServices> Default for Operations<K> {
    fn default() -> Self {
        Operations {
            under_way: Vec::new(),
            next_id: 1,
            kept: BTreeMap::new(),
        }
    }
}

impl<K: KernelServices> Operations<K> {
    /// Whether module `index` gets no new event: a command waits for it to be home.
    pub fn holds(&self, index: usize) -> bool {
        self.under_way
            .iter()
            .any(|operation| match &operation.stage {
                Stage::WaitingHome { wait, .. } => *wait == Wait::All || *wait == Wait::One(index),
                Stage::HandingOver { index: held, .. } => *held == index,
                _ => false,
            })
    }

    /// Whether a command is under way on module `index`.
    fn busy(&self, index: usize) -> bool {
        self.under_way
            .iter()
            .any(|operation| operation.stage.module() == Some(index))
    }

    /// Whether any command is under way.
    pub fn any(&self) -> bool {
        !self.under_way.is_empty()
    }

    /// Takes the report of operation `id`, if it finished.
    pub fn take_report(&mut self, id: u64) -> Option<Result<Report, CommandError>> {
        self.kept.remove(&id)
    }
}

/// What carrying out a task came to.
enum Progress<K: KernelServices> {
    Finished(Box<Result<Report, CommandError>>),
    Next(Stage<K>),
}

impl<K: KernelServices> Progress<K> {
    fn finished(result: Result<Report, CommandError>) -> Self {
        Progress::Finished(Box::new(result))
    }
}

fn no_module(name: &str) -> CommandError {
    CommandError::NoSuchModule(String::from(name))
}

impl<K: KernelServices> EventLoop<K> {
    /// A command line a module sent to the `supervisor` endpoint.
    pub(crate) fn command_from_module(&mut self, line: CommandLine) {
        let requester = Requester::Module(line.from);
        match core::str::from_utf8(&line.bytes) {
            Ok(text) => match Command::parse(text) {
                Ok(command) => {
                    self.submit(requester, Task::Command(command));
                }
                Err(usage) => self.deliver(&requester, 0, Err(CommandError::Usage(usage))),
            },
            Err(_) => self.deliver(
                &requester,
                0,
                Err(CommandError::Usage(String::from(
                    "the command is not UTF-8",
                ))),
            ),
        }
    }

    /// Takes a module pushed from the host, if one arrived. Returns whether one did.
    pub(crate) fn take_push(&mut self) -> bool {
        match self.kernel.poll_push() {
            None => false,
            Some(PushRequest::Refused(reason)) => {
                let outcome = Err(format!("upload rejected: {reason}"));
                log::warn!("push: upload rejected: {reason}; nothing changed");
                self.kernel.answer_push(&outcome);
                true
            }
            Some(PushRequest::Install { target, bytes }) => {
                log::info!(
                    "push: {} bytes for {target} arrived from the host",
                    bytes.len()
                );
                self.submit(Requester::Push, Task::Install { target, bytes });
                true
            }
        }
    }

    /// Starts carrying out `task` for `requester`; returns the operation's
    /// id (its report goes to the requester when it ends, maybe at once).
    pub fn submit(&mut self, requester: Requester, task: Task) -> u64 {
        let id = self.operations.next_id;
        self.operations.next_id += 1;
        let progress = match self.wait_of(&task) {
            Err(error) => Progress::finished(Err(error)),
            Ok(Some(wait)) => Progress::Next(Stage::WaitingHome { wait, task }),
            Ok(None) => self.carry_out(id, task),
        };
        match progress {
            Progress::Finished(result) => self.deliver(&requester, id, *result),
            Progress::Next(stage) => {
                self.operations.under_way.push(Operation {
                    id,
                    requester,
                    stage,
                });
                self.advance_operations();
            }
        }
        id
    }

    /// Which instances `task` needs at rest (`None`: none), or why it cannot start.
    fn wait_of(&self, task: &Task) -> Result<Option<Wait>, CommandError> {
        let one = |name: &str| -> Result<Option<Wait>, CommandError> {
            let index = self.table.find(name).ok_or_else(|| no_module(name))?;
            if self.operations.busy(index) {
                return Err(CommandError::Busy {
                    module: String::from(name),
                });
            }
            Ok(Some(Wait::One(index)))
        };
        match task {
            Task::Command(command) => match command {
                Command::ProcessList | Command::Memory => Ok(Some(Wait::All)),
                Command::Capabilities { module } => {
                    let index = self.table.find(module).ok_or_else(|| no_module(module))?;
                    Ok(Some(Wait::One(index)))
                }
                Command::Restart { module }
                | Command::Stop { module }
                | Command::Start { module } => one(module),
                // A swap checks at once and waits only at its hand-over.
                Command::Swap { module, .. } => one(module).map(|_| None),
                _ => Ok(None),
            },
            Task::Install { target, .. } => match self.table.find(target) {
                Some(_) => one(target),
                None => Ok(None),
            },
        }
    }

    /// Moves every operation under way as far as it can go. Returns whether any moved.
    pub fn advance_operations(&mut self) -> bool {
        let mut finished: Vec<(u64, Finished<K>)> = self.kernel.take_finished();
        let mut answers = self.router.take_answers();
        if self.operations.under_way.is_empty() {
            return false;
        }
        let mut moved = false;
        let mut index = 0;
        while index < self.operations.under_way.len() {
            let operation = self.operations.under_way.swap_remove(index);
            let id = operation.id;
            let done_elsewhere = finished
                .iter()
                .position(|(of, _)| *of == id)
                .map(|at| finished.swap_remove(at).1);
            let answer = answers
                .iter()
                .position(|(of, _)| *of == id)
                .map(|at| answers.swap_remove(at).1);
            match self.advance(id, operation.stage, done_elsewhere, answer) {
                (Progress::Finished(result), _) => {
                    moved = true;
                    self.deliver(&operation.requester, id, *result);
                }
                (Progress::Next(stage), changed) => {
                    moved |= changed;
                    self.operations.under_way.push(Operation {
                        id,
                        requester: operation.requester,
                        stage,
                    });
                    let last = self.operations.under_way.len() - 1;
                    self.operations.under_way.swap(index, last);
                    index += 1;
                }
            }
        }
        moved
    }

    /// One operation's next step; whether it changed.
    fn advance(
        &mut self,
        id: u64,
        stage: Stage<K>,
        done_elsewhere: Option<Finished<K>>,
        answer: Option<Result<Vec<u8>, crate::ipc::IpcError>>,
    ) -> (Progress<K>, bool) {
        match stage {
            Stage::WaitingHome { wait, task } => {
                let home = match wait {
                    Wait::One(index) => !self.table.slots[index].away,
                    Wait::All => self.all_home(),
                };
                if home {
                    (self.carry_out(id, task), true)
                } else {
                    (Progress::Next(Stage::WaitingHome { wait, task }), false)
                }
            }
            Stage::Preparing {
                index,
                started_at,
                install,
            } => match done_elsewhere {
                Some(Finished::Prepared(prepared)) => {
                    (self.prepared(index, prepared, started_at, install), true)
                }
                _ => (
                    Progress::Next(Stage::Preparing {
                        index,
                        started_at,
                        install,
                    }),
                    false,
                ),
            },
            Stage::HandingOver {
                index,
                prepared,
                started_at,
                events_stopped_at,
                install,
            } => {
                if self.table.slots[index].away {
                    return (
                        Progress::Next(Stage::HandingOver {
                            index,
                            prepared,
                            started_at,
                            events_stopped_at,
                            install,
                        }),
                        false,
                    );
                }
                let result = self.hand_over(index, prepared, started_at, events_stopped_at);
                let result = match (result, install) {
                    (Ok(swap), true) => Ok(Report::Installed(Installed::Swapped(swap))),
                    (Ok(swap), false) => Ok(Report::Swapped(swap)),
                    (Err(error), _) => Err(error),
                };
                (Progress::finished(result), true)
            }
            Stage::Calling {
                endpoint,
                deadline,
                request,
            } => {
                let reply = match (done_elsewhere, answer) {
                    (Some(Finished::Called(reply)), _) => Some(reply),
                    (_, Some(answer)) => Some(answer.map_err(|error| format!("{error}"))),
                    _ if self.kernel.now() >= deadline => {
                        if let Some(request) = request {
                            self.router.forget(request);
                        }
                        Some(Err(String::from("no reply within 1 s")))
                    }
                    _ => None,
                };
                match reply {
                    Some(Ok(bytes)) => (
                        Progress::finished(Ok(Report::Reply { endpoint, bytes })),
                        true,
                    ),
                    Some(Err(why)) => (
                        Progress::finished(Err(CommandError::CallFailed { endpoint, why })),
                        true,
                    ),
                    None => (
                        Progress::Next(Stage::Calling {
                            endpoint,
                            deadline,
                            request,
                        }),
                        false,
                    ),
                }
            }
        }
    }

    /// Carries out `task` with the instances it needs at rest.
    fn carry_out(&mut self, id: u64, task: Task) -> Progress<K> {
        let command = match task {
            Task::Install { target, bytes } => return self.install(id, &target, bytes),
            Task::Command(command) => command,
        };
        let done = |result| Progress::finished(result);
        match command {
            Command::Nothing => done(Ok(Report::Nothing)),
            Command::Help => done(Ok(Report::Help)),
            Command::ProcessList => done(Ok(self.process_list())),
            Command::Capabilities { module } => done(self.capabilities_of(&module)),
            Command::Log { lines } => done(Ok(Report::Log {
                faults: self.records.all().cloned().collect(),
                lines,
                tail: self.kernel.log_tail(lines),
            })),
            Command::Restart { module } => done(self.by_hand(&module, Hand::Restart)),
            Command::Stop { module } => done(self.by_hand(&module, Hand::Stop)),
            Command::Start { module } => done(self.by_hand(&module, Hand::Start)),
            Command::Swap { module, file } => {
                let bytes = self.table.archive_file(&file);
                match bytes {
                    Ok(bytes) => self.start_swap(id, &module, Cow::Borrowed(bytes), false),
                    Err(problem) => done(Err(CommandError::Refused(problem))),
                }
            }
            Command::Trace { module, on } => done(match self.table.find(&module) {
                Some(index) => {
                    self.table.slots[index].tracing = on;
                    Ok(Report::Trace { module, on })
                }
                None => Err(no_module(&module)),
            }),
            Command::Send { endpoint, text } => done(self.send_by_hand(&endpoint, &text)),
            Command::Call { endpoint, text } => self.call(id, endpoint, text.into_bytes()),
            Command::Uptime => done(Ok(Report::Uptime {
                nanoseconds: self.kernel.now(),
            })),
            Command::Memory => done(Ok(self.memory_report())),
        }
    }

    /// Delivers an operation's result to whoever asked.
    fn deliver(&mut self, requester: &Requester, id: u64, result: Result<Report, CommandError>) {
        match requester {
            Requester::Kernel => {
                self.operations.kept.insert(id, result);
            }
            Requester::Push => {
                let outcome = match &result {
                    Ok(report) => Ok(String::from(text_of(&Ok(report.clone())).trim_end())),
                    Err(error) => Err(format!("{error}")),
                };
                match &outcome {
                    Ok(text) => log::info!("push: {text}"),
                    Err(text) => log::warn!("push: {text}; nothing changed"),
                }
                self.kernel.answer_push(&outcome);
            }
            Requester::Module(from) => self.answer_shell(from, &text_of(&result)),
        }
    }

    /// Sends `answer` to module `from` on the first endpoint it serves, in
    /// pieces marked [`MORE`] and [`DONE`], with `\r\n` line ends.
    fn answer_shell(&mut self, from: &str, answer: &str) {
        let Some(reply_to) = self
            .table
            .find(from)
            .and_then(|index| self.table.slots[index].serves.first().copied())
            .and_then(|endpoint| self.table.server_of(endpoint))
        else {
            log::warn!("supervisor: {from} sent a command but serves no endpoint to answer on");
            return;
        };
        let text = answer.replace('\n', "\r\n");
        let pieces: Vec<&[u8]> = text.as_bytes().chunks(PIECE_BYTES).collect();
        let count = pieces.len().max(1);
        for index in 0..count {
            let mut message = Vec::with_capacity(PIECE_BYTES + 2);
            message.extend_from_slice(if index + 1 == count { &DONE } else { &MORE });
            message.extend_from_slice(pieces.get(index).copied().unwrap_or_default());
            self.table.slots[reply_to]
                .inbox
                .push_back(Pending::Message {
                    request: 0,
                    bytes: message,
                });
        }
    }

    /// Runs `command` to its end, driving the loop meanwhile; for kernel
    /// code that is itself the loop's driver (the test kernel's scenarios).
    pub fn run_command(&mut self, command: Command) -> Result<Report, CommandError> {
        self.run_task(Task::Command(command))
    }

    /// As [`EventLoop::run_command`], for any task.
    pub fn run_task(&mut self, task: Task) -> Result<Report, CommandError> {
        let id = self.submit(Requester::Kernel, task);
        loop {
            if let Some(report) = self.operations.take_report(id) {
                return report;
            }
            if !self.step() {
                self.kernel.wait_for_work();
            }
        }
    }

    fn process_list(&self) -> Report {
        let modules = self
            .table
            .slots
            .iter()
            .map(|slot| {
                let (fuel, memory_kib, log_lines_dropped) =
                    slot.sandbox.as_ref().map_or((0, 0, 0), |sandbox| {
                        let counters = sandbox.counters();
                        (
                            counters.fuel_used,
                            sandbox.memory_pages() * 64,
                            counters.log_lines_dropped,
                        )
                    });
                let (warnings_dropped, lines_held_back) =
                    self.kernel.console_lines_held_back(&slot.plan.name);
                ModuleRow {
                    name: slot.plan.name.clone(),
                    version: String::from(
                        slot.module.as_ref().map_or("-", |module| module.version()),
                    ),
                    generation: slot.generation,
                    state: slot.state.name(),
                    restarts: slot.tracker.restarts,
                    events: slot.events_handled,
                    fuel,
                    memory_kib,
                    log_lines_dropped,
                    warnings_dropped,
                    lines_held_back,
                }
            })
            .collect();
        Report::ProcessList {
            modules,
            processes: self.kernel.process_rows(),
        }
    }

    fn capabilities_of(&self, name: &str) -> Result<Report, CommandError> {
        let index = self.table.find(name).ok_or_else(|| no_module(name))?;
        let slot = &self.table.slots[index];
        let held = match &slot.sandbox {
            Some(sandbox) if slot.state.is_up() => Some((
                sandbox.generation(),
                sandbox
                    .capabilities()
                    .iter()
                    .map(|capability| format!("{capability}"))
                    .collect(),
            )),
            _ => None,
        };
        Ok(Report::Capabilities {
            module: String::from(name),
            grants: slot
                .plan
                .grants
                .iter()
                .map(|grant| format!("{grant}"))
                .collect(),
            serves: slot.plan.serves.clone(),
            held,
            state: slot.state.name(),
        })
    }

    fn memory_report(&self) -> Report {
        let modules = self
            .table
            .slots
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                let (heap_bytes, limit_bytes) = self.kernel.memory_of(account_of(index));
                // DMA comes from physical frames, not the heap, and is bounded
                // by the module's grant.
                let dma = slot
                    .sandbox
                    .as_ref()
                    .map(|sandbox| {
                        sandbox
                            .capabilities()
                            .iter()
                            .fold((0u64, 0u64), |total, capability| match capability {
                                Capability::DmaPool { budget, used } => (
                                    total.0.saturating_add(*used),
                                    total.1.saturating_add(*budget),
                                ),
                                _ => total,
                            })
                    })
                    .filter(|&(_, granted)| granted > 0);
                ModuleMemory {
                    name: slot.plan.name.clone(),
                    heap_bytes,
                    limit_bytes,
                    dma,
                }
            })
            .collect();
        Report::Memory {
            machine: self.kernel.machine_memory(),
            modules,
        }
    }

    /// `send ENDPOINT TEXT`: queues TEXT for the module serving ENDPOINT (no reply expected).
    fn send_by_hand(&mut self, endpoint: &str, text: &str) -> Result<Report, CommandError> {
        let server = self
            .router
            .endpoint_id(endpoint)
            .and_then(|id| self.table.server_of(id))
            .ok_or_else(|| CommandError::NoServer(String::from(endpoint)))?;
        let slot = &mut self.table.slots[server];
        if !slot.accepts_messages() {
            return Err(CommandError::NotRunning {
                module: slot.plan.name.clone(),
                state: slot.state.name(),
            });
        }
        slot.inbox.push_back(Pending::Message {
            request: 0,
            bytes: text.as_bytes().to_vec(),
        });
        Ok(Report::Sent {
            bytes: text.len(),
            endpoint: String::from(endpoint),
            module: slot.plan.name.clone(),
        })
    }

    /// `call ENDPOINT TEXT`: a request to the module serving ENDPOINT (its
    /// reply completes the command), or a call to the native process
    /// serving it, made elsewhere.
    fn call(&mut self, id: u64, endpoint: String, bytes: Vec<u8>) -> Progress<K> {
        let deadline = self.kernel.now().saturating_add(CALL_TIMEOUT_NS);
        if endpoint == SUPERVISOR_ENDPOINT {
            return Progress::finished(Err(CommandError::CallFailed {
                endpoint,
                why: String::from("the supervisor takes commands, not calls"),
            }));
        }
        let server = self
            .router
            .endpoint_id(&endpoint)
            .and_then(|endpoint| self.table.server_of(endpoint));
        let Some(server) = server else {
            if !self.kernel.process_serves(&endpoint) {
                return Progress::finished(Err(CommandError::NoServer(endpoint)));
            }
            self.kernel
                .call_process_elsewhere(id, endpoint.clone(), bytes);
            return Progress::Next(Stage::Calling {
                endpoint,
                deadline,
                request: None,
            });
        };
        let slot = &self.table.slots[server];
        if !slot.accepts_messages() {
            return Progress::finished(Err(CommandError::NotRunning {
                module: slot.plan.name.clone(),
                state: slot.state.name(),
            }));
        }
        let request = self
            .router
            .new_request(server, KernelRequest::Command { operation: id });
        self.table.slots[server]
            .inbox
            .push_back(Pending::Message { request, bytes });
        Progress::Next(Stage::Calling {
            endpoint,
            deadline,
            request: Some(request),
        })
    }

    /// `restart`, `stop` or `start` by hand, with the instance home.
    fn by_hand(&mut self, name: &str, hand: Hand) -> Result<Report, CommandError> {
        let index = self.table.find(name).ok_or_else(|| no_module(name))?;
        let slot = &mut self.table.slots[index];
        let running = slot.state.is_up();
        let event = match hand {
            Hand::Stop if !running => {
                return Err(CommandError::NotRunning {
                    module: String::from(name),
                    state: slot.state.name(),
                });
            }
            Hand::Start if running => return Err(CommandError::AlreadyRunning(String::from(name))),
            Hand::Stop => SupervisorEvent::StopAsked { running },
            Hand::Start => SupervisorEvent::StartAsked,
            Hand::Restart => SupervisorEvent::RestartAsked { running },
        };
        if slot.module.is_none() {
            return Err(CommandError::Refused(format!(
                "{name} was never loaded (refused or missing at boot)"
            )));
        }
        let actions = decide(event, &slot.policy, &mut slot.tracker);
        self.apply(index, actions, 0);
        // A start that faulted is contained like any fault: the state says
        // what the policy made of it (restarting, held).
        let slot = &self.table.slots[index];
        match hand {
            Hand::Stop => Ok(Report::Stopped {
                module: String::from(name),
            }),
            _ => Ok(Report::Restarted {
                module: String::from(name),
                state: slot.state.name(),
            }),
        }
    }

    /// Checks a swap of module `name` to `bytes` and starts preparing the new version.
    fn start_swap(
        &mut self,
        id: u64,
        name: &str,
        bytes: Cow<'static, [u8]>,
        install: bool,
    ) -> Progress<K> {
        let Some(index) = self.table.find(name) else {
            return Progress::finished(Err(no_module(name)));
        };
        let slot = &self.table.slots[index];
        if !slot.is_running() {
            return Progress::finished(Err(CommandError::NotRunning {
                module: String::from(name),
                state: slot.state.name(),
            }));
        }
        let started_at = self.kernel.now();
        // The new version is charged to the module's account while the old
        // one still holds its share: both together must fit its limit.
        let account = account_of(index);
        if let Err(why) = self.kernel.admit_load(account, bytes.len()) {
            return Progress::finished(Err(CommandError::SwapFailed(format!(
                "not enough kernel memory for a second instance: {why}"
            ))));
        }
        let grant = ModuleTable::<K>::grant_for(&slot.plan, &self.router);
        let preparer = self.table.runtime.preparer();
        self.kernel
            .prepare_elsewhere(id, preparer, slot.plan.name.clone(), bytes, grant, account);
        self.table.slots[index].state = ModuleState::Swapping(SwapStage::Preparing);
        Progress::Next(Stage::Preparing {
            index,
            started_at,
            install,
        })
    }

    /// The new version is prepared (or not): on to the hand-over.
    fn prepared(
        &mut self,
        index: usize,
        prepared: Result<Box<PreparedOf<K>>, String>,
        started_at: u64,
        install: bool,
    ) -> Progress<K> {
        let slot = &mut self.table.slots[index];
        let name = slot.plan.name.clone();
        let over_limit = self.kernel.over_memory_limit(account_of(index));
        let result = match (prepared, over_limit) {
            (Err(problem), _) => Err(CommandError::SwapFailed(problem)),
            (Ok(_), Some(why)) => Err(CommandError::SwapFailed(format!(
                "the new version does not fit beside the old one: {why}"
            ))),
            (Ok(_), None) if slot.state != ModuleState::Swapping(SwapStage::Preparing) => {
                Err(CommandError::SwapFailed(format!(
                    "{name} stopped running while its new version was prepared ({})",
                    slot.state.name()
                )))
            }
            (Ok(prepared), None) => Ok(prepared),
        };
        match result {
            Ok(prepared) => {
                slot.state = ModuleState::Swapping(SwapStage::HandingOver);
                Progress::Next(Stage::HandingOver {
                    index,
                    prepared,
                    started_at,
                    events_stopped_at: self.kernel.now(),
                    install,
                })
            }
            Err(error) => {
                if slot.state == ModuleState::Swapping(SwapStage::Preparing) {
                    slot.state = ModuleState::Running;
                }
                Progress::finished(Err(error))
            }
        }
    }

    /// Moves module `index`'s state into `prepared`, which takes its place.
    fn hand_over(
        &mut self,
        index: usize,
        prepared: Box<PreparedOf<K>>,
        started_at: u64,
        events_stopped_at: u64,
    ) -> Result<SwapReport, CommandError> {
        let slot = &mut self.table.slots[index];
        let name = slot.plan.name.clone();
        let swapping = slot.state == ModuleState::Swapping(SwapStage::HandingOver);
        let (old_version, old_state) = slot.module.as_ref().map_or((String::new(), 0), |module| {
            (String::from(module.version()), module.state_version())
        });
        let new = prepared.module().clone();
        let sandbox = match slot.sandbox.as_mut() {
            Some(sandbox) if swapping && sandbox.is_alive() => sandbox,
            _ => {
                return Err(CommandError::SwapFailed(format!(
                    "{name} stopped running while its new version was prepared ({})",
                    slot.state.name()
                )));
            }
        };
        slot.state = ModuleState::Running;
        let runtime = &mut self.table.runtime;
        self.kernel
            .charge(account_of(index), || runtime.swap_prepared(sandbox, *prepared))
            .map_err(|error| {
                CommandError::SwapFailed(format!(
                    "swap of {name} {old_version} (state format {old_state}) to {} (state format {}) failed at {:?}: {}; the old version keeps running",
                    new.version(),
                    new.state_version(),
                    error.stage,
                    error.fault
                ))
            })?;
        let handed_over_at = self.kernel.now();
        let old_generation = slot.generation;
        slot.generation = sandbox.generation();
        // The new version took over the old one's calls.
        self.router
            .rebase_calls(index, old_generation, slot.generation);
        let report = SwapReport {
            module: name,
            old_version,
            new_version: String::from(new.version()),
            old_state_format: old_state,
            new_state_format: new.state_version(),
            generation: slot.generation,
            total_ns: handed_over_at - started_at,
            blackout_ns: handed_over_at - events_stopped_at,
            queued: slot.inbox.len(),
        };
        slot.module = Some(new);
        log::info!("{report}");
        Ok(report)
    }

    /// Installs a module pushed from the host: a hot swap if `target` is
    /// running; otherwise it is loaded and started under `target`'s grant
    /// from the system manifest, or, for a name the manifest does not know,
    /// as a new module with no capabilities beyond logging and time.
    fn install(&mut self, id: u64, target: &str, bytes: Vec<u8>) -> Progress<K> {
        let finished = Progress::finished;
        if let Some(index) = self.table.find(target) {
            if self.table.slots[index].is_running() {
                return self.start_swap(id, target, Cow::Owned(bytes), true);
            }
            let plan = self.table.slots[index].plan.clone();
            let module = match self
                .table
                .load_bytes(&plan, &bytes, &self.router, &self.kernel)
            {
                Ok(module) => module,
                Err(problem) => return finished(Err(CommandError::Refused(problem))),
            };
            let slot = &mut self.table.slots[index];
            slot.module = Some(module);
            slot.sandbox = None;
            return finished(self.by_hand(target, Hand::Restart).map(|report| {
                let state = match report {
                    Report::Restarted { state, .. } => state,
                    _ => "running",
                };
                Report::Installed(Installed::Started {
                    module: String::from(target),
                    state,
                })
            }));
        }
        let plan = ModulePlan {
            name: String::from(target),
            file: String::from("(pushed from the host)"),
            ..Default::default()
        };
        let module = match self
            .table
            .load_bytes(&plan, &bytes, &self.router, &self.kernel)
        {
            Ok(module) => module,
            Err(problem) => return finished(Err(CommandError::Refused(problem))),
        };
        let version = String::from(module.version());
        finished(
            self.add_module(plan, module)
                .map(|_| {
                    Report::Installed(Installed::New {
                        module: String::from(target),
                        version,
                    })
                })
                .map_err(CommandError::Refused),
        )
    }
}

/// A command a person gives about one module.
#[derive(Clone, Copy)]
enum Hand {
    Restart,
    Stop,
    Start,
}
