//! One running instance of a module: entry points run under a fuel budget,
//! fault classification, and release of its capabilities on death.

use crate::access::Access;
use crate::capabilities::Capability;
use crate::faults::{Entry, Fault, FaultKind};
use crate::loader::LoadedModule;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::State;
use crate::trace::Counters;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use cella_abi::{Export, LogLevel};
use wasmi::{Instance, Store, TypedFunc, WasmParams, WasmResults};

#[derive(Clone, Copy)]
pub(crate) struct Entries {
    pub(crate) init: TypedFunc<(), i32>,
    pub(crate) on_irq: Option<TypedFunc<i32, ()>>,
    pub(crate) on_message: Option<TypedFunc<(i32, i32), ()>>,
    pub(crate) on_timer: Option<TypedFunc<i32, ()>>,
    pub(crate) on_reply: Option<TypedFunc<(i32, i32, i32), ()>>,
    pub(crate) save_state: Option<TypedFunc<(), i64>>,
    pub(crate) state_buffer: Option<TypedFunc<i32, i32>>,
    pub(crate) restore_state: Option<TypedFunc<(i32, i32, i32), i32>>,
}

impl Entries {
    pub(crate) fn find<T>(instance: &Instance, store: &Store<T>) -> Option<Entries> {
        Some(Entries {
            init: instance.get_typed_func(store, Export::Init.name()).ok()?,
            on_irq: instance.get_typed_func(store, Export::OnIrq.name()).ok(),
            on_message: instance
                .get_typed_func(store, Export::OnMessage.name())
                .ok(),
            on_timer: instance.get_typed_func(store, Export::OnTimer.name()).ok(),
            on_reply: instance.get_typed_func(store, Export::OnReply.name()).ok(),
            save_state: instance
                .get_typed_func(store, Export::SaveState.name())
                .ok(),
            state_buffer: instance
                .get_typed_func(store, Export::StateBuffer.name())
                .ok(),
            restore_state: instance
                .get_typed_func(store, Export::RestoreState.name())
                .ok(),
        })
    }
}

/// A live (or dead) instance of a module. Obtained from
/// [`crate::Runtime::start`]; driven one event at a time with
/// [`Sandbox::deliver`]. Dropping it releases its capabilities.
pub struct Sandbox<P: Platform, O: Outbox> {
    pub(crate) store: Store<State<P, O>>,
    pub(crate) entries: Entries,
    pub(crate) module: LoadedModule,
    pub(crate) dead: Option<Fault>,
    pub(crate) released: bool,
    /// The handler suspended in `ipc_wait`, if one is (see [`crate::waiting`]).
    pub(crate) suspended: Option<crate::waiting::Suspended>,
}

/// A PCI function's command register, and its bus-master bit (the function
/// may issue DMA).
const PCI_COMMAND: u8 = 0x04;
const PCI_COMMAND_BUS_MASTER: u32 = 0x4;

impl<P: Platform, O: Outbox> Sandbox<P, O> {
    /// Module name.
    pub fn name(&self) -> &str {
        &self.module.name
    }

    /// The module this instance runs.
    pub fn module(&self) -> &LoadedModule {
        &self.module
    }

    /// True until the first fault.
    pub fn is_alive(&self) -> bool {
        self.dead.is_none()
    }

    /// The fault that killed this instance, if any.
    pub fn fault(&self) -> Option<&Fault> {
        self.dead.as_ref()
    }

    /// This instance's generation (part of every handle it holds).
    pub fn generation(&self) -> u32 {
        self.store.data().capabilities.generation()
    }

    /// Counters: events, fuel, host calls, violations.
    pub fn counters(&self) -> Counters {
        self.store.data().counters
    }

    /// Current linear-memory size in 64 KiB pages (0 without memory).
    pub fn memory_pages(&self) -> u64 {
        match self.store.data().memory {
            Some(memory) => memory.size(&self.store),
            None => 0,
        }
    }

    /// The most recent device accesses and refusals, oldest first.
    pub fn recent_accesses(&self) -> Vec<Access> {
        self.store.data().trace.recent()
    }

    /// The capabilities this instance holds now (DMA buffers included).
    pub fn capabilities(&self) -> Vec<Capability> {
        self.store.data().capabilities.iter().cloned().collect()
    }

