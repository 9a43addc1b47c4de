//! One entry of the module table: a module's plan, its instance, where it
//! stands in its lifecycle, and the events waiting for it.

use super::services::{KernelServices, SandboxOf};
use crate::supervisor::policy::{RestartPolicy, RestartTracker};
use crate::system_manifest::{GrantLine, ModulePlan};
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::LoadedModule;
use cella_wasm_host::abi::{ErrorCode, PciAddress};

/// Most events queued for one module unless its `queue` limit says otherwise;
/// more are refused and reported.
pub const INBOX_CAPACITY: usize = 4096;

/// An event waiting for a module.
pub enum Pending {
    Irq(u8),
    Message {
        request: u32,
        bytes: Vec<u8>,
    },
    /// The answer to a call the module made: the reply's bytes or the error.
    Reply {
        call: u32,
        outcome: Result<Vec<u8>, ErrorCode>,
    },
}

/// The stage a hot swap is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapStage {
    /// The new version is loaded and instantiated elsewhere; the old instance
    /// keeps handling events.
    Preparing,
    /// The old instance gets no new event; the state moves over once it is
    /// home from the one it is handling.
    HandingOver,
}

/// Where a module stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleState {
    /// Loaded and checked, never started (`boot = false` in the manifest).
    NotStarted,
    /// Handling events.
    Running,
    /// Running while a new version takes its place.
    Swapping(SwapStage),
    /// Faulted; comes back at this time. Messages for it wait and are replayed.
    RestartPending { at: u64 },
    /// Faulted too often; stays down until started by hand.
    Held,
    /// Faulted under `policy=never`; stays down until started by hand.
    Faulted,
    /// Stopped by hand.
    Stopped,
    /// Never loaded: missing file, or refused at load.
    Refused,
    /// Taken out of the running system by hand (`remove NAME`): stopped and
    /// unloaded, its grants released; a push from the host loads it again.
    Removed,
}

impl ModuleState {
    /// A short word for `ps`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotStarted => "not-started",
            Self::Running => "running",
            Self::Swapping(_) => "swapping",
            Self::RestartPending { .. } => "restarting",
            Self::Held => "held",
            Self::Faulted => "faulted",
            Self::Stopped => "stopped",
            Self::Refused => "refused",
            Self::Removed => "removed",
        }
    }

    /// Whether an instance is up (running, or running while being swapped).
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Running | Self::Swapping(_))
    }
}

/// What `ps` shows of an instance: fuel used, linear memory, log lines dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceFigures {
    pub fuel: u64,
    pub memory_kib: u64,
    pub log_lines_dropped: u64,
}

impl InstanceFigures {
    /// The figures of `sandbox` now.
    pub fn of<P: cella_wasm_host::Platform, O: cella_wasm_host::Outbox>(
        sandbox: &cella_wasm_host::Sandbox<P, O>,
    ) -> Self {
        let counters = sandbox.counters();
        InstanceFigures {
            fuel: counters.fuel_used,
            memory_kib: sandbox.memory_pages() * 64,
            log_lines_dropped: counters.log_lines_dropped,
        }
    }
}

/// A module in the table.
pub struct Slot<K: KernelServices> {
    pub plan: ModulePlan,
    pub policy: RestartPolicy,
    pub tracker: RestartTracker,
    /// The validated module, kept for restarts; `None` if it never loaded.
    pub module: Option<LoadedModule>,
    /// The instance, kept even when dead so a restart continues its lineage
    /// (and the old instance's handles become stale). `None` while it is
    /// lent out (`away`).
    pub sandbox: Option<alloc::boxed::Box<SandboxOf<K>>>,
    /// The instance is away, handling an event.
    pub away: bool,
    /// What `ps` shows of the instance while it is away: its counters as
    /// the event began.
    pub seen_before_event: InstanceFigures,
    /// Since when its oldest waiting event has waited (as first seen by the
    /// event loop): the module waiting longest is served first.
    pub waiting_since: Option<u64>,
    /// The event loop's turn when it last got an event (ties in waiting
    /// time go to the module served least recently).
    pub last_served: u64,
    pub state: ModuleState,
    /// The generation of its last instance (kept when the instance is gone).
    pub generation: u32,
    pub inbox: VecDeque<Pending>,
    pub irq_lines: Vec<u8>,
    /// Endpoint ids this module serves.
    pub serves: Vec<u64>,
    /// Events handled by all instances so far.
    pub events_handled: u64,
    /// Print every device access as it happens (`trace NAME on`).
    pub tracing: bool,
    /// A fault its device caused (a DMA the IOMMU blocked), to fault the
    /// instance with once it is home.
    pub device_fault: Option<String>,
    /// When its instance was last faulted for its device, and the fault's
    /// text (see `super::device_faults`).
    pub last_device_fault: Option<(u64, String)>,
}

impl<K: KernelServices> Slot<K> {
    /// Whether its inbox has room for another event (its `queue` limit from
    /// the system manifest, else [`INBOX_CAPACITY`]).
    pub fn inbox_has_room(&self) -> bool {
        let capacity = self
            .plan
            .limits
            .queue
            .map_or(INBOX_CAPACITY, |queue| queue as usize);
        self.inbox.len() < capacity
    }

    /// The PCI functions its grant resolved to.
    pub fn devices(&self) -> impl Iterator<Item = PciAddress> + '_ {
        self.plan.grants.iter().filter_map(|grant| match grant {
            GrantLine::Device {
                slot: Some(address),
                ..
            } => Some(*address),
            _ => None,
        })
    }

    /// Whether it is running (handling an event, or ready for one).
    pub fn is_running(&self) -> bool {
        self.state.is_up()
            && (self.away
                || self
                    .sandbox
                    .as_ref()
                    .is_some_and(|sandbox| sandbox.is_alive()))
    }

    /// Whether an event can be handed to it now: up, at home, and not in a
    /// swap's hand-over.
    pub fn takes_event_now(&self) -> bool {
        matches!(
            self.state,
            ModuleState::Running | ModuleState::Swapping(SwapStage::Preparing)
        ) && !self.away
            && self
                .sandbox
                .as_ref()
                .is_some_and(|sandbox| sandbox.is_alive())
    }

    /// The call a handler of its instance waits for (`ipc_wait`), if one
    /// does and the instance is home and up (a swap's hand-over included:
    /// the hand-over waits for that handler to end).
    pub fn waiting_for(&self) -> Option<u32> {
        if !matches!(self.state, ModuleState::Running | ModuleState::Swapping(_)) || self.away {
            return None;
        }
        self.sandbox
            .as_ref()
            .filter(|sandbox| sandbox.is_alive())
            .and_then(|sandbox| sandbox.waiting_for())
    }

    /// Whether messages for it should wait (up, or coming back soon).
    pub fn accepts_messages(&self) -> bool {
        self.state.is_up() || matches!(self.state, ModuleState::RestartPending { .. })
    }
}
