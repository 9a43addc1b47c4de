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
use super::prompt::PROMPT_ENDPOINT;
use super::router::CommandLine;
use super::services::{Finished, KernelServices, PreparedOf, PushRequest};
use crate::supervisor::command_line::Command;
use crate::supervisor::report_text::text_of;
use crate::supervisor::reports::{CommandError, Installed, Report};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// How long a `call` waits for its reply.
pub const CALL_TIMEOUT_NS: u64 = 1_000_000_000;

/// Who asked for a command, and so gets its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// The module serving `console` (the shell), which called `run` on the
    /// typed `supervisor` interface: its call waits in
    /// `EventLoop::command_calls` under the operation's id and is answered
    /// with the report when the command ends (see `super::command_calls`).
    Caller,
    /// The host, over the push link.
    Push,
    /// The host's command (`cargo cella ps`, ...) over the push link: the
    /// answer is the text the shell would print, framed.
    Host,
    /// Kernel code (a test scenario): the report is kept until taken.
    Kernel,
    /// The boot: the outcome goes to the kernel log.
    Log,
}

/// What an operation is to do.
pub enum Task {
    Command(Command),
    /// Load module `module` from `path` on the file system and start it
    /// (its manifest entry names the file).
    Load {
        module: String,
        path: String,
    },
    /// Install a module pushed from the host under `target`.
    Install {
        target: String,
        bytes: Vec<u8>,
    },
    /// Install a module pushed from the host under `target` with its system
    /// manifest entry (see `super::install`).
    InstallGranted {
        target: String,
        entry: String,
        bytes: Vec<u8>,
    },
}

/// Which instances an operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wait {
    One(usize),
    All,
}

pub(super) enum Stage<K: KernelServices> {
    /// Waits until the instances are home, then carries out the task.
    WaitingHome { wait: Wait, task: Task },
    /// A swap's new version is being prepared elsewhere.
    Preparing {
        index: usize,
        started_at: u64,
        install: bool,
        /// Refuse a new version whose manifest names another module.
        check_name: bool,
    },
    /// A swap waits for the old instance to come home, then hands over.
    HandingOver {
        index: usize,
        prepared: Box<PreparedOf<K>>,
        started_at: u64,
        events_stopped_at: u64,
        install: bool,
    },
    /// A module file is read from or written to the file server
    /// (`super::disk_files`).
    Transferring(Box<super::disk_files::Transfer>),
    /// A call waits for its reply (from a module, or a process elsewhere).
    Calling {
        endpoint: String,
        /// The bytes sent.
        sent: Vec<u8>,
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
    /// A pushed module to write to the file system once the operation
    /// succeeds (`cargo cella push --persist`).
    keep: Option<Keep>,
}

/// A module file to write when an operation succeeds.
pub struct Keep {
    /// Where, on the file system.
    pub path: String,
    pub bytes: Vec<u8>,
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