    /// The earliest armed timer deadline (nanoseconds), for the embedder to
    /// deliver [`crate::Event::Timer`] at.
    pub fn next_timer_deadline(&self) -> Option<u64> {
        self.store
            .data()
            .capabilities
            .iter()
            .filter_map(|capability| match capability {
                Capability::Timer { deadline } => *deadline,
                _ => None,
            })
            .min()
    }

    /// Requests received and not yet answered.
    pub fn pending_requests(&self) -> &[u32] {
        &self.store.data().pending_requests
    }

    /// The platform handle.
    pub fn platform(&self) -> &P {
        &self.store.data().platform
    }

    /// The outbox handle.
    pub fn outbox(&self) -> &O {
        &self.store.data().outbox
    }

    /// Runs `init`; a non-zero result kills the instance.
    pub(crate) fn init(&mut self) -> Result<(), Fault> {
        let init = self.entries.init;
        let code = self.run(Entry::Init, init, (), true)?;
        if code != 0 {
            return Err(self.kill(Entry::Init, FaultKind::InitFailed { code }));
        }
        Ok(())
    }

    pub(crate) fn check_alive(&self) -> Result<(), Fault> {
        match &self.dead {
            None => Ok(()),
            // The accesses of the instance that faulted (after a failed
            // restart that is not the one this store still holds).
            Some(fault) => Err(Fault {
                module: self.module.name.clone(),
                entry: Entry::None,
                kind: FaultKind::Dead,
                recent_accesses: fault.recent_accesses.clone(),
            }),
        }
    }

    /// Calls one entry point under the fuel budget and classifies a failure.
    /// With `kill_on_fault` a failure kills the instance.
    pub(crate) fn run<Params: WasmParams, Results: WasmResults>(
        &mut self,
        entry: Entry,
        func: TypedFunc<Params, Results>,
        params: Params,
        kill_on_fault: bool,
    ) -> Result<Results, Fault> {
        let budget = self.begin_run(entry)?;
        let result = func.call(&mut self.store, params);
        self.end_run(budget);
        match result {
            Ok(results) => {
                let counters = &mut self.store.data_mut().counters;
                counters.events_handled = counters.events_handled.wrapping_add(1);
                Ok(results)
            }
            Err(error) => {
                let kind = match self.store.data_mut().pending_fault.take() {
                    Some(kind) => kind,
                    None => Self::classify(&error, budget),
                };
                Err(if kill_on_fault {
                    self.kill(entry, kind)
                } else {
                    self.report(entry, kind)
                })
            }
        }
    }

    /// Gives the run about to start its fuel budget and a fresh log budget;
    /// returns the budget.
    pub(crate) fn begin_run(&mut self, entry: Entry) -> Result<u64, Fault> {
        let budget = self.store.data().limits.fuel_per_event;
        if let Err(error) = self.store.set_fuel(budget) {
            return Err(self.kill(entry, FaultKind::Engine(error.to_string())));
        }
        self.store.data_mut().log_budget.start_event();
        Ok(budget)
    }

    /// Reports what the run that just ended dropped from its log and
    /// counts the fuel it used.
    pub(crate) fn end_run(&mut self, budget: u64) {
        let left = self.store.get_fuel().unwrap_or(0);
        let state = self.store.data_mut();
        let limits = state.limits;
        if let Some(report) = state
            .log_budget
            .dropped_report(limits.log_lines_per_event, limits.log_bytes_per_event)
        {
            state.platform.log(&state.module, LogLevel::Warn, &report);
        }
        let used = budget.saturating_sub(left);
        state.counters.last_event_fuel = used;
        state.counters.fuel_used = state.counters.fuel_used.saturating_add(used);
    }

    /// The fault an engine error of a run with `budget` fuel stands for.
    pub(crate) fn classify(error: &wasmi::Error, budget: u64) -> FaultKind {
        match error.as_trap_code() {
            Some(wasmi::TrapCode::OutOfFuel) => FaultKind::OutOfFuel { budget },
            Some(code) => FaultKind::Trap(code),
            None => FaultKind::Engine(error.to_string()),
        }
    }

