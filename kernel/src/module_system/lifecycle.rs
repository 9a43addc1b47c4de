//! A module's lifecycle in the table: added (from the boot archive or
//! pushed), started, faulted and contained, restarted when its time comes,
//! stopped. What follows a fault or a person's request is the supervisor's
//! decision ([`crate::supervisor::decisions`]); this file carries it out,
//! including the replay rules for the work that waited for the instance
//! ([`crate::supervisor::replay`]).

use super::event_loop::EventLoop;
use super::router::CONSOLE_OUTPUT_ENDPOINT;
use super::services::{KernelServices, SandboxOf};
use super::slot::{ModuleState, Pending};
use super::table::StartError;
use crate::ipc::IpcError;
use crate::supervisor::decisions::{Actions, NextState, SupervisorEvent, decide};
use crate::supervisor::replay::{Disposition, Outcome, Waiting, disposition};
use crate::system_manifest::ModulePlan;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Entry, Event, Fault, LoadedModule};

impl<K: KernelServices> EventLoop<K> {
    /// Adds the module `plan` names, loading its file from the boot archive,
    /// and starts it unless it starts only by hand (`boot = false`). A
    /// module that fails to start is handed to the supervisor like any
    /// fault: its restart policy applies at boot as anywhere.
    pub(crate) fn add_from_archive(&mut self, plan: &ModulePlan) -> usize {
        let slot = self.table.new_slot(plan, &self.router, &mut self.kernel);
        let index = self.table.push(slot);
        if is_file_system_path(&plan.file) {
            // Read once the boot is done, when the `fs` server runs
            // (`EventLoop::start_from_file_system`).
            self.table.slots[index].state = ModuleState::NotStarted;
            return index;
        }
        let loaded = self.table.archive_file(&plan.file).and_then(|bytes| {
            self.table
                .load_bytes(plan, bytes, &self.router, &self.kernel)
        });
        let module = match loaded {
            Ok(module) => module,
            Err(problem) => {
                log::error!("module {} {problem}; not started", plan.name);
                return index;
            }
        };
        if plan.on_demand {
            log::info!(
                "module {} {} loaded; starts on `start {}`",
                plan.name,
                module.version(),
                plan.name
            );
        }
        let slot = &mut self.table.slots[index];
        slot.module = Some(module);
        slot.state = ModuleState::NotStarted;
        if !plan.on_demand {
            let _ = self.start_now(index, false);
        }
        index
    }

    /// Adds a module that is not in the system manifest (pushed from the
    /// host with its manifest entry `plan`) and starts it; a module that
    /// does not start is not kept (a refused push changes nothing).
    ///
    /// # Errors
    /// Why it did not start.
    pub(crate) fn add_module(
        &mut self,
        plan: ModulePlan,
        module: LoadedModule,
    ) -> Result<usize, String> {
        let slot = self.started_slot(plan, module)?;
        Ok(self.table.push(slot))
    }

    /// Puts a module installed from the host, started, in the place of the
    /// removed module `index` of the same name.
    ///
    /// # Errors
    /// As for [`EventLoop::add_module`]; the removed slot stays as it was.
    pub(crate) fn replace_module(
        &mut self,
        index: usize,
        plan: ModulePlan,
        module: LoadedModule,
    ) -> Result<usize, String> {
        let slot = self.started_slot(plan, module)?;
        self.table.slots[index] = slot;
        Ok(index)
    }

    /// A new slot for `plan` with `module` instantiated and running.
    fn started_slot(
        &mut self,
        plan: ModulePlan,
        module: LoadedModule,
    ) -> Result<super::slot::Slot<K>, String> {
        let mut slot = self.table.new_slot(&plan, &self.router, &mut self.kernel);
        let account = self.table.account_for(&plan.name);
        let sandbox = self
            .table
            .instantiate(&module, account, &self.kernel)
            .map_err(|fault| format!("{} failed to start: {fault}", plan.name))?;
        slot.generation = sandbox.generation();
        log::info!(
            "module {} {} up (generation {}): installed from the host; {}",
            plan.name,
            module.version(),
            slot.generation,
            super::install::entry_text(&plan)
        );
        slot.sandbox = Some(alloc::boxed::Box::new(sandbox));
        slot.module = Some(module);
        slot.state = ModuleState::Running;
        Ok(slot)
    }

