//! The supervisor's commands carried out on the module system: the ones that
//! read the table (`ps`, `caps`, `mem`, `log`), send (`send`, `call`) or
//! change one module by hand (`restart`, `stop`, `start`). Each ends in a
//! typed [`Report`] or [`CommandError`]; a swap goes on in [`super::swap`].

use super::event_loop::EventLoop;
use super::operations::{CALL_TIMEOUT_NS, Progress, Stage, Task, no_module};
use super::router::{CONSOLE_OUTPUT_ENDPOINT, KernelRequest, SUPERVISOR_ENDPOINT};
use super::services::KernelServices;
use super::slot::{InstanceFigures, ModuleState, Pending, Slot};
use super::table::account_of;
use crate::supervisor::command_line::Command;
use crate::supervisor::decisions::{SupervisorEvent, decide};
use crate::supervisor::reports::{CommandError, ListRow, ModuleMemory, ModuleRow, Report};
use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::Capability;

/// Whether `slot`'s module drives the console (serves the endpoint console
/// output goes to, and so carries what is typed too).
pub(super) fn serves_console<K: KernelServices>(slot: &Slot<K>) -> bool {
    slot.plan
        .serves
        .iter()
        .any(|served| served == CONSOLE_OUTPUT_ENDPOINT)
}

