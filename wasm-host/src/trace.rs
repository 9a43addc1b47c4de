//! What a sandbox did: a small ring of its last device accesses, messages
//! and refused calls ([`Access`]), and running counters. Cheap enough to
//! keep always on; the supervisor prints them with a fault.

use crate::access::Access;
use alloc::vec::Vec;

/// Running counters of one instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events (including `init`) run to completion.
    pub events_handled: u64,
    /// Fuel consumed over all events.
    pub fuel_used: u64,
    /// Fuel consumed by the last event.
    pub last_event_fuel: u64,
    /// Host calls made.
    pub host_calls: u64,
    /// Capability violations (denied, bad/stale handle, misaligned).
    pub violations: u32,
    /// Bad host calls (bad pointer, bad argument, bad UTF-8).
    pub bad_calls: u32,
    /// Device accesses performed (a bulk port call counts once).
    pub device_accesses: u64,
    /// Entries recorded in the trace since the instance started: device
    /// accesses, messages sent and refused calls. The trace keeps the last
    /// few; the difference between two readings says how many are new.
    pub trace_entries: u64,
    /// Bytes host calls copied, logged or scanned (each paid for with fuel).
    pub host_call_bytes: u64,
    /// Log lines dropped because an event had used its log budget.
    pub log_lines_dropped: u64,
}

/// A fixed-size ring of the most recent [`Access`]es.
#[derive(Clone, Debug)]
pub struct Trace {
    entries: Vec<Access>,
    capacity: usize,
    next: usize,
}

impl Trace {
    /// A ring of `capacity` entries (0 records nothing).
    pub fn new(capacity: usize) -> Trace {
        Trace {
            entries: Vec::with_capacity(capacity),
            capacity,
            next: 0,
        }
    }

    /// Records one access, overwriting the oldest when full.
    #[inline]
    pub fn record(&mut self, access: Access) {
        if self.entries.len() < self.capacity {
            self.entries.push(access);
        } else if let Some(entry) = self.entries.get_mut(self.next) {
            *entry = access;
        }
        self.next = if self.next + 1 >= self.capacity {
            0
        } else {
            self.next + 1
        };
    }

    /// The recorded accesses, oldest first.
    pub fn recent(&self) -> Vec<Access> {
        if self.entries.len() < self.capacity {
            return self.entries.clone();
        }
        let (newer, older) = self.entries.split_at(self.next.min(self.entries.len()));
        older.iter().chain(newer).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_in_order() {
        let mut trace = Trace::new(3);
        for line in 0..5 {
            trace.record(Access::IrqAcknowledge { line });
        }
        let lines: Vec<u8> = trace
            .recent()
            .iter()
            .map(|access| match access {
                Access::IrqAcknowledge { line } => *line,
                _ => 255,
            })
            .collect();
        assert_eq!(lines, [2, 3, 4]);
        let mut empty = Trace::new(0);
        empty.record(Access::IrqAcknowledge { line: 1 });
        assert!(empty.recent().is_empty());
    }
}