    /// Starts a new instance of module `index` now (its old instance, if
    /// any, is replaced: a new generation, stale old handles). A fault while
    /// starting is contained like any other.
    ///
    /// # Errors
    /// The fault's text, or why there was nothing to start.
    pub(crate) fn start_now(
        &mut self,
        index: usize,
        counts_as_restart: bool,
    ) -> Result<(), String> {
        match self.table.start_instance(index, &self.kernel) {
            Ok(()) => {
                let slot = &mut self.table.slots[index];
                slot.state = ModuleState::Running;
                if counts_as_restart {
                    slot.tracker.restarts += 1;
                }
                if slot.tracing
                    && let Some(sandbox) = slot.sandbox.as_ref()
                {
                    print_new_accesses(&mut self.kernel, &self.router, &slot.plan.name, sandbox, 0);
                }
                let version = slot.module.as_ref().map_or("", |module| module.version());
                if counts_as_restart {
                    log::warn!(
                        "supervisor: {} restarted (generation {}, restart {}); {} queued messages follow",
                        slot.plan.name,
                        slot.generation,
                        slot.tracker.restarts,
                        slot.inbox.len()
                    );
                } else {
                    log::info!(
                        "module {} {version} up (generation {}): {}",
                        slot.plan.name,
                        slot.generation,
                        super::install::entry_text(&slot.plan)
                    );
                }
                self.route_console_output();
                Ok(())
            }
            Err(StartError::NeverLoaded) => {
                let name = &self.table.slots[index].plan.name;
                log::error!("supervisor: {name} was never loaded; nothing to start");
                Err(format!(
                    "{name} was never loaded (refused or missing at boot)"
                ))
            }
            Err(StartError::Faulted(fault)) => {
                let slot = &self.table.slots[index];
                log::error!("module {} failed to start: {fault}", slot.plan.name);
                // A start that fails has no instance to ask afterwards: its
                // accesses and refusals are traced from the fault.
                if slot.tracing {
                    for access in &fault.recent_accesses {
                        self.kernel.print_line(&format!(
                            "trace {}: {}",
                            slot.plan.name,
                            self.router.access_text(access)
                        ));
                    }
                }
                let text = format!("{fault}");
                self.contain(index, &fault, None);
                Err(text)
            }
        }
    }

    /// Takes a faulted module out and carries out what the supervisor decides.
    /// `event` is what it was handling (`None`: no event: it was starting,
    /// or was faulted from outside between events, as its fault's entry says).
    pub(crate) fn contain(&mut self, index: usize, fault: &Fault, event: Option<&Event<'_>>) {
        let now = self.kernel.now();
        let slot = &mut self.table.slots[index];
        if event.is_some()
            && let Some(sandbox) = slot.sandbox.as_ref()
        {
            slot.generation = sandbox.generation();
        }
        let router = &self.router;
        let handling = describe(event, fault.entry);
        self.records
            .record(now, fault, slot.generation, handling.clone(), &|access| {
                router.access_text(access)
            });
        if let Some(handling) = handling {
            log::error!("  it was handling: {handling}");
        }
        let actions = decide(
            SupervisorEvent::Faulted { now },
            &slot.policy,
            &mut slot.tracker,
        );
        let in_flight = match event {
            Some(Event::Message { request, .. }) => *request,
            _ => 0,
        };
        self.apply(index, actions, in_flight);
    }

