//! What the supervisor does to the module table: contain a fault, restart on
//! schedule, and the commands a person gives (restart, stop, start; swap is
//! in [`super::hot_swap`]).
//!
//! What happens to the requests queued for or in flight to a module when it
//! faults, is held, stopped or swapped is decided per kind in
//! [`super::replay`] (host-tested; the table is there and in
//! `docs/supervisor.md`) and applied by `System::settle_waiting`.

use super::policy::Decision;
use super::records;
use super::replay::Outcome;
use crate::console;
use crate::irq;
use crate::sandboxes::platform::KernelPlatform;
use crate::sandboxes::router::KernelOutbox;
use crate::sandboxes::slot::ModuleState;
use crate::sandboxes::system::System;
use crate::time;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Event, Fault};

impl System {
    /// Takes a faulted module out and lets its policy decide what comes next.
    pub(crate) fn contain(&mut self, index: usize, fault: &Fault, event: Option<&Event<'_>>) {
        let now = time::now_nanoseconds();
        // A failed start (no event) faulted the instance just created, which
        // never replaced the old one: its generation is the runtime's last.
        let started_last = self.runtime.last_generation();
        let slot = &mut self.slots[index];
        let generation = match (event, slot.sandbox.as_ref()) {
            (Some(_), Some(sandbox)) => sandbox.generation(),
            _ => started_last,
        };
        records::record(fault, generation);
        log::error!("  it was handling: {}", describe(event));
        for &line in &slot.irq_lines {
            irq::revoke(line);
        }
        let decision = slot.tracker.on_fault(&slot.policy, now);
        slot.state = match decision {
            Decision::RestartAt(at) => {
                log::warn!(
                    "supervisor: {} restarts in {} ms",
                    slot.plan.name,
                    (at - now) / 1_000_000
                );
                ModuleState::RestartPending { at }
            }
            Decision::Hold { faults_in_window } => {
                log::error!(
                    "supervisor: {} is on hold after {faults_in_window} faults in {} s; `restart {}` brings it back",
                    slot.plan.name,
                    slot.policy.window_nanoseconds / 1_000_000_000,
                    slot.plan.name
                );
                ModuleState::Held
            }
            Decision::StayDown => {
                log::warn!(
                    "supervisor: {} stays down (restart policy=never)",
                    slot.plan.name
                );
                ModuleState::Stopped
            }
        };
        let outcome = match self.slots[index].state {
            ModuleState::RestartPending { .. } => Outcome::RestartPending,
            _ => Outcome::Down,
        };
        let in_flight = match event {
            Some(Event::Message { request, .. }) => *request,
            _ => 0,
        };
        self.release_console_if_served(index);
        self.settle_waiting(index, outcome, in_flight);
    }

    fn release_console_if_served(&mut self, index: usize) {
        let serves_console = console::output_endpoint()
            .is_some_and(|endpoint| self.slots[index].serves.contains(&endpoint));
        if serves_console {
            console::take_back(Vec::new());
            log::warn!(
                "console driver {} is down; the kernel writes COM1 itself",
                self.slots[index].plan.name
            );
        }
    }

    /// Restarts every module whose restart time has come. Returns whether any did.
    pub(crate) fn restart_due(&mut self, now: u64) -> bool {
        let due: Vec<usize> = (0..self.slots.len())
            .filter(|&index| matches!(self.slots[index].state, ModuleState::RestartPending { at } if at <= now))
            .collect();
        for &index in &due {
            self.restart_now(index);
        }
        !due.is_empty()
    }

