//! One running instance of a module: event delivery under a fuel budget,
//! fault classification, state export, and release of its capabilities.

use crate::capabilities::Capability;
use crate::faults::{Entry, Fault, FaultKind, StateError};
use crate::loader::LoadedModule;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::state::{State, guest_range};
use crate::trace::{Access, Counters};
use alloc::string::ToString;
use alloc::vec::Vec;
use cella_abi::{Export, LogLevel, MAX_MESSAGE_BYTES, MAX_STATE_BYTES};
use wasmi::{Instance, Store, TypedFunc, WasmParams, WasmResults};

/// Something for a module to handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// IRQ `line` fired; delivered to the module holding that line.
    Irq {
        /// Line.
        line: u8,
    },
    /// A message; `request` non-zero means the sender waits for a reply.
    Message {
        /// Request id (0: no reply expected).
        request: u32,
        /// Bytes (at most [`cella_abi::MAX_MESSAGE_BYTES`]).
        bytes: &'a [u8],
    },
    /// Time passed: every timer whose deadline is due fires.
    Timer,
}

/// What happened to a delivered event (when the module did not fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The handler ran (for timers: `count` handlers ran).
    Handled {
        /// Handlers run.
        count: u32,
    },
    /// The module exports no handler for this kind of event.
    NoHandler,
    /// The module holds no capability for this IRQ line.
    NotHeld,
    /// No timer was due.
    NothingDue,
    /// Refused without running: message too long, or too many requests
    /// pending. The sender should get an error.
    Refused,
}

/// A state exported by `save_state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedState {
    /// The exporting module's state-format version.
    pub format_version: u32,
    /// The bytes.
    pub bytes: Vec<u8>,
}

