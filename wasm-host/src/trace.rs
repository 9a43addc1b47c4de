//! What a sandbox did: a small ring of its last device accesses and refused
//! calls, and running counters. Cheap enough to keep always on; the
//! supervisor prints them with a fault.
//!
//! Each entry reads as plain text (its `Display`), one line each:
//! `read port 0x511 1 -> 0x51`, `write mmio 0xfebf1000+0x14 4 <- 0x1`,
//! `refused write port 0x80 1: denied`. Numbers a device sees are hex;
//! widths and counts are decimal bytes.

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
    /// Bytes read from one 8-bit port into linear memory (`port_in8_n`).
    PortReadBytes {
        /// Port.
        port: u16,
        /// Bytes read.
        count: u32,
    },
    /// Bytes written from linear memory to one 8-bit port (`port_out8_n`).
    PortWriteBytes {
        /// Port.
        port: u16,
        /// Bytes written.
        count: u32,
    },
    /// An MMIO read and the value seen.
    MmioRead {
        /// Base address of the granted window.
        region: u64,
        /// Offset in the window.
        offset: u64,
        /// Width.
        width: Width,
        /// Value read.
        value: u64,
    },
    /// An MMIO write.
    MmioWrite {
        /// Base address of the granted window.
        region: u64,
        /// Offset in the window.
        offset: u64,
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
        /// The device access it attempted (port and MMIO calls), if any.
        attempt: Option<Attempt>,
    },
}

/// A device access a module attempted, named as far as the host could
/// resolve it before refusing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// A write (else a read).
    pub write: bool,
    /// Where.
    pub place: Place,
    /// Width of each access.
    pub width: Width,
    /// Accesses asked for (more than 1 for the bulk port calls).
    pub count: u32,
}

/// Where an attempted device access went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A port (the range's base plus the offset asked for: it may lie
    /// outside the range, or beyond the port space).
    Port(u64),
    /// An MMIO window's base and the offset asked for.
    Mmio {
        /// Base address of the granted window.
        region: u64,
        /// Offset asked for.
        offset: u64,
    },
    /// A handle that named no capability of the right kind, and the offset
    /// asked for.
    Unresolved {
        /// MMIO (else port I/O).
        mmio: bool,
        /// The handle passed.
        handle: i32,
        /// The offset passed.
        offset: u32,
    },
}

impl Access {
    /// The physical address of an MMIO access (`None` for other kinds).
    pub fn mmio_address(&self) -> Option<u64> {
        match self {
            Access::MmioRead { region, offset, .. } | Access::MmioWrite { region, offset, .. } => {
                Some(region.wrapping_add(*offset))
            }
            _ => None,
        }
    }
}

impl core::fmt::Display for Access {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Access::PortRead { port, width, value } => {
                write!(
                    formatter,
                    "read port {port:#x} {} -> {value:#x}",
                    width.bytes()
                )
            }
            Access::PortWrite { port, width, value } => {
                write!(
                    formatter,
                    "write port {port:#x} {} <- {value:#x}",
                    width.bytes()
                )
            }
            Access::PortReadBytes { port, count } => {
                write!(formatter, "read port {port:#x} 1 x {count}")
            }
            Access::PortWriteBytes { port, count } => {
                write!(formatter, "write port {port:#x} 1 x {count}")
            }
            Access::MmioRead {
                region,
                offset,
                width,
                value,
            } => write!(
                formatter,
                "read mmio {region:#x}+{offset:#x} {} -> {value:#x}",
                width.bytes()
            ),
            Access::MmioWrite {
                region,
                offset,
                width,
                value,
            } => write!(
                formatter,
                "write mmio {region:#x}+{offset:#x} {} <- {value:#x}",
                width.bytes()
            ),
            Access::IrqSetEnabled { line, enabled } => write!(
                formatter,
                "{} irq {line}",
                if *enabled { "unmask" } else { "mask" }
            ),
            Access::IrqAcknowledge { line } => write!(formatter, "acknowledge irq {line}"),
            Access::DmaAllocate {
                device_address,
                size,
            } => write!(formatter, "allocate dma {device_address:#x} {size}"),
            Access::DmaFree { device_address } => write!(formatter, "free dma {device_address:#x}"),
            Access::DmaCopy {
                device_address,
                length,
                to_device,
            } => write!(
                formatter,
                "{} dma {device_address:#x} {length}",
                if *to_device { "write" } else { "read" }
            ),
            Access::Send { endpoint, length } => {
                write!(formatter, "send {length} bytes to endpoint {endpoint}")
            }
            Access::Reply { request, length } => {
                write!(formatter, "reply {length} bytes to request {request}")
            }
            Access::Refused {
                function,
                error,
                attempt: Some(attempt),
            } => write!(
                formatter,
                "refused {attempt} ({function}): {}",
                error.name()
            ),
            Access::Refused {
                function,
                error,
                attempt: None,
            } => write!(formatter, "refused {function}: {}", error.name()),
        }
    }
}

impl core::fmt::Display for Attempt {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let direction = if self.write { "write" } else { "read" };
        write!(
            formatter,
            "{direction} {} {}",
            self.place,
            self.width.bytes()
        )?;
        if self.count != 1 {
            write!(formatter, " x {}", self.count)?;
        }
        Ok(())
    }
}

impl core::fmt::Display for Place {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Place::Port(port) => write!(formatter, "port {port:#x}"),
            Place::Mmio { region, offset } => write!(formatter, "mmio {region:#x}+{offset:#x}"),
            Place::Unresolved {
                mmio,
                handle,
                offset,
            } => write!(
                formatter,
                "{} offset {offset:#x} of handle {handle}",
                if *mmio { "mmio" } else { "port" }
            ),
        }
    }
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