    /// Starts a new instance of module `index` (new generation, stale old handles).
    fn restart_now(&mut self, index: usize) {
        self.bring_home(index);
        let account = crate::sandboxes::system::account_of(index);
        let slot = &mut self.slots[index];
        let runtime = &mut self.runtime;
        let result = match (&mut slot.sandbox, &slot.module) {
            (Some(sandbox), _) => crate::sched::charge_to(account, || runtime.restart(sandbox)),
            (None, Some(module)) => crate::sched::charge_to(account, || {
                runtime.start(module, KernelPlatform, KernelOutbox)
            })
            .map(|sandbox| slot.sandbox = Some(sandbox)),
            (None, None) => {
                log::error!(
                    "supervisor: {} was never loaded; nothing to restart",
                    slot.plan.name
                );
                return;
            }
        };
        match result {
            Ok(()) => {
                slot.tracker.restarts += 1;
                slot.state = ModuleState::Running;
                let generation = slot
                    .sandbox
                    .as_ref()
                    .map_or(0, |sandbox| sandbox.generation());
                if slot.tracing
                    && let Some(sandbox) = slot.sandbox.as_ref()
                {
                    super::trace::print_new_accesses(&slot.plan.name, sandbox, 0);
                }
                log::warn!(
                    "supervisor: {} restarted (generation {generation}, restart {}); {} queued messages follow",
                    slot.plan.name,
                    slot.tracker.restarts,
                    slot.inbox.len()
                );
                self.route_console_output();
            }
            Err(fault) => {
                log::error!("supervisor: restarting {} failed", slot.plan.name);
                self.contain(index, &fault, None);
            }
        }
    }

    /// `restart NAME`: a fresh instance now, with a fresh fault history.
    ///
    /// # Errors
    /// A message if there is no such module.
    pub fn restart_by_hand(&mut self, name: &str) -> Result<String, String> {
        let index = self
            .find(name)
            .ok_or_else(|| format!("no module named {name}"))?;
        self.bring_home(index);
        self.slots[index].tracker.reset();
        self.release_console_if_served(index);
        if self.slots[index].state == ModuleState::Running {
            // The running instance goes: what it was asked and has not answered
            // is answered now (the new instance cannot); its queue waits for it.
            self.settle_waiting(index, Outcome::RestartPending, 0);
        }
        for &line in &self.slots[index].irq_lines.clone() {
            irq::revoke(line);
        }
        self.restart_now(index);
        let slot = &self.slots[index];
        Ok(format!("{name}: {}", slot.state.name()))
    }

    /// `stop NAME`: the instance stops handling events and its IRQ lines are masked.
    ///
    /// # Errors
    /// A message if there is no such module or it is not running.
    pub fn stop_by_hand(&mut self, name: &str) -> Result<String, String> {
        let index = self
            .find(name)
            .ok_or_else(|| format!("no module named {name}"))?;
        self.bring_home(index);
        if self.slots[index].state != ModuleState::Running {
            return Err(format!(
                "{name} is not running ({})",
                self.slots[index].state.name()
            ));
        }
        for &line in &self.slots[index].irq_lines.clone() {
            irq::revoke(line);
        }
        self.release_console_if_served(index);
        self.slots[index].state = ModuleState::Stopped;
        self.settle_waiting(index, Outcome::Down, 0);
        Ok(format!("{name}: stopped"))
    }

    /// `start NAME`: brings a stopped or held module back.
    ///
    /// # Errors
    /// A message if there is no such module or it is running already.
    pub fn start_by_hand(&mut self, name: &str) -> Result<String, String> {
        let index = self
            .find(name)
            .ok_or_else(|| format!("no module named {name}"))?;
        if self.slots[index].state == ModuleState::Running {
            return Err(format!("{name} is already running"));
        }
        self.restart_by_hand(name)
    }
}

/// What a module was doing when it faulted: an event, or (`None`) starting.
fn describe(event: Option<&Event<'_>>) -> String {
    let Some(event) = event else {
        return String::from("its start (init)");
    };
    match event {
        Event::Irq { line } => format!("IRQ {line}"),
        Event::Message { request, bytes } => {
            format!("a message of {} bytes (request {request})", bytes.len())
        }
        Event::Timer => String::from("a timer event"),
    }
}
