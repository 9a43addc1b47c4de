//! The typed, read-only `supervisor` interface
//! (`cella_interfaces::supervisor`): a module's call (`ipc_call`) to the
//! kernel's `supervisor` endpoint, or the shell's `call supervisor ...`,
//! that names one of its operations is answered here with a reply, from the
//! same rows `ps`, `log`, `caps`, `uptime` and `mem` print.
//!
//! A call that names none of the reading operations (a command line such
//! as `restart shell`, or bytes that do not decode) is refused, so a module
//! granted the endpoint can change nothing through a call. The command
//! operations, `run` and `report_page`, are answered to the server of
//! `console` (the shell) only, in `super::command_calls`. A native process
//! granted the endpoint in the system manifest calls the reading operations
//! the same way; anything else it asks is refused with `Denied`.

use super::event_loop::EventLoop;
use super::router::SUPERVISOR_ENDPOINT;
use super::services::{KernelServices, ProcessMessage};
use crate::ipc::IpcError;
use crate::supervisor::reports::{CommandError, Report};
use crate::system_manifest::GrantLine;
use alloc::collections::TryReserveError;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::supervisor::{
    self, Capabilities, CapabilityKind, CapabilityRow, CommandAnswer, CommandRequest, FaultPage,
    FaultRow, ModulePage, ModuleRow, ProcessPage, ProcessRow, Status, SupervisorError, pack,
};
use cella_interfaces::wire::WireError;
use cella_wasm_host::abi::ErrorCode;
use core::fmt;

/// A call the supervisor answers with a reply: a module's `ipc_call` to
/// the `supervisor` endpoint, waiting for the event loop.
#[derive(Debug)]
pub struct SupervisorCall {
    /// The caller's index in the table.
    pub caller: usize,
    /// The call id the caller's instance gave it.
    pub call: u32,
    /// The generation of the instance that made the call.
    pub generation: u32,
    /// The caller's name, for the log.
    pub from: String,
    /// The request.
    pub bytes: Vec<u8>,
}

/// Why a request to the typed interface got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It names no operation of the interface, or its arguments do not
    /// decode.
    NotTyped(WireError),
    /// The kernel had no memory for the answer's buffers.
    NoMemory,
    /// A command operation (`run`, `report_page`): answered only to a
    /// call of the console's server (see `super::command_calls`).
    Command,
}

impl fmt::Display for Refusal {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotTyped(error) => write!(
                out,
                "{error}: the supervisor answers calls only with its read-only operations (modules, processes, faults, capabilities, status)"
            ),
            Refusal::NoMemory => out.write_str("the kernel has no memory for the answer"),
            Refusal::Command => out.write_str(
                "`run` and `report_page` are answered only to a call from the server of `console` (the shell types the command itself)",
            ),
        }
    }
}

impl From<TryReserveError> for Refusal {
    fn from(_: TryReserveError) -> Self {
        Refusal::NoMemory
    }
}

/// A zeroed buffer of `length` bytes, or an error if the heap has no room.
fn buffer(length: usize) -> Result<Vec<u8>, TryReserveError> {
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(length)?;
    bytes.resize(length, 0);
    Ok(bytes)
}

/// The module system seen through the typed interface: it only reads.
struct Inspector<'s, K: KernelServices> {
    system: &'s EventLoop<K>,
    /// Where a page's rows are written.
    page: Vec<u8>,
}

impl<K: KernelServices> supervisor::Server for Inspector<'_, K> {
    fn modules(&mut self, start: u32) -> Result<ModulePage<'_>, SupervisorError> {
        let rows = self.system.module_rows();
        let packed = pack(
            rows.iter().map(|row| ModuleRow {
                name: &row.name,
                version: &row.version,
                generation: row.generation,
                state: row.state,
                restarts: row.restarts,
                events: row.events,
                fuel: row.fuel,
                memory_kib: row.memory_kib,
                log_lines_dropped: row.log_lines_dropped,
                warnings_dropped: row.warnings_dropped,
                lines_held_back: row.lines_held_back,
            }),
            start,
            &mut self.page,
        )?;
        Ok(packed.page(start, &self.page))
    }

    fn processes(&mut self, start: u32) -> Result<ProcessPage<'_>, SupervisorError> {
        let text = self.system.kernel.process_rows();
        let rows = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| ProcessRow {
                name: line.split_whitespace().next().unwrap_or_default(),
                line: line.trim_end(),
            });
        let packed = pack(rows, start, &mut self.page)?;
        Ok(packed.page(start, &self.page))
    }

    fn faults(&mut self, start: u32) -> Result<FaultPage<'_>, SupervisorError> {
        let records: Vec<(&crate::supervisor::records::FaultRecord, String)> = self
            .system
            .records
            .all()
            .map(|record| (record, record.last_accesses.join("\n")))
            .collect();
        let packed = pack(
            records.iter().map(|(record, accesses)| FaultRow {
                time_ns: record.time,
                module: &record.module,
                generation: record.generation,
                handling: record.handling.as_deref().unwrap_or_default(),
                reason: &record.reason,
                accesses,
            }),
            start,
            &mut self.page,
        )?;
        Ok(packed.page(start, &self.page))
    }

    fn capabilities(
        &mut self,
        name: &str,
        start: u32,
    ) -> Result<Capabilities<'_>, SupervisorError> {
        let table = &self.system.table;
        let Some(index) = table.find(name) else {
            return Err(SupervisorError::NotFound);
        };
        let report = match self.system.capabilities_of(name) {
            Ok(report) => report,
            Err(CommandError::NoSuchModule(_)) => return Err(SupervisorError::NotFound),
            Err(_) => return Err(SupervisorError::BadArgument),
        };
        let Report::Capabilities {
            grants,
            serves,
            held,
            state,
            ..
        } = report
        else {
            return Err(SupervisorError::BadArgument);
        };
        let (generation, held) = held.unwrap_or_default();
        let rows = grants
            .iter()
            .map(|text| (CapabilityKind::Granted, text))
            .chain(serves.iter().map(|text| (CapabilityKind::Serves, text)))
            .chain(held.iter().map(|text| (CapabilityKind::Held, text)))
            .map(|(kind, text)| CapabilityRow { kind, text });
        let packed = pack(rows, start, &mut self.page)?;
        // The name from the table, which outlives the answer.
        Ok(Capabilities {
            module: &table.slots[index].plan.name,
            state,
            generation,
            page: packed.page(start, &self.page),
        })
    }

    /// Never reached: `answer_typed` refuses the command operations first.
    fn run(&mut self, _line: &str) -> Result<CommandAnswer<'_>, SupervisorError> {
        Err(SupervisorError::BadArgument)
    }

    /// Never reached, as `run`.
    fn report_page(&mut self, _page: u32) -> Result<CommandAnswer<'_>, SupervisorError> {
        Err(SupervisorError::BadArgument)
    }

    fn status(&mut self) -> Result<Status, SupervisorError> {
        let machine = self.system.kernel.machine_memory();
        let slots = &self.system.table.slots;
        Ok(Status {
            uptime_ns: self.system.kernel.now(),
            heap_used: machine.heap_used,
            heap_free: machine.heap_size.saturating_sub(machine.heap_used),
            modules_up: count(slots.iter().filter(|slot| slot.state.is_up()).count()),
            modules_total: count(slots.len()),
        })
    }
}

