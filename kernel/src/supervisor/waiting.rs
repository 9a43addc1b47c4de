//! Applies the rules of [`super::replay`] to a module's inbox and to the
//! kernel requests it holds, and loads the modules that start only by hand.

use super::replay::{Disposition, Outcome, Waiting, disposition};
use crate::console;
use crate::sandboxes::slot::{ModuleState, Pending, Slot};
use crate::sandboxes::system::{CONSOLE_OUTPUT_ENDPOINT, KernelRequest, System};
use crate::system_manifest::ModulePlan;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

impl System {
    /// Sorts what waits for module `index` after its instance ended as
    /// `outcome`: keeps what is delivered, answers kernel requests with an
    /// error, logs what is not delivered, hands console output to the kernel.
    /// `in_flight` is the request number of the event being handled at a
    /// fault (0 if none or not a request).
    pub(crate) fn settle_waiting(&mut self, index: usize, outcome: Outcome, in_flight: u32) {
        let console = self.slots[index]
            .plan
            .serves
            .iter()
            .any(|served| served == CONSOLE_OUTPUT_ENDPOINT);
        let waiting = core::mem::take(&mut self.slots[index].inbox);
        let mut kept = VecDeque::new();
        let mut failed: Vec<u32> = Vec::new();
        let mut written: Vec<Vec<u8>> = Vec::new();
        let (mut irqs, mut messages) = (0usize, 0usize);
        for pending in waiting {
            let item = match &pending {
                Pending::Irq(_) => Waiting::QueuedIrq,
                Pending::Message { request, .. } if self.kernel_requests.contains_key(request) => {
                    Waiting::QueuedKernelRequest
                }
                Pending::Message { .. } => Waiting::QueuedMessage { console },
            };
            match (disposition(item, outcome), pending) {
                (Disposition::Deliver, pending) => kept.push_back(pending),
                (Disposition::Fail, Pending::Message { request, .. }) => failed.push(request),
                (Disposition::KernelWrites, Pending::Message { bytes, .. }) => written.push(bytes),
                (_, Pending::Irq(_)) => irqs += 1,
                (_, Pending::Message { .. }) => messages += 1,
            }
        }
        let queued: Vec<u32> = kept
            .iter()
            .filter_map(|pending| match pending {
                Pending::Message { request, .. } if *request != 0 => Some(*request),
                _ => None,
            })
            .collect();
        self.slots[index].inbox = kept;
        // Kernel requests it held: delivered and unanswered, or the one in flight.
        for (&request, (server, _)) in &self.kernel_requests {
            if *server != index || queued.contains(&request) || failed.contains(&request) {
                continue;
            }
            let item = if request == in_flight {
                Waiting::InFlight
            } else {
                Waiting::Unanswered
            };
            if disposition(item, outcome) == Disposition::Fail {
                failed.push(request);
            }
        }
        let slot = &self.slots[index];
        let name = slot.plan.name.clone();
        let state = slot.state.name();
        for request in failed {
            if let Some((_, KernelRequest::Ipc { token })) = self.kernel_requests.remove(&request) {
                crate::sandboxes::ipc_bridge::fail_call(token);
            }
            log::warn!("kernel request {request} to {name} answered with an error: module {state}");
        }
        if irqs > 0 {
            log::warn!(
                "{irqs} queued IRQ events for {name} discarded: its lines are masked and the next instance re-initialises the device"
            );
        }
        if messages > 0 {
            log::warn!("{messages} messages queued for {name} were not delivered: module {state}");
        }
        if !written.is_empty() {
            // Console output must not be lost: the kernel writes it itself.
            console::take_back(written);
        }
    }

    /// A table entry for a module the manifest lists with `boot no`: loaded
    /// and checked now (a module refused at load is reported at boot), started
    /// only by `start NAME`.
    pub(crate) fn park_module(&mut self, plan: &ModulePlan) -> Slot {
        let mut slot = self.new_slot(plan);
        match self.load_file(plan, &plan.file) {
            Ok(module) => {
                log::info!(
                    "module {} {} loaded; starts on `start {}`",
                    plan.name,
                    module.version(),
                    plan.name
                );
                slot.module = Some(module);
                slot.state = ModuleState::Stopped;
            }
            Err(problem) => log::error!("module {} {problem}; not loaded", plan.name),
        }
        slot
    }
}
