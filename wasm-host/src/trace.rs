//! What a sandbox did: a small ring of its last device accesses and refused
//! calls, and running counters. Cheap enough to keep always on; the
//! supervisor prints them with a fault.

use crate::platform::Width;
use alloc::vec::Vec;
use cella_abi::{ErrorCode, HostFunction};

/// One device access or refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A port read and the value seen.
    PortRead {
        /// Port.
        port: u16,
        /// Width.
        width: Width,
        /// Value read.
        value: u32,
    },
    /// A port write.
    PortWrite {
        /// Port.
        port: u16,
        /// Width.
        width: Width,
        /// Value written.
        value: u32,
    },
    /// An MMIO read and the value seen.
    MmioRead {
        /// Physical address.
        address: u64,
        /// Width.
        width: Width,
        /// Value read.
        value: u64,
    },
    /// An MMIO write.
    MmioWrite {
        /// Physical address.
        address: u64,
        /// Width.
        width: Width,
        /// Value written.
        value: u64,
    },
    /// An IRQ line masked or unmasked.
    IrqSetEnabled {
        /// Line.
        line: u8,
        /// Unmasked?
        enabled: bool,
    },
    /// An IRQ acknowledged.
    IrqAcknowledge {
        /// Line.
        line: u8,
    },
    /// A DMA buffer allocated.
    DmaAllocate {
        /// Device address.
        device_address: u64,
        /// Size.
        size: u64,
    },
    /// A DMA buffer freed.
    DmaFree {
        /// Device address.
        device_address: u64,
    },
    /// Bytes copied between linear memory and a DMA buffer.
    DmaCopy {
        /// Device address of the first byte.
        device_address: u64,
        /// Bytes copied.
        length: u32,
        /// True for linear memory to buffer.
        to_device: bool,
    },
    /// A message handed to the outbox.
    Send {
        /// Endpoint id.
        endpoint: u64,
        /// Length.
        length: u32,
    },
    /// A reply handed to the outbox.
    Reply {
        /// Request.
        request: u32,
        /// Length.
        length: u32,
    },
    /// A host call the host refused.
    Refused {
        /// Which call.
        function: HostFunction,
        /// The code returned.
        error: ErrorCode,
    },
}

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
    /// Device accesses performed.
    pub device_accesses: u64,
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