    /// The id the next operation submitted gets.
    pub(super) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Takes the report of operation `id`, if it finished.
    pub fn take_report(&mut self, id: u64) -> Option<Result<Report, CommandError>> {
        self.kept.remove(&id)
    }
}

/// What carrying out a task came to.
pub(super) enum Progress<K: KernelServices> {
    Finished(Box<Result<Report, CommandError>>),
    Next(Stage<K>),
}

impl<K: KernelServices> Progress<K> {
    pub(super) fn finished(result: Result<Report, CommandError>) -> Self {
        Progress::Finished(Box::new(result))
    }
}

pub(super) fn no_module(name: &str) -> CommandError {
    CommandError::NoSuchModule(String::from(name))
}

impl<K: KernelServices> EventLoop<K> {
    /// A message a module sent to the `supervisor` endpoint (`ipc_send`):
    /// never run. Commands come only as calls of the typed interface's
    /// `run` from the server of [`PROMPT_ENDPOINT`] (the shell), answered
    /// with a reply (see `super::command_calls`); the message is refused
    /// with one warning in the log, and nothing is answered.
    pub(crate) fn command_from_module(&mut self, line: CommandLine) {
        log::warn!(
            "supervisor: command line from {} refused ({} bytes sent with ipc_send, not run): commands are calls of the `supervisor` interface's `run`, answered only to the server of `{PROMPT_ENDPOINT}` (the shell)",
            line.from,
            line.bytes.len()
        );
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
            Some(PushRequest::Command(line)) => {
                self.command_from_host(&line);
                true
            }
            Some(PushRequest::CommandRefused(reason)) => {
                log::warn!("push: command rejected: {reason}; nothing done");
                self.kernel
                    .answer_command(&Err(format!("error: command rejected: {reason}\n")));
                true
            }
            Some(PushRequest::Install {
                target,
                bytes,
                persist,
            }) => {
                log::info!(
                    "push: {} bytes for {target} arrived from the host",
                    bytes.len()
                );
                let keep = if persist {
                    match self.keep_of(&target, &bytes) {
                        Ok(keep) => Some(keep),
                        Err(why) => {
                            self.deliver(&Requester::Push, 0, Err(CommandError::Refused(why)));
                            return true;
                        }
                    }
                } else {
                    None
                };
                self.submit_keeping(Requester::Push, Task::Install { target, bytes }, keep);
                true
            }
            Some(PushRequest::InstallGranted {
                target,
                entry,
                bytes,
            }) => {
                log::info!(
                    "push: {} bytes for {target} arrived from the host with its manifest entry",
                    bytes.len()
                );
                let task = Task::InstallGranted {
                    target,
                    entry,
                    bytes,
                };
                self.submit(Requester::Push, task);
                true
            }
        }
    }

    /// Starts carrying out `task` for `requester`; returns the operation's
    /// id (its report goes to the requester when it ends, maybe at once).
    pub fn submit(&mut self, requester: Requester, task: Task) -> u64 {
        self.submit_keeping(requester, task, None)
    }

    /// [`EventLoop::submit`], writing `keep` to the file system if the task
    /// succeeds; the report says whether that worked too.
    pub fn submit_keeping(&mut self, requester: Requester, task: Task, keep: Option<Keep>) -> u64 {
        let id = self.operations.next_id;
        self.operations.next_id += 1;
        let mut keep = keep;
        let progress = match self.wait_of(&task) {
            Err(error) => Progress::finished(Err(error)),
            Ok(Some(wait)) => Progress::Next(Stage::WaitingHome { wait, task }),
            Ok(None) => self.carry_out(id, task),
        };
        let progress = match progress {
            Progress::Finished(result) => self.conclude(id, &mut keep, *result),
            next => next,
        };
        match progress {
            Progress::Finished(result) => self.deliver(&requester, id, *result),
            Progress::Next(stage) => {
                self.operations.under_way.push(Operation {
                    id,
                    requester,
                    stage,
                    keep,
                });
                self.advance_operations();
            }
        }
        id
    }

    /// An operation's result, or, if it succeeded with a module to keep,
    /// the writing of that module's file.
    fn conclude(
        &mut self,
        id: u64,
        keep: &mut Option<Keep>,
        result: Result<Report, CommandError>,
    ) -> Progress<K> {
        match (keep.take(), result) {
            (Some(keep), Ok(report)) => self.write_module_file(id, keep.path, keep.bytes, report),
            (_, result) => Progress::finished(result),
        }
    }

