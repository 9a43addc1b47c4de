//! Calls from modules to native processes: a module's `ipc_call` to an
//! endpoint a native process serves (and no module does) opens a call on
//! the process's kernel IPC endpoint without blocking the event loop
//! ([`KernelServices::call_process`]). The router keeps which instance
//! (caller, call id, generation) waits for which token; the process's
//! answer, or the error its call failed with (its endpoint closed because
//! the process ended, the process failed it), reaches the calling instance
//! as the reply event a module's answer would be.
//!
//! A record ends with its answer, with its caller's instance (a fault,
//! stop or removal withdraws the instance's calls, so a late answer is
//! dropped by the IPC), or at the longest deadline any call may have
//! ([`MAX_CALL_DEADLINE_MILLISECONDS`]), by which its caller's instance
//! has failed it with `TimedOut` itself: a process that never answers
//! holds nothing beyond that. A swap's new version takes over its
//! predecessor's calls, as it does for calls to modules.
//!
//! A call lending a DMA buffer (`ipc_call_lending`) to a process is refused
//! with `Denied`: the kernel lends module buffers to processes only for its
//! own blocking calls (`ipc::call_lending`).

use super::event_loop::EventLoop;
use super::router::Router;
use super::services::KernelServices;
use alloc::vec::Vec;
use cella_wasm_host::Loan;
use cella_wasm_host::abi::{ErrorCode, MAX_CALL_DEADLINE_MILLISECONDS};

/// The instance waiting for a process's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessCall {
    /// The caller's index in the table.
    pub caller: usize,
    /// The call id the caller's instance gave it.
    pub call: u32,
    /// The generation of the instance that made the call.
    pub generation: u32,
    /// When the record goes even without an answer (nanoseconds since boot).
    pub deadline: u64,
}

impl Router {
    /// Opens call `call` of module `caller`'s instance of generation
    /// `generation` (named `from`) on process-served endpoint `name`, or
    /// answers it at once with the reason it cannot be made.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_process<K: KernelServices>(
        &mut self,
        from: &str,
        caller: usize,
        call: u32,
        generation: u32,
        name: &str,
        bytes: &[u8],
        loan: Option<Loan>,
        kernel: &mut K,
    ) {
        if let Some(loan) = loan {
            self.ended_loans.push(loan);
            log::warn!(
                "call {call} from {from} to `{name}` refused: it lends a buffer, and buffers are not lent to native processes ({})",
                ErrorCode::Denied
            );
            self.answer_call(caller, call, generation, Err(ErrorCode::Denied));
            return;
        }
        match kernel.call_process(name, bytes) {
            Ok(token) => {
                let deadline = kernel
                    .now()
                    .saturating_add(u64::from(MAX_CALL_DEADLINE_MILLISECONDS) * 1_000_000);
                self.process_calls.insert(
                    token,
                    ProcessCall {
                        caller,
                        call,
                        generation,
                        deadline,
                    },
                );
            }
            Err(error) => {
                log::warn!(
                    "call {call} from {from} to `{name}` failed: its process could not take it ({error})"
                );
                self.answer_call(caller, call, generation, Err(error.error_code()));
            }
        }
    }

    /// Module `caller`'s instance of generation `generation` ended: its
    /// calls to processes are withdrawn (an answer could reach no one).
    /// Returns how many.
    pub(crate) fn withdraw_process_calls<K: KernelServices>(
        &mut self,
        caller: usize,
        generation: u32,
        kernel: &mut K,
    ) -> usize {
        let gone: Vec<u64> = self
            .process_calls
            .iter()
            .filter(|(_, waiting)| waiting.caller == caller && waiting.generation == generation)
            .map(|(token, _)| *token)
            .collect();
        for token in &gone {
            self.process_calls.remove(token);
            kernel.withdraw_process_call(*token);
        }
        gone.len()
    }

    /// Module `caller`'s instance of generation `old` was swapped for
    /// generation `new`: answers from processes go to the new one.
    pub(crate) fn rebase_process_calls(&mut self, caller: usize, old: u32, new: u32) {
        for waiting in self.process_calls.values_mut() {
            if waiting.caller == caller && waiting.generation == old {
                waiting.generation = new;
            }
        }
    }

    /// Calls to processes waiting for their answer.
    pub fn process_calls_open(&self) -> usize {
        self.process_calls.len()
    }
}

impl<K: KernelServices> EventLoop<K> {
    /// Turns the answers processes gave into answers to the calling
    /// instances (delivered with the answers modules gave), and withdraws
    /// the calls past the longest deadline. Returns whether anything
    /// arrived or ended.
    pub(crate) fn take_process_answers(&mut self) -> bool {
        let answers = self.kernel.take_process_answers();
        let mut any = !answers.is_empty();
        for (token, outcome) in answers {
            let Some(waiting) = self.router.process_calls.remove(&token) else {
                // Withdrawn already: nobody waits for it.
                continue;
            };
            let outcome = outcome.map_err(|error| error.error_code());
            self.router
                .answer_call(waiting.caller, waiting.call, waiting.generation, outcome);
        }
        let now = self.kernel.now();
        let expired: Vec<u64> = self
            .router
            .process_calls
            .iter()
            .filter(|(_, waiting)| waiting.deadline <= now)
            .map(|(token, _)| *token)
            .collect();
        for token in expired {
            self.router.process_calls.remove(&token);
            self.kernel.withdraw_process_call(token);
            log::warn!("a process did not answer a module's call in time; the call is withdrawn");
            any = true;
        }
        any
    }
}
