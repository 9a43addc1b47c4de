//! What a supervisor command did, as typed values: the module system
//! returns a [`Report`] or a [`CommandError`], and only the shell-facing
//! layer ([`super::report_text`]) turns them into text.

use super::records::FaultRecord;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// One module's row in `ps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleRow {
    pub name: String,
    pub version: String,
    pub generation: u32,
    pub state: &'static str,
    pub restarts: u32,
    pub events: u64,
    pub fuel: u64,
    pub memory_kib: u64,
    pub log_lines_dropped: u64,
    /// Warnings and console lines the rate limit held back.
    pub warnings_dropped: u64,
    pub lines_held_back: u64,
}

/// One module's line in `list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRow {
    pub name: String,
    pub version: String,
    pub state: &'static str,
}

/// One module's heap (and DMA) in `mem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleMemory {
    pub name: String,
    pub heap_bytes: u64,
    pub limit_bytes: u64,
    /// DMA bytes used and granted, if it is granted any.
    pub dma: Option<(u64, u64)>,
}

/// A hot swap that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapReport {
    pub module: String,
    pub old_version: String,
    pub new_version: String,
    pub old_state_format: u32,
    pub new_state_format: u32,
    pub generation: u32,
    /// From the command to the hand-over, nanoseconds.
    pub total_ns: u64,
    /// How long the module's events stopped, nanoseconds.
    pub blackout_ns: u64,
    /// Events queued for it that the new version handles next.
    pub queued: usize,
}

/// What a pushed module became.
#[derive(Clone, Debug)]
pub enum Installed {
    /// It replaced the running module of its name.
    Swapped(SwapReport),
    /// It replaced a module that was down and was started.
    Started { module: String, state: &'static str },
    /// A name the running system did not know, pushed with its manifest
    /// entry: a new module with the entry's grants.
    New {
        module: String,
        version: String,
        grants: Vec<String>,
        serves: Vec<String>,
    },
}

/// What a command did.
#[derive(Clone, Debug)]
pub enum Report {
    Nothing,
    Help,
    ProcessList {
        modules: Vec<ModuleRow>,
        /// The native processes' rows, as the kernel writes them.
        processes: String,
    },
    List {
        modules: Vec<ListRow>,
    },
    Capabilities {
        module: String,
        grants: Vec<String>,
        serves: Vec<String>,
        /// The running instance's generation and what it holds.
        held: Option<(u32, Vec<String>)>,
        state: &'static str,
    },
    Log {
        faults: Vec<FaultRecord>,
        lines: usize,
        tail: String,
    },
    /// `explain [NAME]`: the records (of `module`), each in plain words.
    Explained {
        module: Option<String>,
        faults: Vec<FaultRecord>,
    },
    Restarted {
        module: String,
        state: &'static str,
    },
    Stopped {
        module: String,
    },
    Removed {
        module: String,
    },
    Swapped(SwapReport),
    Installed(Installed),
    /// A pushed module installed (`install`) and written to `path` on the
    /// file system (`cargo cella push --persist`).
    Persisted {
        install: Box<Report>,
        path: String,
    },
    /// A pushed module installed (`install`) but not written to `path`.
    NotPersisted {
        install: Box<Report>,
        path: String,
        why: String,
    },
    Trace {
        module: String,
        on: bool,
    },
    /// The last device accesses of a module's running instance (the trace
    /// ring a fault record copies), oldest first.
    RecentAccesses {
        module: String,
        generation: u32,
        accesses: Vec<String>,
    },
    Sent {
        bytes: usize,
        endpoint: String,
        module: String,
    },
    /// The answer to a `call`: the request as sent (typed interfaces
    /// render the answer by it) and the reply's bytes.
    Reply {
        endpoint: String,
        request: Vec<u8>,
        bytes: Vec<u8>,
    },
    Uptime {
        nanoseconds: u64,
    },
    Memory {
        machine: crate::module_system::services::MachineMemory,
        modules: Vec<ModuleMemory>,
    },
}

/// Why a command did nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The line is not a command (the usage, or what is wrong).
    Usage(String),
    NoSuchModule(String),
    NotRunning {
        module: String,
        state: &'static str,
    },
    AlreadyRunning(String),
    /// Another command is under way on the module.
    Busy {
        module: String,
    },
    /// Nobody serves the endpoint.
    NoServer(String),
    /// The serving module's inbox is at its limit.
    InboxFull(String),
    /// The module (or file) was refused at load, or not found.
    Refused(String),
    /// A swap failed; the old version runs on.
    SwapFailed(String),
    /// A call got no reply.
    CallFailed {
        endpoint: String,
        why: String,
    },
    /// A send's text is not a request of the endpoint's typed interface.
    SendFailed {
        endpoint: String,
        why: String,
    },
}
