//! Faults: every way a running module can fail, typed, with the module's name.
//! A fault kills the instance (never the host); it can be started again from
//! the same module.

use crate::access::Access;
use alloc::string::String;
use alloc::vec::Vec;
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
    /// `on_reply`.
    Reply,
    /// `save_state`.
    SaveState,
    /// `state_buffer` or `restore_state`.
    RestoreState,
    /// No entry point: the sandbox was already dead.
    None,
    /// No entry point: what its device did between events (a DMA the
    /// IOMMU blocked).
    Device,
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
    /// A handler of the instance waits for a call's answer (`ipc_wait`):
    /// its state is half way through that handler.
    Waiting,
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
    /// The faulting instance's last device accesses and refusals, oldest
    /// first (its trace at the moment of the fault; empty when no entry
    /// point ran, as for a failed instantiation).
    pub recent_accesses: Vec<Access>,
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

impl Entry {
    /// The entry point's export name, or what ran instead.
    pub fn name(self) -> &'static str {
        match self {
            Entry::Instantiate => "instantiation",
            Entry::Init => "init",
            Entry::Irq => "on_irq",
            Entry::Message => "on_message",
            Entry::Timer => "on_timer",
            Entry::Reply => "on_reply",
            Entry::SaveState => "save_state",
            Entry::RestoreState => "restore_state",
            Entry::None => "no entry point (it was already dead)",
            Entry::Device => "its device, between events",
        }
    }
}

/// What a trap means, in words.
pub fn trap_text(code: TrapCode) -> &'static str {
    match code {
        TrapCode::UnreachableCodeReached => {
            "it executed `unreachable` (a Rust panic ends this way)"
        }
        TrapCode::MemoryOutOfBounds => "memory access out of bounds",
        TrapCode::TableOutOfBounds => "table access out of bounds",
        TrapCode::IndirectCallToNull => "indirect call through an empty table slot",
        TrapCode::IntegerDivisionByZero => "integer division by zero",
        TrapCode::IntegerOverflow => "integer overflow",
        TrapCode::BadConversionToInteger => "float to integer conversion out of range",
        TrapCode::StackOverflow => "call stack exhausted (too deep a recursion)",
        TrapCode::BadSignature => "indirect call with the wrong signature",
        TrapCode::OutOfFuel => "out of fuel",
        TrapCode::GrowthOperationLimited => "growth refused by a limit",
        TrapCode::OutOfSystemMemory => "out of host memory",
    }
}

impl core::fmt::Display for StateError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StateError::NoSaveExport => formatter.write_str("it exports no `save_state`"),
            StateError::Waiting => formatter.write_str("a handler of it waits for a call's answer"),
            StateError::NoRestoreExport => {
                formatter.write_str("it exports no `state_buffer` or `restore_state`")
            }
            StateError::BlobOutOfBounds => {
                formatter.write_str("`save_state` pointed outside its memory")
            }
            StateError::TooLarge => write!(
                formatter,
                "the state is larger than {} bytes",
                cella_abi::MAX_STATE_BYTES
            ),
            StateError::BufferOutOfBounds => {
                formatter.write_str("`state_buffer` pointed outside its memory")
            }
            StateError::Rejected(code) => {
                write!(
                    formatter,
                    "`restore_state` refused the state with code {code}"
                )
            }
        }
    }
}

impl core::fmt::Display for FaultKind {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FaultKind::Trap(code) => write!(formatter, "trap: {}", trap_text(*code)),
            FaultKind::OutOfFuel { budget } => {
                write!(formatter, "out of fuel (budget {budget} per event)")
            }
            FaultKind::Violations {
                count,
                function,
                error,
            } => write!(
                formatter,
                "{count} capability violations, the last by {function}: {}",
                error.name()
            ),
            FaultKind::BadHostCalls {
                count,
                function,
                error,
            } => write!(
                formatter,
                "{count} malformed host calls, the last to {function}: {}",
                error.name()
            ),
            FaultKind::InitFailed { code } => write!(formatter, "init returned {code}"),
            FaultKind::BadState(error) => write!(formatter, "state hand-over failed: {error}"),
            FaultKind::Instantiation(message) => {
                write!(formatter, "instantiation failed: {message}")
            }
            FaultKind::Dead => formatter.write_str("the instance is dead (after an earlier fault)"),
            FaultKind::Embedder(reason) => formatter.write_str(reason),
            FaultKind::Engine(message) => write!(formatter, "engine error: {message}"),
        }
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            formatter,
            "module {} faulted in {}: {}",
            self.module,
            self.entry.name(),
            self.kind
        )
    }
}

impl core::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(kind: FaultKind) -> String {
        alloc::string::ToString::to_string(&Fault {
            module: String::from("m"),
            entry: Entry::Message,
            kind,
            recent_accesses: Vec::new(),
        })
    }

    /// The words tools match on (the fault campaign's detection column) stay as they are.
    #[test]
    fn faults_read_as_plain_words() {
        assert_eq!(
            text(FaultKind::Trap(TrapCode::MemoryOutOfBounds)),
            "module m faulted in on_message: trap: memory access out of bounds"
        );
        assert_eq!(
            text(FaultKind::OutOfFuel { budget: 5 }),
            "module m faulted in on_message: out of fuel (budget 5 per event)"
        );
        let violations = text(FaultKind::Violations {
            count: 17,
            function: HostFunction::PortOut8,
            error: ErrorCode::Denied,
        });
        assert!(violations.ends_with(": 17 capability violations, the last by port_out8: denied"));
        let bad_calls = text(FaultKind::BadHostCalls {
            count: 3,
            function: HostFunction::Log,
            error: ErrorCode::BadUtf8,
        });
        assert!(
            bad_calls.contains("3 malformed host calls, the last to log:"),
            "{bad_calls}"
        );
        assert!(text(FaultKind::InitFailed { code: -9 }).ends_with(": init returned -9"));
        assert!(
            text(FaultKind::BadState(StateError::Rejected(2)))
                .ends_with("`restore_state` refused the state with code 2")
        );
        assert!(!text(FaultKind::Dead).contains('{'));
    }
}