impl<K: KernelServices> EventLoop<K> {
    /// Carries out `task` with the instances it needs at rest.
    pub(super) fn carry_out(&mut self, id: u64, task: Task) -> Progress<K> {
        let command = match task {
            Task::Install { target, bytes } => return self.install(id, &target, bytes),
            Task::InstallGranted {
                target,
                entry,
                bytes,
            } => return self.install_granted(id, &target, &entry, bytes),
            Task::Load { module, path } => {
                return self.read_module_file(
                    id,
                    path,
                    super::disk_files::Purpose::Load { module },
                );
            }
            Task::Command(command) => command,
        };
        let done = |result| Progress::finished(result);
        match command {
            Command::Nothing => done(Ok(Report::Nothing)),
            Command::Help => done(Ok(Report::Help)),
            Command::ProcessList => done(Ok(self.process_list())),
            Command::List => done(Ok(self.module_list())),
            Command::Remove { module, force } => done(self.remove(&module, force)),
            Command::Capabilities { module } => done(self.capabilities_of(&module)),
            Command::Log { lines } => done(Ok(Report::Log {
                faults: self.records.all().cloned().collect(),
                lines,
                tail: self.kernel.log_tail(lines),
            })),
            Command::Explain { module } => done(self.explained(module)),
            Command::Restart { module } => done(self.by_hand(&module, Hand::Restart)),
            Command::Stop { module, force } => done(self.by_hand(&module, Hand::Stop { force })),
            Command::Start { module } => match self.unread_file_of(&module) {
                // A module kept on the file system that was never read is read now.
                Some(path) => {
                    self.read_module_file(id, path, super::disk_files::Purpose::Load { module })
                }
                None => done(self.by_hand(&module, Hand::Start)),
            },
            Command::StartFile { path } => {
                self.read_module_file(id, path, super::disk_files::Purpose::Start)
            }
            Command::Swap {
                module,
                file,
                force,
            } if super::lifecycle::is_file_system_path(&file) => {
                // Checked now, as a swap from the archive is: the file is
                // read only for a module that runs.
                match self.table.find(&module) {
                    Some(index) if self.table.slots[index].is_running() => self.read_module_file(
                        id,
                        file,
                        super::disk_files::Purpose::Swap { module, force },
                    ),
                    Some(index) => done(Err(CommandError::NotRunning {
                        module,
                        state: self.table.slots[index].state.name(),
                    })),
                    None => done(Err(no_module(&module))),
                }
            }
            Command::Swap {
                module,
                file,
                force,
            } => {
                let bytes = self.table.archive_file(&file);
                match bytes {
                    Ok(bytes) => self.start_swap(id, &module, Cow::Borrowed(bytes), false, !force),
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
            Command::RecentAccesses { module } => done(self.recent_accesses(&module)),
            Command::Send { endpoint, text } => done(self.send_by_hand(&endpoint, &text)),
            Command::Call { endpoint, text } => self.call(id, endpoint, text),
            Command::Uptime => done(Ok(Report::Uptime {
                nanoseconds: self.kernel.now(),
            })),
            Command::Memory => done(Ok(self.memory_report())),
        }
    }

    /// The file of module `name` if its manifest entry names one on the
    /// file system and it was never read.
    fn unread_file_of(&self, name: &str) -> Option<String> {
        let slot = &self.table.slots[self.table.find(name)?];
        (slot.module.is_none() && super::lifecycle::is_file_system_path(&slot.plan.file))
            .then(|| slot.plan.file.clone())
    }

    fn process_list(&self) -> Report {
        Report::ProcessList {
            modules: self.module_rows(),
            processes: self.kernel.process_rows(),
        }
    }

    /// `ps`'s row of every module (also the typed `supervisor` interface's,
    /// [`super::inspection`]).
    pub(super) fn module_rows(&self) -> Vec<ModuleRow> {
        self.table
            .slots
            .iter()
            .map(|slot| {
                // A module away in an event shows its figures as the event began.
                let figures = match &slot.sandbox {
                    Some(sandbox) => InstanceFigures::of(sandbox),
                    None if slot.away => slot.seen_before_event,
                    None => InstanceFigures::default(),
                };
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
                    fuel: figures.fuel,
                    memory_kib: figures.memory_kib,
                    log_lines_dropped: figures.log_lines_dropped,
                    warnings_dropped,
                    lines_held_back,
                }
            })
            .collect()
    }

    fn module_list(&self) -> Report {
        let modules = self
            .table
            .slots
            .iter()
            .map(|slot| ListRow {
                name: slot.plan.name.clone(),
                version: String::from(slot.module.as_ref().map_or("-", |module| module.version())),
                state: slot.state.name(),
            })
            .collect();
        Report::List { modules }
    }

    pub(super) fn capabilities_of(&self, name: &str) -> Result<Report, CommandError> {
        let index = self.table.find(name).ok_or_else(|| no_module(name))?;
        let slot = &self.table.slots[index];
        let held = match &slot.sandbox {
            Some(sandbox) if slot.state.is_up() => Some((
                sandbox.generation(),
                sandbox
                    .capabilities()
                    .iter()
                    .map(|capability| match capability {
                        // The sandbox knows endpoints by number; a person by name.
                        Capability::Endpoint { id, rights } => {
                            format!("endpoint {} ({rights})", self.router.endpoint_name(*id))
                        }
                        other => format!("{other}"),
                    })
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

    fn recent_accesses(&self, name: &str) -> Result<Report, CommandError> {
        let index = self.table.find(name).ok_or_else(|| no_module(name))?;
        let slot = &self.table.slots[index];
        match &slot.sandbox {
            Some(sandbox) if slot.state.is_up() => Ok(Report::RecentAccesses {
                module: String::from(name),
                generation: sandbox.generation(),
                accesses: sandbox
                    .recent_accesses()
                    .iter()
                    .map(|access| self.router.access_text(access))
                    .collect(),
            }),
            _ => Err(CommandError::NotRunning {
                module: String::from(name),
                state: slot.state.name(),
            }),
        }
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
    /// `send ENDPOINT TEXT`: a message to the module serving ENDPOINT; to an
    /// endpoint with a typed interface TEXT is `OPERATION ARGUMENTS`, sent
    /// as the interface encodes it, to any other its bytes as typed.
    fn send_by_hand(&mut self, endpoint: &str, text: &str) -> Result<Report, CommandError> {
        let bytes = typed_request(endpoint, text).map_err(|why| CommandError::SendFailed {
            endpoint: String::from(endpoint),
            why,
        })?;
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
        if !slot.inbox_has_room() {
            return Err(CommandError::InboxFull(slot.plan.name.clone()));
        }
        let length = bytes.len();
        slot.inbox.push_back(Pending::Message { request: 0, bytes });
        Ok(Report::Sent {
            bytes: length,
            endpoint: String::from(endpoint),
            module: slot.plan.name.clone(),
        })
    }

    /// `call ENDPOINT TEXT`: a request to the module serving ENDPOINT (its
    /// reply completes the command), a call to the native process serving
    /// it, made elsewhere, or, for `supervisor`, the kernel's own answer by
    /// its typed interface. To an endpoint with a typed interface
    /// TEXT is `OPERATION ARGUMENTS`, sent as the interface encodes it;
    /// to any other, its bytes as typed.
    fn call(&mut self, id: u64, endpoint: String, text: String) -> Progress<K> {
        let deadline = self.kernel.now().saturating_add(CALL_TIMEOUT_NS);
        let bytes = match typed_request(&endpoint, &text) {
            Ok(bytes) => bytes,
            Err(why) => return Progress::finished(Err(CommandError::CallFailed { endpoint, why })),
        };
        // The kernel's own endpoint answers the reading operations of its typed interface.
        if endpoint == SUPERVISOR_ENDPOINT {
            return Progress::finished(match self.answer_typed(&bytes) {
                Ok(reply) => Ok(Report::Reply {
                    endpoint,
                    request: bytes,
                    bytes: reply,
                }),
                Err(refusal) => Err(CommandError::CallFailed {
                    endpoint,
                    why: alloc::format!("{refusal}"),
                }),
            });
        }
        let server = self
            .router
            .endpoint_id(&endpoint)
            .and_then(|endpoint| self.table.server_of(endpoint));
        let Some(server) = server else {
            if self.kernel.endpoint_named(&endpoint).is_none() {
                return Progress::finished(Err(CommandError::NoServer(endpoint)));
            }
            self.kernel
                .call_process_elsewhere(id, endpoint.clone(), bytes.clone());
            return Progress::Next(Stage::Calling {
                endpoint,
                sent: bytes,
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
        if !slot.inbox_has_room() {
            return Progress::finished(Err(CommandError::InboxFull(slot.plan.name.clone())));
        }
        let request = self
            .router
            .new_request(server, KernelRequest::Command { operation: id });
        self.table.slots[server].inbox.push_back(Pending::Message {
            request,
            bytes: bytes.clone(),
        });
        Progress::Next(Stage::Calling {
            endpoint,
            sent: bytes,
            deadline,
            request: Some(request),
        })
    }

    /// `explain [NAME]`: every fault record, or module NAME's.
    fn explained(&self, module: Option<String>) -> Result<Report, CommandError> {
        if let Some(name) = &module
            && self.table.find(name).is_none()
            && !self.records.all().any(|record| record.module == *name)
        {
            return Err(no_module(name));
        }
        let faults = self
            .records
            .all()
            .filter(|record| module.as_ref().is_none_or(|name| record.module == *name))
            .cloned()
            .collect();
        Ok(Report::Explained { module, faults })
    }

    /// `restart`, `stop` or `start` by hand, with the instance home.
    pub(super) fn by_hand(&mut self, name: &str, hand: Hand) -> Result<Report, CommandError> {
        let index = self.table.find(name).ok_or_else(|| no_module(name))?;
        let slot = &mut self.table.slots[index];
        let running = slot.state.is_up();
        let event = match hand {
            Hand::Stop { .. } if !running => {
                return Err(CommandError::NotRunning {
                    module: String::from(name),
                    state: slot.state.name(),
                });
            }
            Hand::Start if running => return Err(CommandError::AlreadyRunning(String::from(name))),
            Hand::Stop { force: false } if serves_console(slot) => {
                return Err(CommandError::Refused(format!(
                    "{name} carries the console (what you type and what you read): stopped, it would leave no way to type `start {name}`. `stop --force {name}` stops it anyway; then a push from the host (`cargo cella push`) or a reboot brings it back"
                )));
            }
            Hand::Stop { .. } => SupervisorEvent::StopAsked { running },
            Hand::Start => SupervisorEvent::StartAsked,
            Hand::Restart => SupervisorEvent::RestartAsked { running },
        };
        if slot.module.is_none() {
            return Err(CommandError::Refused(
                if slot.state == ModuleState::Removed {
                    format!(
                        "{name} was removed; a push from the host (`cargo cella push`) loads it again"
                    )
                } else {
                    format!("{name} was never loaded (refused or missing at boot)")
                },
            ));
        }
        let actions = decide(event, &slot.policy, &mut slot.tracker);
        self.apply(index, actions, 0);
        // A start that faulted is contained like any fault: the state says
        // what the policy made of it (restarting, held).
        let slot = &self.table.slots[index];
        match hand {
            Hand::Stop { .. } => Ok(Report::Stopped {
                module: String::from(name),
            }),
            _ => Ok(Report::Restarted {
                module: String::from(name),
                state: slot.state.name(),
            }),
        }
    }
}

/// A command a person gives about one module.
#[derive(Clone, Copy)]
pub(super) enum Hand {
    Restart,
    Stop { force: bool },
    Start,
}

/// The request `text` stands for on `endpoint`: encoded by the endpoint's
/// typed interface if it has one, else the text's own bytes.
fn typed_request(endpoint: &str, text: &str) -> Result<Vec<u8>, String> {
    let mut buffer = alloc::vec![0; crate::ipc::MAX_MESSAGE_BYTES];
    match cella_interfaces::request_from_text(endpoint, text, &mut buffer) {
        None => Ok(Vec::from(text.as_bytes())),
        Some(Ok(length)) => {
            buffer.truncate(length);
            Ok(buffer)
        }
        Some(Err(error)) => {
            let operations: Vec<&str> = cella_interfaces::operations(endpoint)
                .unwrap_or_default()
                .iter()
                .map(|operation| operation.name)
                .collect();
            Err(alloc::format!(
                "`{text}`: {error}; `{endpoint}` answers {}",
                operations.join(", ")
            ))
        }
    }
}
