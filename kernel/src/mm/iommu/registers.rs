//! The VT-d register file: offsets, the capability fields the kernel reads,
//! and the command words it writes (Intel VT-d specification, chapter 11).
//!
//! Only decoding and encoding live here, so they are tested on the host; the
//! accesses themselves are in `hardware`.

/// Version register (32-bit): major in bits 7:4, minor in bits 3:0.
pub const VERSION: u64 = 0x00;
/// Capability register (64-bit).
pub const CAPABILITY: u64 = 0x08;
/// Extended capability register (64-bit).
pub const EXTENDED_CAPABILITY: u64 = 0x10;
/// Global command register (32-bit, write only).
pub const GLOBAL_COMMAND: u64 = 0x18;
/// Global status register (32-bit).
pub const GLOBAL_STATUS: u64 = 0x1c;
/// Root table address register (64-bit).
pub const ROOT_TABLE_ADDRESS: u64 = 0x20;
/// Context command register (64-bit).
pub const CONTEXT_COMMAND: u64 = 0x28;
/// Fault status register (32-bit).
pub const FAULT_STATUS: u64 = 0x34;
/// Fault event control register (32-bit).
pub const FAULT_EVENT_CONTROL: u64 = 0x38;

/// Global command and status bits.
pub const TRANSLATION_ENABLE: u32 = 1 << 31;
pub const SET_ROOT_TABLE_POINTER: u32 = 1 << 30;
pub const WRITE_BUFFER_FLUSH: u32 = 1 << 27;
/// The status bits that report one-shot commands (root table pointer, fault
/// log, write buffer flush, interrupt remapping table pointer): they must not
/// be written back as commands.
const ONE_SHOT_STATUS: u32 = (1 << 30) | (1 << 29) | (1 << 27) | (1 << 24);

/// Context command: invalidate (bit 63), global granularity (bits 62:61 = 1).
pub const CONTEXT_INVALIDATE_GLOBAL: u64 = (1 << 63) | (1 << 61);
/// Context command busy bit: set until the invalidation completes.
pub const CONTEXT_INVALIDATE_BUSY: u64 = 1 << 63;

/// IOTLB invalidate register busy bit (IVT): set until the invalidation completes.
pub const IOTLB_INVALIDATE_BUSY: u64 = 1 << 63;

/// Fault status: primary fault overflow (write 1 to clear).
pub const FAULT_OVERFLOW: u32 = 1;
/// Fault event control: interrupt mask (faults are polled).
pub const FAULT_INTERRUPT_MASK: u32 = 1 << 31;

/// The second-level address width a domain's page table uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressWidth {
    /// 39-bit input addresses, 3-level table.
    Bits39,
    /// 48-bit input addresses, 4-level table.
    Bits48,
}

impl AddressWidth {
    /// Levels of the page table.
    pub fn levels(self) -> u8 {
        match self {
            Self::Bits39 => 3,
            Self::Bits48 => 4,
        }
    }

    /// Bits of input address.
    pub fn bits(self) -> u32 {
        match self {
            Self::Bits39 => 39,
            Self::Bits48 => 48,
        }
    }

    /// The context entry's AW field.
    pub fn context_code(self) -> u64 {
        match self {
            Self::Bits39 => 1,
            Self::Bits48 => 2,
        }
    }
}

/// The capability and extended capability registers, decoded on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub capability: u64,
    pub extended: u64,
}

fn field(value: u64, low: u32, width: u32) -> u64 {
    (value >> low) & ((1 << width) - 1)
}

impl Capabilities {
    /// Supported adjusted guest address widths (SAGAW, bits 12:8).
    pub fn supported_widths(&self) -> u64 {
        field(self.capability, 8, 5)
    }

    /// Maximum guest address width (MGAW, bits 21:16), in bits.
    pub fn maximum_address_bits(&self) -> u32 {
        field(self.capability, 16, 6) as u32 + 1
    }