    /// Where module `target`'s pushed `bytes` are kept: the file its
    /// manifest entry names, or `/modules/TARGET.wasm`.
    ///
    /// # Errors
    /// No kernel memory for a copy of the bytes.
    fn keep_of(&self, target: &str, bytes: &[u8]) -> Result<Keep, String> {
        let path = self
            .table
            .find(target)
            .map(|index| &self.table.slots[index].plan.file)
            .filter(|file| super::lifecycle::is_file_system_path(file))
            .cloned()
            .unwrap_or_else(|| format!("/modules/{target}.wasm"));
        let mut copy = Vec::new();
        copy.try_reserve_exact(bytes.len()).map_err(|_| {
            format!(
                "no kernel memory to keep {} bytes; nothing changed",
                bytes.len()
            )
        })?;
        copy.extend_from_slice(bytes);
        Ok(Keep { path, bytes: copy })
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
                Command::Remove { module, .. } => one(module),
                Command::Capabilities { module } => {
                    let index = self.table.find(module).ok_or_else(|| no_module(module))?;
                    Ok(Some(Wait::One(index)))
                }
                Command::Restart { module }
                | Command::Stop { module, .. }
                | Command::Start { module } => one(module),
                // A swap checks at once and waits only at its hand-over.
                Command::Swap { module, .. } => one(module).map(|_| None),
                // `start /PATH`: which module the file holds is known once it is read.
                _ => Ok(None),
            },
            Task::Load { module, .. } => one(module).map(|_| None),
            Task::Install { target, .. } | Task::InstallGranted { target, .. } => {
                match self.table.find(target) {
                    Some(_) => one(target),
                    None => Ok(None),
                }
            }
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
            let mut keep = operation.keep;
            let advanced = match self.advance(id, operation.stage, done_elsewhere, answer) {
                (Progress::Finished(result), _) => (self.conclude(id, &mut keep, *result), true),
                next => next,
            };
            match advanced {
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
                        keep,
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
                check_name,
            } => match done_elsewhere {
                Some(Finished::Prepared(prepared)) => (
                    self.prepared(index, prepared, started_at, install, check_name),
                    true,
                ),
                _ => (
                    Progress::Next(Stage::Preparing {
                        index,
                        started_at,
                        install,
                        check_name,
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
                // The old instance hands over at rest: home, and no handler
                // of it half way through, waiting for an answer.
                let slot = &self.table.slots[index];
                if slot.away || slot.waiting_for().is_some() {
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
            Stage::Transferring(transfer) => self.advance_transfer(id, transfer, answer),
            Stage::Calling {
                endpoint,
                sent,
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
                        Progress::finished(Ok(Report::Reply {
                            endpoint,
                            request: sent,
                            bytes,
                        })),
                        true,
                    ),
                    Some(Err(why)) => (
                        Progress::finished(Err(CommandError::CallFailed { endpoint, why })),
                        true,
                    ),
                    None => (
                        Progress::Next(Stage::Calling {
                            endpoint,
                            sent,
                            deadline,
                            request,
                        }),
                        false,
                    ),
                }
            }
        }
    }

    /// Delivers an operation's result to whoever asked.
    pub(super) fn deliver(
        &mut self,
        requester: &Requester,
        id: u64,
        result: Result<Report, CommandError>,
    ) {
        match requester {
            Requester::Kernel => {
                self.operations.kept.insert(id, result);
            }
            Requester::Log => match &result {
                Ok(report) => log::info!("{}", text_of(&Ok(report.clone())).trim_end()),
                Err(error) => log::warn!("{error}"),
            },
            Requester::Push => {
                let outcome = match &result {
                    Ok(report) => Ok(String::from(text_of(&Ok(report.clone())).trim_end())),
                    Err(error) => Err(format!("{error}")),
                };
                match &outcome {
                    Ok(text) => log::info!("push: {text}"),
                    Err(text) if text.ends_with("nothing changed") => log::warn!("push: {text}"),
                    Err(text) => log::warn!("push: {text}; nothing changed"),
                }
                self.kernel.answer_push(&outcome);
            }
            Requester::Caller => self.answer_command_call(id, result),
            Requester::Host => {
                let text = text_of(&result);
                self.kernel
                    .answer_command(&if result.is_ok() { Ok(text) } else { Err(text) });
            }
        }
    }
}
