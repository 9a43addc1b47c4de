//! Calls modules make (`ipc_call`, `ipc_call_lending`). A module's call is a
//! call on the kernel IPC endpoint of that name, whoever serves it: a module
//! (the router moves the endpoint's queue into the server's inbox, see
//! [`super::served_endpoints`]) or a native process. The event loop opens it
//! without blocking ([`KernelServices::call_on`]) and keeps which instance
//! (caller, call id, generation) waits for which token ([`OpenCall`]); the
//! answer, or the error the call failed with, reaches the calling instance
//! as a reply event.
//!
//! - **Server side.** The request a module server takes off the queue is a
//!   request like a process's, so the replay rules of
//!   [`crate::supervisor::replay`] apply: replayed to a restarted server,
//!   answered with an error when the server faults, is held or stopped,
//!   answered by the new version after a swap.
//! - **Caller side.** An answer reaches only the instance that made the
//!   call. An instance that faults, stops or is removed withdraws its calls
//!   ([`Router::withdraw_calls`]): a call still queued on the endpoint or
//!   waiting in a server's inbox is taken back, so no server runs it; one a
//!   server took runs to its end and its answer is dropped. A swap hands the
//!   calls to the new version ([`Router::rebase_calls`]).
//! - **Deadlines.** A call's deadline is the Wasm host's: the caller's
//!   instance fails it with `TimedOut`. The record goes at the longest
//!   deadline any call may have ([`MAX_CALL_DEADLINE_MILLISECONDS`]), so a
//!   server that never answers holds nothing beyond that.
//! - **Lent buffers.** The buffer lent with a call to a module stays with
//!   the call's record until the router takes the message off the queue,
//!   then with the request until it ends. A call lending a buffer to a
//!   native process is refused with `Denied`: the kernel lends module
//!   buffers to processes only for its own blocking calls
//!   (`ipc::call_lending`).
//! - **The kernel's own endpoint.** `supervisor` is a kernel IPC endpoint
//!   too; the event loop takes its calls and answers their tokens (see
//!   [`super::inspection`]).

use super::event_loop::EventLoop;
use super::router::{KernelRequest, Router};
use super::services::KernelServices;
use super::slot::Pending;
use super::table::ModuleTable;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use cella_wasm_host::Loan;
use cella_wasm_host::abi::{ErrorCode, MAX_CALL_DEADLINE_MILLISECONDS};

/// The answer to a module's call, on its way to the caller's inbox.
#[derive(Debug)]
pub struct CallAnswer {
    /// The caller's index in the table.
    pub caller: usize,
    /// The call id the caller's instance gave it.
    pub call: u32,
    /// The generation of the instance that made the call.
    pub generation: u32,
    /// The reply, or why the call failed.
    pub outcome: Result<Vec<u8>, ErrorCode>,
}

/// The instance waiting for the answer to a call it opened on an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenCall {
    /// The caller's index in the table.
    pub caller: usize,
    /// The call id the caller's instance gave it.
    pub call: u32,
    /// The generation of the instance that made the call.
    pub generation: u32,
    /// When the record goes even without an answer (nanoseconds since boot).
    pub deadline: u64,
    /// The buffer lent with the call, until the router takes the message
    /// off the endpoint's queue (the request holds it from then on).
    pub loan: Option<Loan>,
}

impl Router {
    /// Queues module `caller`'s answer to call `call`.
    pub(crate) fn answer_call(
        &mut self,
        caller: usize,
        call: u32,
        generation: u32,
        outcome: Result<Vec<u8>, ErrorCode>,
    ) {
        self.call_answers.push(CallAnswer {
            caller,
            call,
            generation,
            outcome,
        });
    }

