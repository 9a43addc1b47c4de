//! Calls between modules: a module's `ipc_call` becomes a request to the
//! module serving the endpoint ([`KernelRequest::Module`]), and the
//! server's `ipc_reply`, or the error the request fails with, goes back to
//! the calling instance as a reply event.
//!
//! The request is a kernel request like any other, so the replay rules of
//! [`crate::supervisor::replay`] apply on the server's side: replayed to a
//! restarted server, answered with an error when the server faults, is held
//! or stopped, answered by the new version after a swap. On the caller's
//! side an answer reaches only the instance that made the call: after the
//! caller faulted or restarted it is dropped and logged (a swap hands the
//! calls to the new version, see [`Router::rebase_calls`]). A call's deadline
//! is the Wasm host's: the caller's instance fails it with `TimedOut`.
//! A call to an endpoint a native process serves goes to the process
//! (see [`super::process_calls`]).

use super::event_loop::EventLoop;
use super::router::{KernelRequest, Router, SUPERVISOR_ENDPOINT};
use super::services::KernelServices;
use super::slot::Pending;
use super::table::ModuleTable;
use alloc::vec::Vec;
use cella_wasm_host::Loan;
use cella_wasm_host::abi::ErrorCode;

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
    /// `from`): a request to the module serving `endpoint`, with the buffer
    /// lent with it (held until the request ends), or a failure answered
    /// at once when nobody can take it.
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
        let name = alloc::string::String::from(self.endpoint_name(endpoint));
        if name == SUPERVISOR_ENDPOINT {
            // Answered by the event loop from its typed, read-only
            // interface; a buffer lent with it is not needed.
            self.ended_loans.extend(loan);
            self.supervisor_calls
                .push(super::inspection::SupervisorCall {
                    caller,
                    call,
                    generation,
                    from: alloc::string::String::from(from),
                    bytes,
                });
            return;
        }
        let server = super::process_endpoints::module_server(table, endpoint, &name, kernel);
        if server.is_none() && kernel.process_serves(&name) {
            self.call_process(from, caller, call, generation, &name, &bytes, loan, kernel);
            return;
        }
        let refusal = match server {
            None => Some((ErrorCode::Closed, "no module serves it")),
            Some(server) if !table.slots[server].accepts_messages() => {
                Some((ErrorCode::Closed, "its module is down"))
            }
            Some(server) if !table.slots[server].inbox_has_room() => {
                Some((ErrorCode::Busy, "its module's inbox is full"))
            }
            Some(server) => {
                let request = self.new_request(
                    server,
                    KernelRequest::Module {
                        caller,
                        call,
                        generation,
                    },
                );
                if let Some(loan) = loan {
                    self.loans.insert(request, loan);
                }
                table.slots[server]
                    .inbox
                    .push_back(Pending::Message { request, bytes });
                None
            }
        };
        if let Some((error, why)) = refusal {
            self.ended_loans.extend(loan);
            log::warn!("call {call} from {from} to `{name}` failed: {why} ({error})");
            self.answer_call(caller, call, generation, Err(error));
        }
    }

    /// Module `caller`'s instance of generation `generation` ended (faulted,
    /// stopped, removed): the calls it made that lent a buffer and still
    /// wait in a server's inbox are withdrawn, so nobody takes the buffers
    /// any more and their holds end now (an answer could reach no one).
    /// Calls a server took already run to their end. Returns how many were
    /// withdrawn.
    pub(crate) fn withdraw_lent_calls<K: KernelServices>(
        &mut self,
        caller: usize,
        generation: u32,
        table: &mut ModuleTable<K>,
    ) -> usize {
        let lent: Vec<u32> = self
            .loans
            .keys()
            .copied()
            .filter(|request| {
                matches!(
                    self.requests.get(request),
                    Some((_, KernelRequest::Module { caller: asking, generation: made, .. }))
                        if *asking == caller && *made == generation
                )
            })
            .collect();
        if lent.is_empty() {
            return 0;
        }
        let mut withdrawn: Vec<u32> = Vec::new();
        for slot in &mut table.slots {
            slot.inbox.retain(|pending| match pending {
                Pending::Message { request, .. } if lent.contains(request) => {
                    withdrawn.push(*request);
                    false
                }
                _ => true,
            });
        }
        // Those not queued anywhere were taken by their server: they run to
        // their end, which gives the hold back.
        for request in &withdrawn {
            self.forget(*request);
        }
        withdrawn.len()
    }

    /// Module `caller`'s instance of generation `old` was swapped for the
    /// one of generation `new`, which took over its calls: their answers go
    /// to the new instance.
    pub(crate) fn rebase_calls(&mut self, caller: usize, old: u32, new: u32) {
        for (_, purpose) in self.requests_mut() {
            if let KernelRequest::Module {
                caller: asking,
                generation,
                ..
            } = purpose
                && *asking == caller
                && *generation == old
            {
                *generation = new;
            }
        }
        for answer in &mut self.call_answers {
            if answer.caller == caller && answer.generation == old {
                answer.generation = new;
            }
        }
        self.rebase_process_calls(caller, old, new);
    }
}

impl<K: KernelServices> EventLoop<K> {
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
