//! The supervisor's commands as calls: the module serving `console` (the
//! shell) calls `run(line)` on the typed `supervisor` interface
//! (`cella_interfaces::supervisor::commands`) and gets the command's
//! answer as the call's reply when the command ends. A command the loop
//! advances over many steps (a swap, a restart waiting for its module, a
//! start from the disk) holds the call until then ([`HeldCall`]).
//!
//! An answer longer than one page is kept ([`KeptAnswer`]), one per
//! caller: `report_page(n)` reads page `n`; the kernel frees it when its
//! last page is read, when the caller's next command replaces it, or when
//! the caller's instance ends. Only the server of `console` may call `run`
//! or `report_page`; any other caller's call fails with `Denied` and
//! nothing runs.
//!
//! The held call follows the rules of every call: a swap of the caller
//! hands it to the new version (`CommandCalls::rebase`); after a restart
//! the answer is dropped, and so is one that comes after the longest
//! deadline a call may have; either way the command's text goes to the
//! kernel log. The text of an answer counts as the caller's memory.

use super::event_loop::EventLoop;
use super::inspection::SupervisorCall;
use super::operations::{Requester, Task};
use super::prompt::PROMPT_ENDPOINT;
use super::services::KernelServices;
use super::table::account_of;
use crate::ipc::IpcError;
use crate::supervisor::command_line::Command;
use crate::supervisor::report_text::text_of;
use crate::supervisor::reports::{CommandError, Report};
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::supervisor::{CommandAnswer, CommandRequest, SupervisorError, text_page};
use cella_interfaces::wire::WireError;
use cella_wasm_host::abi::MAX_CALL_DEADLINE_MILLISECONDS;

/// A second short of the longest a call may wait for its answer, in
/// nanoseconds: an answer later than this may reach no one.
const NEAR_THE_DEADLINE_NS: u64 = (MAX_CALL_DEADLINE_MILLISECONDS as u64 - 1000) * 1_000_000;

/// A `run` call waiting for its command to end.
#[derive(Debug)]
pub struct HeldCall {
    /// The call's reply token.
    pub token: u64,
    /// The operation carrying the command out.
    pub operation: u64,
    /// The caller's index in the table.
    pub caller: usize,
    /// The call id the caller's instance gave it.
    pub call: u32,
    /// The generation of the instance that made the call.
    pub generation: u32,
    /// The caller's name and the command line, for the log.
    pub from: String,
    pub line: String,
    /// When the call came.
    pub since: u64,
}

/// The answer of a caller's last command, longer than one page, until its
/// last page is read.
#[derive(Debug)]
pub struct KeptAnswer {
    pub caller: usize,
    pub generation: u32,
    pub succeeded: bool,
    pub text: String,
}

/// The held `run` calls and the answers kept for `report_page`.
#[derive(Debug, Default)]
pub struct CommandCalls {
    pub held: Vec<HeldCall>,
    pub kept: Vec<KeptAnswer>,
}

impl CommandCalls {
    /// Module `caller`'s instance of generation `old` was swapped for the
    /// one of generation `new`, which took over its calls.
    pub(crate) fn rebase(&mut self, caller: usize, old: u32, new: u32) {
        let calls = self
            .held
            .iter_mut()
            .map(|held| (held.caller, &mut held.generation));
        let kept = self
            .kept
            .iter_mut()
            .map(|kept| (kept.caller, &mut kept.generation));
        for (of, generation) in calls.chain(kept) {
            if of == caller && *generation == old {
                *generation = new;
            }
        }
    }

    /// Module `caller`'s instance of generation `generation` ended: the
    /// answer kept for it goes.
    pub(crate) fn forget_instance(&mut self, caller: usize, generation: u32) {
        self.kept
            .retain(|kept| !(kept.caller == caller && kept.generation == generation));
    }
}

/// An answer's encoded reply: page `page` of `text`, or `error`.
fn encoded(answer: Result<CommandAnswer<'_>, SupervisorError>) -> Result<Vec<u8>, IpcError> {
    let mut reply = Vec::new();
    reply
        .try_reserve_exact(crate::ipc::MAX_MESSAGE_BYTES)
        .map_err(|_| IpcError::NoMemory)?;
    reply.resize(crate::ipc::MAX_MESSAGE_BYTES, 0);
    let length =
        cella_interfaces::wire::encode(&answer, &mut reply).map_err(|_| IpcError::TooLong)?;
    reply.truncate(length);
    Ok(reply)
}

impl<K: KernelServices> EventLoop<K> {
    /// A call of `run` or `report_page`, `request` its decoding.
    pub(crate) fn command_call(
        &mut self,
        call: &SupervisorCall,
        request: Result<CommandRequest<'_>, WireError>,
    ) {
        // By the caller's place in the table, not the name its module
        // gives itself: a module swapped in under another name is not the
        // shell.
        let serves_the_prompt = self
            .router
            .endpoint_id(PROMPT_ENDPOINT)
            .is_some_and(|prompt| self.table.slots[call.caller].serves.contains(&prompt));
        if !serves_the_prompt {
            log::warn!(
                "call {} from {} to `supervisor` refused: only the server of `{PROMPT_ENDPOINT}` (the shell) may run commands; nothing was run",
                call.call,
                call.from
            );
            self.answer_supervisor_call(call.token, Err(IpcError::NoRight));
            return;
        }
        let answer = match request {
            Err(error) => {
                log::warn!(
                    "call {} from {} to `supervisor`: a command request that does not decode ({error}); nothing was run",
                    call.call,
                    call.from
                );
                encoded(Err(SupervisorError::BadArgument))
            }
            Ok(CommandRequest::ReportPage { page }) => self.report_page(call, page),
            Ok(CommandRequest::Run { line }) => match self.run_called(call, line) {
                // Held: answered when the command ends.
                None => return,
                Some(answer) => answer,
            },
        };
        self.answer_supervisor_call(call.token, answer);
    }