    /// Builds a fault for this module, with this instance's last accesses,
    /// and logs it.
    pub(crate) fn report(&mut self, entry: Entry, kind: FaultKind) -> Fault {
        let fault = Fault {
            module: self.module.name.clone(),
            entry,
            kind,
            recent_accesses: self.recent_accesses(),
        };
        let message = fault.to_string();
        let state = self.store.data_mut();
        state.platform.log(&state.module, LogLevel::Error, &message);
        fault
    }

    /// Faults the module for a reason the embedder enforces (a limit of its
    /// own, such as the kernel memory the module holds), as if `entry` had
    /// failed: the instance is dead from now on and its capabilities are
    /// released.
    pub fn fault_by_embedder(&mut self, entry: Entry, reason: String) -> Fault {
        self.kill(entry, FaultKind::Embedder(reason))
    }

    /// Faults the module: it is dead from now on and its capabilities are
    /// released.
    pub(crate) fn kill(&mut self, entry: Entry, kind: FaultKind) -> Fault {
        let fault = self.report(entry, kind);
        self.dead = Some(fault.clone());
        self.suspended = None;
        self.end();
        fault
    }

    /// Ends the instance for good (a fault, a stop, a removal). An instance
    /// that serves (no swap's successor still taking over, which shares
    /// the device with the instance it replaces) first turns bus mastering
    /// off in every PCI function it holds, so a device still working on its
    /// requests reaches none of its DMA buffers once they are freed; its
    /// next instance turns it on again when it brings the device up. Then
    /// every capability is released.
    fn end(&mut self) {
        if self.released {
            return;
        }
        let state = self.store.data_mut();
        if state.held.is_none() {
            for capability in state.capabilities.iter() {
                if let Capability::PciDevice { function } = capability {
                    let address = function.address;
                    let command = state
                        .platform
                        .pci_config_read(address, PCI_COMMAND, Width::Word);
                    state.platform.pci_config_write(
                        address,
                        PCI_COMMAND,
                        Width::Word,
                        command & !PCI_COMMAND_BUS_MASTER,
                    );
                }
            }
        }
        self.release(&[]);
    }

    /// IRQ lines this instance has unmasked.
    pub(crate) fn enabled_lines(&self) -> Vec<u8> {
        self.line_states()
            .into_iter()
            .filter_map(|(line, enabled)| enabled.then_some(line))
            .collect()
    }

    /// Each IRQ line this instance holds, once, with whether it left it
    /// unmasked.
    pub(crate) fn line_states(&self) -> Vec<(u8, bool)> {
        let mut lines: Vec<(u8, bool)> = Vec::new();
        for capability in self.store.data().capabilities.iter() {
            if let Capability::IrqLine { line, enabled } = capability {
                match lines.iter_mut().find(|(held, _)| held == line) {
                    Some((_, state)) => *state |= *enabled,
                    None => lines.push((*line, *enabled)),
                }
            }
        }
        lines
    }

    /// Releases every capability: frees DMA buffers, masks unmasked IRQ
    /// lines except `keep_lines` (lines a successor holds unmasked) and gives
    /// MSI-X vectors back to the kernel (which masks their table entries: a
    /// successor asks for its own).
    pub(crate) fn release(&mut self, keep_lines: &[u8]) {
        if self.released {
            return;
        }
        self.released = true;
        let state = self.store.data_mut();
        for capability in state.capabilities.clear() {
            match capability {
                Capability::IrqLine {
                    line,
                    enabled: true,
                } if !keep_lines.contains(&line) => {
                    state.platform.irq_set_enabled(line, false);
                }
                Capability::MsixVector { line, .. } => state.platform.msix_release(line),
                Capability::DmaBuffer {
                    device_address,
                    size,
                    device,
                    ..
                } => {
                    state.platform.dma_free(device, device_address, size);
                }
                Capability::LentBuffer {
                    device_address,
                    size,
                    device,
                    ..
                } => {
                    state.platform.dma_return(device, device_address, size);
                }
                _ => {}
            }
        }
    }
}

impl<P: Platform, O: Outbox> Drop for Sandbox<P, O> {
    fn drop(&mut self) {
        self.end();
    }
}