/// A count as the interface carries it.
fn count(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

impl<K: KernelServices> EventLoop<K> {
    /// The answer to `request`, a request of the typed `supervisor`
    /// interface.
    ///
    /// # Errors
    /// [`Refusal::NotTyped`] if it names no operation or its arguments do
    /// not decode (a command line among them); [`Refusal::NoMemory`] if the
    /// answer's buffers could not be had.
    pub fn answer_typed(&self, request: &[u8]) -> Result<Vec<u8>, Refusal> {
        if CommandRequest::decode(request).is_some() {
            return Err(Refusal::Command);
        }
        let mut inspector = Inspector {
            system: self,
            page: buffer(supervisor::MAX_PAGE_BYTES)?,
        };
        let mut reply = buffer(crate::ipc::MAX_MESSAGE_BYTES)?;
        let length =
            supervisor::serve(&mut inspector, request, &mut reply).map_err(Refusal::NotTyped)?;
        reply.truncate(length);
        Ok(reply)
    }

    /// Answers the calls modules made to the `supervisor` endpoint: a
    /// typed request with its reply, anything else with `Denied`. The
    /// command operations (`run`, `report_page`) go to
    /// `super::command_calls`.
    pub(crate) fn answer_supervisor_calls(&mut self) {
        for call in core::mem::take(&mut self.router.supervisor_calls) {
            if let Some(request) = CommandRequest::decode(&call.bytes) {
                self.command_call(&call, request);
                continue;
            }
            let outcome = match self.answer_typed(&call.bytes) {
                Ok(reply) => Ok(reply),
                Err(refusal) => {
                    log::warn!(
                        "call {} from {} to `supervisor` refused: {refusal}",
                        call.call,
                        call.from
                    );
                    Err(match refusal {
                        Refusal::NotTyped(_) | Refusal::Command => ErrorCode::Denied,
                        Refusal::NoMemory => ErrorCode::Exhausted,
                    })
                }
            };
            self.router
                .answer_call(call.caller, call.call, call.generation, outcome);
        }
        for message in core::mem::take(&mut self.router.process_supervisor_calls) {
            self.answer_process_call(&message);
        }
    }

    /// Opens the `supervisor` endpoint for native processes if the system
    /// manifest grants it to one: such a process reads the interface's
    /// reading operations as a module does.
    pub(crate) fn open_supervisor_for_processes(&mut self) {
        let granted = self.processes.iter().any(|plan| {
            plan.grants.iter().any(|grant| {
                matches!(grant, GrantLine::Endpoint { name } if name == SUPERVISOR_ENDPOINT)
            })
        });
        if granted {
            let endpoint = self.router.add_endpoint(SUPERVISOR_ENDPOINT);
            self.router
                .open_for_processes(&[endpoint], &mut self.kernel);
        }
    }

    /// Answers a native process's call to the `supervisor` endpoint: a
    /// reading operation with its reply, anything else (a command
    /// operation among them: commands are the shell's) with `Denied`. A
    /// one-way message is refused.
    fn answer_process_call(&mut self, message: &ProcessMessage) {
        if message.token == 0 {
            log::warn!(
                "a process's message to `supervisor` ({} bytes) refused: the supervisor answers calls only",
                message.bytes.len()
            );
            return;
        }
        match self.answer_typed(&message.bytes) {
            Ok(reply) => self.kernel.answer_process(message.token, Ok(&reply)),
            Err(refusal) => {
                log::warn!("a process's call to `supervisor` refused: {refusal}");
                let error = match refusal {
                    Refusal::NotTyped(_) | Refusal::Command => IpcError::NoRight,
                    Refusal::NoMemory => IpcError::Full,
                };
                self.kernel.answer_process(message.token, Err(error));
            }
        }
    }
}
