//! Faults: every way a running module can fail, typed, with the module's name.
//! A fault kills the instance (never the host); it can be started again from
//! the same module.

use alloc::string::String;
use cella_abi::{ErrorCode, HostFunction};
pub use wasmi::TrapCode;

/// Which entry point was running when the fault happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Instantiation (data segments, limits).
    Instantiate,
    /// `init`.
    Init,
    /// `on_irq`.
    Irq,
    /// `on_message`.
    Message,
    /// `on_timer`.
    Timer,
    /// `save_state`.
    SaveState,
    /// `state_buffer` or `restore_state`.
    RestoreState,
    /// No entry point: the sandbox was already dead.
    None,
}

/// What was wrong with a state blob or the state protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// The module exports no `save_state`.
    NoSaveExport,
    /// The module exports no `state_buffer` or `restore_state`.
    NoRestoreExport,
    /// `save_state` returned a pointer/length outside linear memory.
    BlobOutOfBounds,
    /// The blob is larger than [`cella_abi::MAX_STATE_BYTES`].
    TooLarge,
    /// `state_buffer` returned a buffer outside linear memory.
    BufferOutOfBounds,
    /// `restore_state` refused the blob with this code.
    Rejected(i32),
}

/// Why a module faulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A Wasm trap (unreachable, out-of-bounds, stack overflow, ...).
    Trap(TrapCode),
    /// The event used up its fuel budget.
    OutOfFuel {
        /// The budget.
        budget: u64,
    },
    /// Too many capability violations.
    Violations {
        /// Violations counted.
        count: u32,
        /// The last offending call.
        function: HostFunction,
        /// Its error.
        error: ErrorCode,
    },
    /// Too many malformed host calls.
    BadHostCalls {
        /// Bad calls counted.
        count: u32,
        /// The last offending call.
        function: HostFunction,
        /// Its error.
        error: ErrorCode,
    },
    /// `init` returned a non-zero code.
    InitFailed {
        /// The code.
        code: i32,
    },
    /// Saving or restoring state failed.
    BadState(StateError),
    /// Instantiation failed (memory or table beyond the limits, ...).
    Instantiation(String),
    /// The sandbox is dead (from an earlier fault); restart it.
    Dead,
    /// The embedder faulted the module for a limit of its own (such as the
    /// kernel memory the module holds), with its reason.
    Embedder(String),
    /// Any other engine error (message kept for the log).
    Engine(String),
}

/// A module fault: who, where, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Module name (from its manifest).
    pub module: String,
    /// What was running.
    pub entry: Entry,
    /// Why it failed.
    pub kind: FaultKind,
}

impl Fault {
    /// The wasmi trap code, when the fault is a trap or out of fuel.
    pub fn trap_code(&self) -> Option<TrapCode> {
        match self.kind {
            FaultKind::Trap(code) => Some(code),
            FaultKind::OutOfFuel { .. } => Some(TrapCode::OutOfFuel),
            _ => None,
        }
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            formatter,
            "module {} faulted in {:?}: {:?}",
            self.module, self.entry, self.kind
        )
    }
}

impl core::error::Error for Fault {}