#[derive(Clone, Copy)]
pub(crate) struct Entries {
    pub(crate) init: TypedFunc<(), i32>,
    pub(crate) on_irq: Option<TypedFunc<i32, ()>>,
    pub(crate) on_message: Option<TypedFunc<(i32, i32), ()>>,
    pub(crate) on_timer: Option<TypedFunc<i32, ()>>,
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
}

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
    /// deliver [`Event::Timer`] at.
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

    /// Runs the handler for one event to completion.
    ///
    /// # Errors
    /// A [`Fault`] if the module traps, runs out of fuel, misbehaves too often
    /// or is already dead. The instance is dead afterwards.
    pub fn deliver(&mut self, event: Event<'_>) -> Result<Delivery, Fault> {
        self.check_alive()?;
        match event {
            Event::Irq { line } => {
                let Some(handle) = self.store.data().capabilities.handle_for_irq(line) else {
                    return Ok(Delivery::NotHeld);
                };
                let Some(handler) = self.entries.on_irq else {
                    return Ok(Delivery::NoHandler);
                };
                self.run(Entry::Irq, handler, handle, true)?;
                Ok(Delivery::Handled { count: 1 })
            }
            Event::Message { request, bytes } => self.deliver_message(request, bytes),
            Event::Timer => self.deliver_timers(),
        }
    }

    fn deliver_message(&mut self, request: u32, bytes: &[u8]) -> Result<Delivery, Fault> {
        let Some(handler) = self.entries.on_message else {
            return Ok(Delivery::NoHandler);
        };
        let Ok(length) = i32::try_from(bytes.len()) else {
            return Ok(Delivery::Refused);
        };
        let state = self.store.data_mut();
        if bytes.len() > MAX_MESSAGE_BYTES as usize {
            return Ok(Delivery::Refused);
        }
        if request != 0 && !state.pending_requests.contains(&request) {
            if state.pending_requests.len() >= state.limits.max_pending_requests as usize {
                return Ok(Delivery::Refused);
            }
            state.pending_requests.push(request);
        }
        state.message.clear();
        state.message.extend_from_slice(bytes);
        state.message_present = true;
        // Request ids are passed through as the same 32 bits.
        let result = self.run(Entry::Message, handler, (request as i32, length), true);
        self.store.data_mut().message_present = false;
        result?;
        Ok(Delivery::Handled { count: 1 })
    }

    fn deliver_timers(&mut self) -> Result<Delivery, Fault> {
        let Some(handler) = self.entries.on_timer else {
            return Ok(Delivery::NoHandler);
        };
        let state = self.store.data_mut();
        let now = state.platform.now_nanoseconds();
        let generation = state.capabilities.generation();
        let mut due = Vec::new();
        for (slot, capability) in state.capabilities.iter_mut().enumerate() {
            if let Capability::Timer { deadline } = capability
                && deadline.is_some_and(|deadline| deadline <= now)
            {
                *deadline = None;
                due.push(slot);
            }
        }
        let mut count = 0u32;
        for slot in due {
            let handle = crate::handles::Handle::encode(generation, slot);
            self.run(Entry::Timer, handler, handle, true)?;
            count = count.saturating_add(1);
        }
        Ok(if count == 0 {
            Delivery::NothingDue
        } else {
            Delivery::Handled { count }
        })
    }

    /// Asks the module to serialise its state (`save_state`) and copies it out.
    /// A failure here does not kill the instance: the module was quiescent
    /// and stays usable.
    ///
    /// # Errors
    /// [`FaultKind::BadState`] for a missing export or a blob outside linear
    /// memory or too large; a trap or fuel fault while saving.
    pub fn save_state(&mut self) -> Result<SavedState, Fault> {
        self.check_alive()?;
        let Some(save) = self.entries.save_state else {
            return Err(self.report(
                Entry::SaveState,
                FaultKind::BadState(StateError::NoSaveExport),
            ));
        };
        let packed = self.run(Entry::SaveState, save, (), false)? as u64;
        let pointer = (packed & 0xffff_ffff) as u32;
        let length = (packed >> 32) as u32;
        if length > MAX_STATE_BYTES {
            return Err(self.report(Entry::SaveState, FaultKind::BadState(StateError::TooLarge)));
        }
        let bytes = self.store.data().memory.and_then(|memory| {
            let data = memory.data(&self.store);
            let range = guest_range(data.len(), pointer as i32, length).ok()?;
            data.get(range).map(<[u8]>::to_vec)
        });
        match bytes {
            Some(bytes) => Ok(SavedState {
                format_version: self.module.state_version,
                bytes,
            }),
            None => Err(self.report(
                Entry::SaveState,
                FaultKind::BadState(StateError::BlobOutOfBounds),
            )),
        }
    }

    /// Hands a saved state to a freshly instantiated module: `state_buffer`,
    /// copy, `restore_state`. Kills the instance on failure.
    pub(crate) fn restore_state(&mut self, saved: &SavedState) -> Result<(), Fault> {
        let entry = Entry::RestoreState;
        let (Some(buffer), Some(restore)) = (self.entries.state_buffer, self.entries.restore_state)
        else {
            return Err(self.kill(entry, FaultKind::BadState(StateError::NoRestoreExport)));
        };
        let Ok(length) = i32::try_from(saved.bytes.len()) else {
            return Err(self.kill(entry, FaultKind::BadState(StateError::TooLarge)));
        };
        let pointer = self.run(entry, buffer, length, true)?;
        let copied = self.store.data().memory.and_then(|memory| {
            let data = memory.data_mut(&mut self.store);
            let range = guest_range(data.len(), pointer, length as u32).ok()?;
            data.get_mut(range)?.copy_from_slice(&saved.bytes);
            Some(())
        });
        if copied.is_none() {
            return Err(self.kill(entry, FaultKind::BadState(StateError::BufferOutOfBounds)));
        }
        let version = saved.format_version as i32;
        let code = self.run(entry, restore, (pointer, length, version), true)?;
        if code != 0 {
            return Err(self.kill(entry, FaultKind::BadState(StateError::Rejected(code))));
        }
        Ok(())
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

    fn check_alive(&self) -> Result<(), Fault> {
        match self.dead {
            None => Ok(()),
            Some(_) => Err(Fault {
                module: self.module.name.clone(),
                entry: Entry::None,
                kind: FaultKind::Dead,
            }),
        }
    }

    /// Calls one entry point under the fuel budget and classifies a failure.
    /// With `kill_on_fault` a failure kills the instance.
    fn run<Params: WasmParams, Results: WasmResults>(
        &mut self,
        entry: Entry,
        func: TypedFunc<Params, Results>,
        params: Params,
        kill_on_fault: bool,
    ) -> Result<Results, Fault> {
        let budget = self.store.data().limits.fuel_per_event;
        if let Err(error) = self.store.set_fuel(budget) {
            return Err(self.kill(entry, FaultKind::Engine(error.to_string())));
        }
        let result = func.call(&mut self.store, params);
        let left = self.store.get_fuel().unwrap_or(0);
        let state = self.store.data_mut();
        let used = budget.saturating_sub(left);
        state.counters.last_event_fuel = used;
        state.counters.fuel_used = state.counters.fuel_used.saturating_add(used);
        match result {
            Ok(results) => {
                state.counters.events_handled = state.counters.events_handled.wrapping_add(1);
                Ok(results)
            }
            Err(error) => {
                let kind = match state.pending_fault.take() {
                    Some(kind) => kind,
                    None => match error.as_trap_code() {
                        Some(wasmi::TrapCode::OutOfFuel) => FaultKind::OutOfFuel { budget },
                        Some(code) => FaultKind::Trap(code),
                        None => FaultKind::Engine(error.to_string()),
                    },
                };
                Err(if kill_on_fault {
                    self.kill(entry, kind)
                } else {
                    self.report(entry, kind)
                })
            }
        }
    }

    /// Builds a fault for this module and logs it.
    fn report(&mut self, entry: Entry, kind: FaultKind) -> Fault {
        let fault = Fault {
            module: self.module.name.clone(),
            entry,
            kind,
        };
        let message = fault.to_string();
        let state = self.store.data_mut();
        state.platform.log(&state.module, LogLevel::Error, &message);
        fault
    }

    /// Faults the module: it is dead from now on and its capabilities are
    /// released.
    pub(crate) fn kill(&mut self, entry: Entry, kind: FaultKind) -> Fault {
        let fault = self.report(entry, kind);
        self.dead = Some(fault.clone());
        self.release(&[]);
        fault
    }

    /// IRQ lines this instance has unmasked.
    pub(crate) fn enabled_lines(&self) -> Vec<u8> {
        self.store
            .data()
            .capabilities
            .iter()
            .filter_map(|capability| match capability {
                Capability::IrqLine {
                    line,
                    enabled: true,
                } => Some(*line),
                _ => None,
            })
            .collect()
    }

    /// Releases every capability: frees DMA buffers and masks unmasked IRQ
    /// lines except `keep_lines` (lines a successor holds unmasked).
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
                Capability::DmaBuffer {
                    device_address,
                    size,
                    ..
                } => {
                    state.platform.dma_free(device_address, size);
                }
                _ => {}
            }
        }
    }
}

impl<P: Platform, O: Outbox> Drop for Sandbox<P, O> {
    fn drop(&mut self) {
        self.release(&[]);
    }
}