    /// Carries out the supervisor's `actions` for module `index`.
    pub(crate) fn apply(&mut self, index: usize, actions: Actions, in_flight: u32) {
        if actions.revoke_irqs {
            for line in self.table.slots[index].irq_lines.clone() {
                // A shared line stays with its other holders; the one that
                // went away may owe the line's acknowledgement.
                let shared = self.table.slots.iter().enumerate().any(|(other, slot)| {
                    other != index && slot.is_running() && slot.irq_lines.contains(&line)
                });
                if shared {
                    self.kernel.acknowledge_irq(line);
                } else {
                    self.kernel.revoke_irq(line);
                }
            }
        }
        if actions.release_console {
            self.release_console_if_served(index);
        }
        let now = self.kernel.now();
        let slot = &mut self.table.slots[index];
        let name = slot.plan.name.clone();
        let start = match actions.next {
            NextState::RestartAt(at) => {
                log::warn!(
                    "supervisor: {name} restarts in {} ms",
                    at.saturating_sub(now) / 1_000_000
                );
                slot.state = ModuleState::RestartPending { at };
                None
            }
            NextState::Held { faults_in_window } => {
                log::error!(
                    "supervisor: {name} is on hold after {faults_in_window} faults in {} s; `start {name}` brings it back",
                    slot.policy.window_nanoseconds / 1_000_000_000
                );
                slot.state = ModuleState::Held;
                None
            }
            NextState::Faulted => {
                log::warn!("supervisor: {name} stays down (restart policy=never)");
                slot.state = ModuleState::Faulted;
                None
            }
            NextState::Stopped => {
                slot.state = ModuleState::Stopped;
                None
            }
            NextState::StartNow { counts_as_restart } => Some(counts_as_restart),
        };
        if let Some(outcome) = actions.settle {
            self.settle_waiting(index, outcome, in_flight);
        }
        if let Some(counts_as_restart) = start {
            let _ = self.start_now(index, counts_as_restart);
        }
    }

    /// Starts every module whose restart time has come. Returns whether any did.
    pub(crate) fn restart_due(&mut self, now: u64) -> bool {
        let due: Vec<usize> = (0..self.table.slots.len())
            .filter(|&index| {
                let slot = &self.table.slots[index];
                matches!(slot.state, ModuleState::RestartPending { at } if at <= now)
                    && !slot.away
                    && !self.operations.holds(index)
            })
            .collect();
        for &index in &due {
            let _ = self.start_now(index, true);
        }
        !due.is_empty()
    }

    fn release_console_if_served(&mut self, index: usize) {
        let serves_console = self
            .kernel
            .console_output_endpoint()
            .is_some_and(|endpoint| self.table.slots[index].serves.contains(&endpoint));
        if serves_console {
            self.kernel.take_console_back(Vec::new());
            log::warn!(
                "console driver {} is down; the kernel writes COM1 itself",
                self.table.slots[index].plan.name
            );
        }
    }

