//! The fault record: every module fault, kept after the module is gone.
//!
//! Each record holds the module, its instance generation, the reason, the
//! event it was handling and its last device accesses, so a person can read
//! what happened long after a restart (`log` in the shell).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Access, Fault};

/// Most records kept; the oldest is dropped first.
pub const CAPACITY: usize = 64;

/// One fault.
#[derive(Clone, Debug)]
pub struct FaultRecord {
    /// Kernel time of the fault, nanoseconds since boot.
    pub time: u64,
    pub module: String,
    pub generation: u32,
    pub reason: String,
    /// The event it was handling (`None`: it was starting, or was faulted
    /// between events).
    pub handling: Option<String>,
    pub last_accesses: Vec<String>,
    /// The fault in plain English ([`super::explain::explain`]).
    pub explanation: String,
}

/// The records, oldest first, at most [`CAPACITY`].
#[derive(Default)]
pub struct FaultRecords {
    records: VecDeque<FaultRecord>,
}

/// The last 8 accesses of the instance that faulted (which the fault
/// carries), oldest first, as plain text.
fn last_accesses(fault: &Fault, text: &dyn Fn(&Access) -> String) -> Vec<String> {
    fault
        .recent_accesses
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(text)
        .collect()
}

/// Logs the last accesses of a fault that is not recorded as a module fault
/// (the new version's, or the old one's, in a failed swap).
pub fn log_last_accesses(fault: &Fault, text: &dyn Fn(&Access) -> String) {
    for access in last_accesses(fault, text) {
        log::error!("  before the fault: {access}");
    }
}

impl FaultRecords {
    /// Records `fault` of instance `generation` at `time`, with the event
    /// it was `handling` and the last accesses of the instance that faulted
    /// (each as `text` writes it), and logs it.
    pub fn record(
        &mut self,
        time: u64,
        fault: &Fault,
        generation: u32,
        handling: Option<String>,
        text: &dyn Fn(&Access) -> String,
    ) {
        let record = FaultRecord {
            time,
            module: fault.module.clone(),
            generation,
            reason: format!("{fault}"),
            handling,
            last_accesses: last_accesses(fault, text),
            explanation: super::explain::explain(fault, text),
        };
        // The Wasm host has already logged the fault itself; add what it cannot know.
        log::error!(
            "fault recorded for {} generation {generation}",
            record.module
        );
        for access in &record.last_accesses {
            log::error!("  before the fault: {access}");
        }
        if self.records.len() == CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// Every record, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &FaultRecord> {
        self.records.iter()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}
