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
use super::services::{EndpointMessage, KernelServices};
use crate::ipc::IpcError;
use crate::supervisor::reports::{CommandError, Report};
use alloc::collections::TryReserveError;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::supervisor::{
    self, Capabilities, CapabilityKind, CapabilityRow, CommandAnswer, CommandRequest, FaultPage,
    FaultRow, ModulePage, ModuleRow, ProcessPage, ProcessRow, Status, SupervisorError, pack,
};
use cella_interfaces::wire::WireError;
use core::fmt;

/// A module's call to the `supervisor` endpoint, taken off its kernel IPC
/// queue by the event loop, which answers its token.
#[derive(Debug)]
pub struct SupervisorCall {
    /// The call's reply token.
    pub token: u64,
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

impl Refusal {
    /// The error the call is answered with.
    pub fn error(self) -> IpcError {
        match self {
            Refusal::NotTyped(_) | Refusal::Command => IpcError::NoRight,
            Refusal::NoMemory => IpcError::NoMemory,
        }
    }
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

    /// Answers what was queued on the `supervisor` endpoint. A module's call
    /// (the token of one of its open calls) gets a reading operation's reply
    /// at once, a command's when it ends (see [`super::command_calls`]); a
    /// native process's call gets a reading operation's reply; anything
    /// else is refused. Every answer is the reply to the call's token.
    pub(crate) fn answer_supervisor_calls(&mut self) {
        for message in core::mem::take(&mut self.router.supervisor_calls) {
            let Some(open) = self.router.open_calls.get(&message.token).copied() else {
                self.answer_process_call(&message);
                continue;
            };
            let call = SupervisorCall {
                token: message.token,
                caller: open.caller,
                call: open.call,
                generation: open.generation,
                from: self.table.slots[open.caller].plan.name.clone(),
                bytes: message.bytes,
            };
            if let Some(request) = CommandRequest::decode(&call.bytes) {
                self.command_call(&call, request);
                continue;
            }
            let outcome = self.answer_typed(&call.bytes).map_err(|refusal| {
                log::warn!(
                    "call {} from {} to `supervisor` refused: {refusal}",
                    call.call,
                    call.from
                );
                refusal.error()
            });
            self.answer_supervisor_call(call.token, outcome);
        }
    }

    /// Answers the supervisor call of token `token` with `outcome`.
    pub(crate) fn answer_supervisor_call(
        &mut self,
        token: u64,
        outcome: Result<Vec<u8>, IpcError>,
    ) {
        self.kernel
            .answer_token(token, outcome.as_deref().map_err(|error| *error));
    }

    /// Opens the kernel's own `supervisor` endpoint: modules and native
    /// processes granted it call its typed interface through it.
    pub(crate) fn open_supervisor(&mut self) {
        let endpoint = self.router.add_endpoint(SUPERVISOR_ENDPOINT);
        self.router.open_served(&[endpoint], &mut self.kernel);
    }

    /// Answers a native process's call to the `supervisor` endpoint: a
    /// reading operation with its reply, anything else (a command
    /// operation among them: commands are the shell's) with `Denied`. A
    /// one-way message is refused.
    fn answer_process_call(&mut self, message: &EndpointMessage) {
        if message.token == 0 {
            log::warn!(
                "a process's message to `supervisor` ({} bytes) refused: the supervisor answers calls only",
                message.bytes.len()
            );
            return;
        }
        match self.answer_typed(&message.bytes) {
            Ok(reply) => self.kernel.answer_token(message.token, Ok(&reply)),
            Err(refusal) => {
                log::warn!("a process's call to `supervisor` refused: {refusal}");
                self.kernel
                    .answer_token(message.token, Err(refusal.error()));
            }
        }
    }
}
