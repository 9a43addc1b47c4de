//! One entry of the module table: a module's plan, its instance, its state
//! under the supervisor, and the events waiting for it.

use super::platform::KernelPlatform;
use super::router::KernelOutbox;
use super::worker::Worker;
use crate::supervisor::policy::{RestartPolicy, RestartTracker};
use crate::system_manifest::ModulePlan;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use cella_wasm_host::{LoadedModule, Sandbox};

/// A sandbox as the kernel runs it.
pub type KernelSandbox = Sandbox<KernelPlatform, KernelOutbox>;

/// An event waiting for a module.
pub enum Pending {
    Irq(u8),
    Message { request: u32, bytes: Vec<u8> },
}

/// Where a module stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleState {
    /// Handling events.
    Running,
    /// Faulted; comes back at this time. Messages for it wait and are replayed.
    RestartPending { at: u64 },
    /// Faulted too often; stays down until restarted by hand.
    Held,
    /// Stopped by hand, or faulted under `policy=never`.
    Stopped,
    /// Never started: missing file, refused at load, or no such module.
    Refused,
}

impl ModuleState {
    /// A short word for `ps`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::RestartPending { .. } => "restarting",
            Self::Held => "held",
            Self::Stopped => "stopped",
            Self::Refused => "refused",
        }
    }
}

/// A module in the table.
pub struct Slot {
    pub plan: ModulePlan,
    pub policy: RestartPolicy,
    pub tracker: RestartTracker,
    /// The validated module, kept for restarts; `None` if it never loaded.
    pub module: Option<LoadedModule>,
    /// The instance, kept even when dead so a restart continues its lineage
    /// (and the old instance's handles become stale). `None` while it is
    /// lent to the worker (`away`).
    pub sandbox: Option<KernelSandbox>,
    /// The instance is on the worker thread, handling an event.
    pub away: bool,
    /// The thread that runs this module's events (started on first use).
    pub worker: Option<Worker>,
    /// Since when its oldest waiting event has waited (as first seen by the
    /// event loop): the module waiting longest is served first.
    pub waiting_since: Option<u64>,
    pub state: ModuleState,
    pub inbox: VecDeque<Pending>,
    pub irq_lines: Vec<u8>,
    /// Endpoint ids this module serves.
    pub serves: Vec<u64>,
    /// Events handled by all instances so far.
    pub events_handled: u64,
    /// Print every device access as it happens (`trace NAME on`).
    pub tracing: bool,
}

impl Slot {
    /// Whether its inbox has room for another event (its `queue` limit from
    /// the system manifest, else [`super::system::INBOX_CAPACITY`]).
    pub fn inbox_has_room(&self) -> bool {
        let capacity = self
            .plan
            .limits
            .queue
            .map_or(super::system::INBOX_CAPACITY, |queue| queue as usize);
        self.inbox.len() < capacity
    }

    /// Whether it is running (handling an event on its worker, or ready for one).
    pub fn is_running(&self) -> bool {
        self.state == ModuleState::Running
            && (self.away || self.sandbox.as_ref().is_some_and(KernelSandbox::is_alive))
    }

    /// Whether an event can be handed to it now: running, and at home.
    pub fn takes_event_now(&self) -> bool {
        self.state == ModuleState::Running
            && !self.away
            && self.sandbox.as_ref().is_some_and(KernelSandbox::is_alive)
    }

    /// Whether messages for it should wait (running, or coming back soon).
    pub fn accepts_messages(&self) -> bool {
        matches!(
            self.state,
            ModuleState::Running | ModuleState::RestartPending { .. }
        )
    }
}