    /// Sorts what waits for module `index` after its instance ended as
    /// `outcome`: keeps what is delivered, answers requests with an error,
    /// logs what is not delivered, hands console output to the kernel.
    /// `in_flight` is the request number of the event being handled at a
    /// fault (0 if none or not a request).
    pub(crate) fn settle_waiting(&mut self, index: usize, outcome: Outcome, in_flight: u32) {
        // An instance that ends withdraws its calls (a swap's new version
        // keeps them).
        if matches!(outcome, Outcome::RestartPending | Outcome::Down) {
            let generation = self.table.slots[index].generation;
            self.command_calls.forget_instance(index, generation);
            let withdrawn =
                self.router
                    .withdraw_calls(index, generation, &mut self.table, &mut self.kernel);
            if withdrawn > 0 {
                log::info!(
                    "{withdrawn} calls of {} were withdrawn",
                    self.table.slots[index].plan.name
                );
            }
        }
        let console = self.table.slots[index]
            .plan
            .serves
            .iter()
            .any(|served| served == CONSOLE_OUTPUT_ENDPOINT);
        let waiting = core::mem::take(&mut self.table.slots[index].inbox);
        let mut kept = VecDeque::new();
        let mut failed: Vec<u32> = Vec::new();
        let mut replayed: Vec<Pending> = Vec::new();
        let mut written: Vec<Vec<u8>> = Vec::new();
        let (mut irqs, mut messages, mut replies) = (0usize, 0usize, 0usize);
        for pending in waiting {
            let item = match &pending {
                Pending::Irq(_) => Waiting::QueuedIrq,
                Pending::Reply { .. } => Waiting::QueuedReply,
                Pending::Message { request, .. } if self.router.is_open(*request) => {
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
                (_, Pending::Reply { .. }) => replies += 1,
            }
        }
        let queued: Vec<u32> = kept
            .iter()
            .filter_map(|pending| match pending {
                Pending::Message { request, .. } if *request != 0 => Some(*request),
                _ => None,
            })
            .collect();
        self.table.slots[index].inbox = kept;
        // Requests it held: delivered and unanswered, or the one in flight.
        for request in self.router.requests_to(index) {
            if queued.contains(&request) || failed.contains(&request) {
                continue;
            }
            let item = if request == in_flight {
                Waiting::InFlight
            } else {
                Waiting::Unanswered {
                    idempotent: self.router.is_replayable(request),
                }
            };
            match disposition(item, outcome) {
                Disposition::Fail => failed.push(request),
                // After a swap the new version answers it from the state it
                // took over; after a restart the new instance is asked again.
                Disposition::Deliver if outcome == Outcome::RestartPending => {
                    if let Some(bytes) = self.router.replay_bytes(request) {
                        replayed.push(Pending::Message { request, bytes });
                    }
                }
                _ => {}
            }
        }
        // Asked before anything still queued: ahead of it, in order.
        if !replayed.is_empty() {
            log::info!(
                "{} idempotent requests {} held unanswered are replayed to its next instance",
                replayed.len(),
                self.table.slots[index].plan.name
            );
            let inbox = &mut self.table.slots[index].inbox;
            for pending in replayed.into_iter().rev() {
                inbox.push_front(pending);
            }
        }
        let slot = &self.table.slots[index];
        let name = slot.plan.name.clone();
        let state = slot.state.name();
        for request in failed {
            self.router
                .fail(request, IpcError::Closed, &mut self.kernel);
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
        if replies > 0 {
            log::warn!(
                "{replies} answers to calls of the old instance of {name} dropped: module {state}"
            );
        }
        if !written.is_empty() {
            // Console output must not be lost: the kernel writes it itself.
            self.kernel.take_console_back(written);
        }
    }
}

/// `trace NAME on`: prints the trace entries (device accesses, refusals,
/// messages) `sandbox` recorded since its `trace_entries` counter stood at `before`.
pub(crate) fn print_new_accesses<K: KernelServices>(
    kernel: &mut K,
    router: &super::router::Router,
    module: &str,
    sandbox: &SandboxOf<K>,
    before: u64,
) {
    let new = sandbox.counters().trace_entries.saturating_sub(before);
    if new == 0 {
        return;
    }
    let recent = sandbox.recent_accesses();
    let shown = usize::try_from(new).unwrap_or(usize::MAX).min(recent.len());
    if (shown as u64) < new {
        kernel.print_line(&format!(
            "trace {module}: ({} earlier accesses not kept)",
            new - shown as u64
        ));
    }
    for access in &recent[recent.len() - shown..] {
        kernel.print_line(&format!("trace {module}: {}", router.access_text(access)));
    }
}

/// What a module was doing when it faulted: an event, or (`None`) starting.
/// What a faulted instance was doing: `event`, or without one its start
/// (`entry` says which); `None` for a fault from outside between events.
fn describe(event: Option<&Event<'_>>, entry: Entry) -> Option<String> {
    let Some(event) = event else {
        return matches!(entry, Entry::Init | Entry::Instantiate)
            .then(|| String::from("its start (init)"));
    };
    Some(match event {
        Event::Irq { line } => format!("IRQ {line}"),
        Event::Message { request, bytes } => {
            format!("a message of {} bytes (request {request})", bytes.len())
        }
        Event::Timer => String::from("a timer event"),
        Event::Reply { call, outcome } => match outcome {
            Ok(bytes) => format!("the reply to its call {call} ({} bytes)", bytes.len()),
            Err(error) => format!("the failure of its call {call} ({error})"),
        },
    })
}

/// Whether a manifest entry's file is a path on the file system (`path` in
/// the system manifest) rather than a file of the boot archive.
pub fn is_file_system_path(file: &str) -> bool {
    file.starts_with('/')
}

/// Whether the boot starts `plan`'s module from the boot archive (not one
/// started by hand, nor one kept on the file system, which starts after the
/// boot once the `fs` server answers).
pub fn boots_from_archive(plan: &ModulePlan) -> bool {
    !plan.on_demand && !is_file_system_path(&plan.file)
}