    /// `run(line)`: the command submitted with the call held (`None`), or
    /// the answer now (a line that is no command, or a refusal).
    fn run_called(
        &mut self,
        call: &SupervisorCall,
        line: &str,
    ) -> Option<Result<Vec<u8>, IpcError>> {
        let busy = self
            .command_calls
            .held
            .iter()
            .any(|held| held.caller == call.caller && held.generation == call.generation);
        if busy {
            return Some(encoded(Err(SupervisorError::Busy)));
        }
        // The next command replaces the answer kept from the last.
        self.command_calls
            .kept
            .retain(|kept| kept.caller != call.caller);
        let command = match Command::parse(line) {
            Ok(command) => command,
            Err(usage) => {
                let text = text_of(&Err(CommandError::Usage(usage)));
                return Some(self.first_page(call.caller, call.generation, false, text));
            }
        };
        if self.command_calls.held.try_reserve(1).is_err() {
            return Some(encoded(Err(SupervisorError::OutOfMemory)));
        }
        self.command_calls.held.push(HeldCall {
            token: call.token,
            operation: self.operations.next_id(),
            caller: call.caller,
            call: call.call,
            generation: call.generation,
            from: call.from.clone(),
            line: String::from(line),
            since: self.kernel.now(),
        });
        self.submit(Requester::Caller, Task::Command(command));
        None
    }

    /// Page 0 of `text` for the caller's instance; the rest kept for
    /// `report_page` if there is more.
    fn first_page(
        &mut self,
        caller: usize,
        generation: u32,
        succeeded: bool,
        text: String,
    ) -> Result<Vec<u8>, IpcError> {
        let Some((page, next)) = text_page(&text, 0) else {
            return encoded(Err(SupervisorError::BadArgument));
        };
        let reply = encoded(Ok(CommandAnswer {
            succeeded,
            page: 0,
            next,
            text: page,
        }));
        if next != 0 && reply.is_ok() {
            if self.command_calls.kept.try_reserve(1).is_err() {
                log::warn!(
                    "supervisor: no kernel memory to keep the rest of an answer; it was:\n{}",
                    text.trim_end()
                );
                return encoded(Err(SupervisorError::OutOfMemory));
            }
            self.command_calls.kept.push(KeptAnswer {
                caller,
                generation,
                succeeded,
                text,
            });
        }
        reply
    }

    /// `report_page(page)`: page `page` of the caller's kept answer, which
    /// goes once its last page is read.
    fn report_page(&mut self, call: &SupervisorCall, page: u32) -> Result<Vec<u8>, IpcError> {
        let Some(at) = self
            .command_calls
            .kept
            .iter()
            .position(|kept| kept.caller == call.caller && kept.generation == call.generation)
        else {
            return encoded(Err(SupervisorError::NoReport));
        };
        let kept = &self.command_calls.kept[at];
        let Some((text, next)) = text_page(&kept.text, page).filter(|_| page != 0) else {
            return encoded(Err(SupervisorError::BadArgument));
        };
        let reply = encoded(Ok(CommandAnswer {
            succeeded: kept.succeeded,
            page,
            next,
            text,
        }));
        if next == 0 && reply.is_ok() {
            self.command_calls.kept.swap_remove(at);
        }
        reply
    }

    /// Answers the held call of operation `operation`, which ended with
    /// `result`. An answer no instance can take any more (its caller
    /// restarted, or the call's deadline passed) is dropped by the rules of
    /// every call, and the command's text goes to the log.
    pub(super) fn answer_command_call(
        &mut self,
        operation: u64,
        result: Result<Report, CommandError>,
    ) {
        let Some(at) = self
            .command_calls
            .held
            .iter()
            .position(|held| held.operation == operation)
        else {
            log::warn!(
                "supervisor: a command ended with no call waiting for it: {}",
                text_of(&result).trim_end()
            );
            return;
        };
        let held = self.command_calls.held.swap_remove(at);
        // The text, kept for `report_page` if it is long, counts as the
        // caller's memory.
        let text = self
            .kernel
            .charge(account_of(held.caller), || text_of(&result));
        let slot = &self.table.slots[held.caller];
        let gone = slot.generation != held.generation || !slot.is_running();
        // The kernel saw the call after it was made: near the deadline the
        // answer may be too late for the caller, so the text goes to the log.
        let late = self.kernel.now().saturating_sub(held.since) >= NEAR_THE_DEADLINE_NS;
        if gone || late {
            log::warn!(
                "supervisor: `{}` from {} ended {}; its answer:\n{}",
                held.line,
                held.from,
                if gone {
                    "after the instance that asked was gone"
                } else {
                    "near or after its call's deadline"
                },
                text.trim_end()
            );
        }
        let answer = if gone {
            Err(IpcError::Closed)
        } else {
            self.first_page(held.caller, held.generation, result.is_ok(), text)
        };
        self.answer_supervisor_call(held.token, answer);
    }
}