    /// The page-table width for domains: 48-bit (4 levels) when supported,
    /// else 39-bit (3 levels); `None` if the unit supports neither.
    pub fn address_width(&self) -> Option<AddressWidth> {
        let widths = self.supported_widths();
        if widths & 0b100 != 0 {
            Some(AddressWidth::Bits48)
        } else if widths & 0b010 != 0 {
            Some(AddressWidth::Bits39)
        } else {
            None
        }
    }

    /// How many domain ids the unit has (ND, bits 2:0: 2^(4 + 2 * ND)).
    pub fn domain_count(&self) -> u32 {
        1 << (4 + 2 * field(self.capability, 0, 3).min(6))
    }

    /// Write buffer flushing required before invalidations (RWBF, bit 4).
    pub fn needs_write_buffer_flush(&self) -> bool {
        field(self.capability, 4, 1) == 1
    }

    /// Caching mode (CM, bit 7): not-present entries may be cached, so new
    /// mappings need an invalidation too.
    pub fn caching_mode(&self) -> bool {
        field(self.capability, 7, 1) == 1
    }

    /// Read and write draining supported (DRD bit 55, DWD bit 54).
    pub fn drains(&self) -> (bool, bool) {
        (
            field(self.capability, 55, 1) == 1,
            field(self.capability, 54, 1) == 1,
        )
    }

    /// Offset of the first fault recording register (FRO, bits 33:24, in 16-byte units).
    pub fn fault_record_offset(&self) -> u64 {
        field(self.capability, 24, 10) * 16
    }

    /// Number of fault recording registers (NFR, bits 47:40, plus one).
    pub fn fault_record_count(&self) -> u64 {
        field(self.capability, 40, 8) + 1
    }

    /// Page-walk coherency (C, extended bit 0): without it, table updates
    /// must be flushed from the CPU caches before the unit reads them.
    pub fn coherent(&self) -> bool {
        field(self.extended, 0, 1) == 1
    }

    /// Offset of the IOTLB registers (IRO, extended bits 17:8, in 16-byte
    /// units): the invalidate-address register, then the IOTLB invalidate
    /// register 8 bytes on.
    pub fn iotlb_offset(&self) -> u64 {
        field(self.extended, 8, 10) * 16
    }

    /// Bytes of register space the kernel touches, from the base.
    pub fn register_extent(&self) -> u64 {
        let faults = self.fault_record_offset() + 16 * self.fault_record_count();
        let iotlb = self.iotlb_offset() + 16;
        faults.max(iotlb).max(FAULT_EVENT_CONTROL + 4)
    }
}

/// The version register as `(major, minor)`.
pub fn version(register: u32) -> (u32, u32) {
    ((register >> 4) & 0xf, register & 0xf)
}

/// The global command word that issues `command` while keeping the
/// persistent settings the status register reports (translation, queued
/// invalidation, interrupt remapping, compatibility format).
pub fn global_command(status: u32, command: u32) -> u32 {
    (status & !ONE_SHOT_STATUS) | command
}

/// IOTLB invalidate command for every entry of domain `domain` (granularity 2),
/// draining reads and writes where the unit can.
pub fn iotlb_invalidate_domain(domain: u16, capabilities: &Capabilities) -> u64 {
    let (drain_read, drain_write) = capabilities.drains();
    IOTLB_INVALIDATE_BUSY
        | (2 << 60)
        | (u64::from(drain_read) << 49)
        | (u64::from(drain_write) << 48)
        | (u64::from(domain) << 32)
}

/// IOTLB invalidate command for everything (granularity 1).
pub fn iotlb_invalidate_global(capabilities: &Capabilities) -> u64 {
    let (drain_read, drain_write) = capabilities.drains();
    IOTLB_INVALIDATE_BUSY
        | (1 << 60)
        | (u64::from(drain_read) << 49)
        | (u64::from(drain_write) << 48)
}
