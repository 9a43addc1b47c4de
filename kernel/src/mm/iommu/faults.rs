//! DMA faults: what the unit's primary fault recording registers say about a
//! blocked DMA, decoded.

use super::device::PciAddress;
use core::fmt;

/// Fault bit (F) of a fault record's high word: the record holds a fault.
pub const RECORD_FULL: u64 = 1 << 63;

/// One DMA the unit blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaFault {
    /// The device that issued it.
    pub source: PciAddress,
    /// The page address it tried to reach (the unit records whole pages).
    pub address: u64,
    /// The fault reason code (VT-d specification, appendix A).
    pub reason: u8,
    /// A write (device to memory); `false` for a read.
    pub write: bool,
}

impl DmaFault {
    /// Decodes a fault recording register (low and high 64 bits), if it holds a fault.
    pub fn from_record(low: u64, high: u64) -> Option<Self> {
        if high & RECORD_FULL == 0 {
            return None;
        }
        Some(Self {
            source: PciAddress::from_packed(high as u16),
            address: low & !0xfff,
            reason: (high >> 32) as u8,
            // Type bit 62: 0 for a write request, 1 for a read.
            write: high & (1 << 62) == 0,
        })
    }
}

/// The fault reason in words.
pub fn reason_text(reason: u8) -> &'static str {
    match reason {
        1 => "the bus has no root entry",
        2 => "the device has no context entry",
        3 => "the context entry is invalid",
        4 => "the address is beyond the address width",
        5 => "the page is not mapped writable",
        6 => "the page is not mapped readable",
        7 => "a page table could not be read",
        8 => "the root table could not be read",
        9 => "the context table could not be read",
        10 => "a root entry has reserved bits set",
        11 => "a context entry has reserved bits set",
        12 => "a page-table entry has reserved bits set",
        13 => "the context entry blocks this request type",
        _ => "other reason",
    }
}

impl fmt::Display for DmaFault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "DMA {} by {} at {:#x} blocked: {} (reason {})",
            if self.write { "write" } else { "read" },
            self.source,
            self.address,
            reason_text(self.reason),
            self.reason
        )
    }
}