    /// Routes a call made by the instance of generation `generation` (named
    /// `from`): a call on the kernel IPC endpoint of that name, or a failure
    /// answered at once when nobody can take it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route_call<K: KernelServices>(
        &mut self,
        from: &str,
        generation: u32,
        endpoint: u64,
        call: u32,
        bytes: Vec<u8>,
        loan: Option<Loan>,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
    ) {
        // Generations are unique among the table's instances, so the
        // generation names the caller even if its manifest name differs
        // from its name in the system manifest.
        let Some(caller) = table
            .slots
            .iter()
            .position(|slot| slot.generation == generation && slot.is_running())
        else {
            log::warn!(
                "call {call} from {from} (generation {generation}) dropped: that instance is gone"
            );
            self.ended_loans.extend(loan);
            return;
        };
        let name = String::from(self.endpoint_name(endpoint));
        let opened = match self.queue_of(endpoint, &name, table, kernel) {
            Err(why) => Err((ErrorCode::Closed, why.to_string())),
            Ok((_, None)) if loan.is_some() => Err((
                ErrorCode::Denied,
                "it lends a buffer, and buffers are lent only to modules".to_string(),
            )),
            Ok((opened, _)) => Ok(opened),
        };
        let token = opened.and_then(|opened| {
            self.queue_on(opened, table, kernel, |kernel| {
                kernel.call_on(opened, &bytes)
            })
            .map_err(|error| (error.error_code(), error.to_string()))
        });
        match token {
            Ok(token) => {
                let deadline = kernel
                    .now()
                    .saturating_add(u64::from(MAX_CALL_DEADLINE_MILLISECONDS) * 1_000_000);
                self.open_calls.insert(
                    token,
                    OpenCall {
                        caller,
                        call,
                        generation,
                        deadline,
                        loan,
                    },
                );
            }
            Err((error, why)) => {
                self.ended_loans.extend(loan);
                log::warn!("call {call} from {from} to `{name}` failed: {why} ({error})");
                self.answer_call(caller, call, generation, Err(error));
            }
        }
    }

    /// Module `caller`'s instance of generation `generation` ended (faulted,
    /// stopped, removed): its calls are withdrawn, as an answer could reach
    /// no one. A call still queued on its endpoint or waiting in a server's
    /// inbox is taken back, and a buffer it lent goes back now; a call a
    /// server took runs to its end (which gives its buffer back). Returns
    /// how many calls were withdrawn.
    pub(crate) fn withdraw_calls<K: KernelServices>(
        &mut self,
        caller: usize,
        generation: u32,
        table: &mut ModuleTable<K>,
        kernel: &mut K,
    ) -> usize {
        let gone: Vec<u64> = self
            .open_calls
            .iter()
            .filter(|(_, open)| open.caller == caller && open.generation == generation)
            .map(|(token, _)| *token)
            .collect();
        for token in &gone {
            if let Some(open) = self.open_calls.remove(token) {
                self.ended_loans.extend(open.loan);
            }
            kernel.withdraw_call(*token);
        }
        // Those waiting in a server's inbox are taken back; those a server
        // took run to their end.
        let requests: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, (_, purpose))| {
                matches!(purpose, KernelRequest::Call { token } if gone.contains(token))
            })
            .map(|(request, _)| *request)
            .collect();
        let mut taken_back: Vec<u32> = Vec::new();
        for slot in &mut table.slots {
            slot.inbox.retain(|pending| match pending {
                Pending::Message { request, .. } if requests.contains(request) => {
                    taken_back.push(*request);
                    false
                }
                _ => true,
            });
        }
        for request in taken_back {
            self.forget(request);
        }
        gone.len()
    }

    /// Module `caller`'s instance of generation `old` was swapped for the
    /// one of generation `new`, which took over its calls: their answers go
    /// to the new instance.
    pub(crate) fn rebase_calls(&mut self, caller: usize, old: u32, new: u32) {
        for open in self.open_calls.values_mut() {
            if open.caller == caller && open.generation == old {
                open.generation = new;
            }
        }
        for answer in &mut self.call_answers {
            if answer.caller == caller && answer.generation == old {
                answer.generation = new;
            }
        }
    }

    /// Calls modules opened that wait for their answer.
    pub fn calls_open(&self) -> usize {
        self.open_calls.len()
    }
}

impl<K: KernelServices> EventLoop<K> {
    /// Turns the answers to modules' calls that arrived into answers to
    /// the calling instances, and withdraws the calls past the longest
    /// deadline. Returns whether anything arrived or ended.
    pub(crate) fn take_call_answers(&mut self) -> bool {
        let answers = self.kernel.take_call_answers();
        let mut any = !answers.is_empty();
        for (token, outcome) in answers {
            let Some(open) = self.router.open_calls.remove(&token) else {
                // Withdrawn already: nobody waits for it.
                continue;
            };
            self.router.ended_loans.extend(open.loan);
            let outcome = outcome.map_err(|error| error.error_code());
            self.router
                .answer_call(open.caller, open.call, open.generation, outcome);
        }
        let now = self.kernel.now();
        let expired: Vec<u64> = self
            .router
            .open_calls
            .iter()
            .filter(|(_, open)| open.deadline <= now)
            .map(|(token, _)| *token)
            .collect();
        for token in expired {
            if let Some(open) = self.router.open_calls.remove(&token) {
                self.router.ended_loans.extend(open.loan);
            }
            self.kernel.withdraw_call(token);
            log::warn!("a module's call was not answered in time; the call is withdrawn");
            any = true;
        }
        any
    }

    /// Puts the answers to modules' calls in the callers' inboxes; an
    /// answer for an instance that is gone is dropped and logged. Returns
    /// whether there were any.
    ///
    /// Answers wait in the inbox beyond its capacity: each answers a call
    /// the instance counted against its limit of outstanding calls, so they
    /// are bounded already.
    pub(crate) fn deliver_call_answers(&mut self) -> bool {
        let answers = core::mem::take(&mut self.router.call_answers);
        let any = !answers.is_empty();
        for answer in answers {
            let Some(slot) = self.table.slots.get_mut(answer.caller) else {
                continue;
            };
            let name = &slot.plan.name;
            if slot.generation != answer.generation {
                log::warn!(
                    "answer to call {} of {name} dropped: the instance that made it (generation {}) is gone; generation {} runs now",
                    answer.call,
                    answer.generation,
                    slot.generation
                );
            } else if !slot.is_running() {
                log::warn!(
                    "answer to call {} of {name} dropped: module {}",
                    answer.call,
                    slot.state.name()
                );
            } else {
                slot.inbox.push_back(Pending::Reply {
                    call: answer.call,
                    outcome: answer.outcome,
                });
            }
        }
        any
    }
}
