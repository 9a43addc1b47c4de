//! Where the legacy IRQ lines come from when the I/O APIC carries them: the
//! ACPI MADT (the I/O APIC's address and the ISA interrupt source
//! overrides, read at boot with the other ACPI tables) and the q35
//! chipset's PCI INTx wiring. Nothing here touches hardware, so it is
//! tested on the host; `irq::start` programs what it computes.
#![forbid(unsafe_code)]

pub mod madt;

pub use madt::{Madt, MadtProblem, Route};

/// PCI ids of the ICH9 LPC bridge (q35), whose INTx wiring [`ich9_gsi`] knows.
pub const ICH9_LPC: (u16, u16) = (0x8086, 0x2918);

/// The GSI an ICH9 chipset (QEMU's q35) delivers INTx pin `pin` (1 = INTA ..
/// 4 = INTD) of a function in slot `device` of bus 0 to, in I/O APIC mode:
/// QEMU wires slots 0-24 to PIRQ E-H by `(slot + pin - 1) mod 4 + 4`, and
/// PIRQ `n` is GSI 16 + `n`, level-triggered, active low. Slots 25-31 (the
/// chipset's own functions) follow registers the firmware may change:
/// `None` for them, and for a pin that is not 1-4.
pub fn ich9_gsi(device: u8, pin: u8) -> Option<u32> {
    if !(1..=4).contains(&pin) || device > 24 {
        return None;
    }
    let pirq = (u32::from(device) + u32::from(pin) - 1) % 4 + 4;
    Some(16 + pirq)
}

/// The I/O APIC redirection entry sending `vector` to the local APIC
/// `apic_id`: fixed delivery, physical destination, the pin's polarity and
/// trigger, masked (the line's holder unmasks it).
pub fn redirection_entry(vector: u8, active_low: bool, level: bool, apic_id: u8) -> u64 {
    const ACTIVE_LOW: u64 = 1 << 13;
    const LEVEL: u64 = 1 << 15;
    const MASKED: u64 = 1 << 16;
    let mut value = u64::from(vector) | MASKED | u64::from(apic_id) << 56;
    if active_low {
        value |= ACTIVE_LOW;
    }
    if level {
        value |= LEVEL;
    }
    value
}

/// Why the boot keeps the 8259.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoIoApic {
    /// The ACPI tables could not be read (the reason as the IOMMU's search
    /// reports it).
    Tables(crate::mm::iommu::dmar::NoRemapping),
    /// No MADT.
    NoMadt,
    /// The MADT is longer than the boot copies, or unreadable.
    Unreadable,
    /// The MADT fails a check.
    Madt(MadtProblem),
    /// The chipset's PCI INTx wiring is not known (no ICH9 LPC bridge).
    UnknownChipset,
}

impl core::fmt::Display for NoIoApic {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tables(reason) => write!(formatter, "{reason}"),
            Self::NoMadt => formatter.write_str("no MADT in the ACPI tables"),
            Self::Unreadable => formatter.write_str("the MADT could not be read"),
            Self::Madt(problem) => write!(formatter, "{problem}"),
            Self::UnknownChipset => {
                formatter.write_str("no ICH9 chipset, whose PCI interrupt wiring the kernel knows")
            }
        }
    }
}

/// Finds and parses the MADT through `reader` (the boot's identity map),
/// with the same RSDP and root-table checks as the DMAR's search.
///
/// # Errors
/// [`NoIoApic`] says why.
pub fn read_madt(
    reader: &impl crate::boot_info::PhysicalReader,
    rsdp: Option<u64>,
) -> Result<Madt, NoIoApic> {
    let (address, length) = crate::mm::iommu::dmar::find_table(reader, rsdp, *b"APIC")
        .map_err(NoIoApic::Tables)?
        .ok_or(NoIoApic::NoMadt)?;
    let length = usize::try_from(length).map_err(|_| NoIoApic::Unreadable)?;
    let mut bytes = [0u8; madt::MAX_BYTES];
    let table = bytes.get_mut(..length).ok_or(NoIoApic::Unreadable)?;
    if !reader.read(address, table) {
        return Err(NoIoApic::Unreadable);
    }
    Madt::parse(table).map_err(NoIoApic::Madt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirection_entries_carry_vector_polarity_trigger_destination_and_start_masked() {
        // The PIT: vector 32, edge, active high, to APIC 0.
        assert_eq!(redirection_entry(32, false, false, 0), 0x0001_0020);
        // A PCI line 11: vector 43, level, active low, to APIC 1.
        assert_eq!(redirection_entry(43, true, true, 1), 0x0100_0000_0001_a02b);
    }

    #[test]
    fn ich9_wires_slots_to_pirq_e_through_h() {
        // The virtio disk at 00:03.0, INTA: PIRQH, GSI 23.
        assert_eq!(ich9_gsi(3, 1), Some(23));
        assert_eq!(ich9_gsi(0, 1), Some(20));
        assert_eq!(ich9_gsi(1, 1), Some(21));
        assert_eq!(ich9_gsi(4, 1), Some(20));
        assert_eq!(ich9_gsi(4, 4), Some(23));
        assert_eq!(ich9_gsi(24, 2), Some(21));
        assert_eq!(ich9_gsi(3, 0), None, "no pin");
        assert_eq!(ich9_gsi(3, 5), None);
        assert_eq!(ich9_gsi(31, 1), None, "the chipset's own slot");
    }
}
