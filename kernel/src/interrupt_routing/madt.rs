//! The ACPI MADT (signature `APIC`): the I/O APIC that serves GSI 0 and the
//! ISA interrupt source overrides (q35: IRQ 0 is GSI 2). Parsed from the
//! table's bytes with every length checked; kept in fixed arrays, since the
//! boot reads it before the heap exists.

use crate::boot_info::{u16_at, u32_at};
use core::fmt;

/// Where the MADT's interrupt controller structures start.
const STRUCTURES: usize = 44;
/// Structure types.
const IO_APIC: u8 = 1;
const SOURCE_OVERRIDE: u8 = 2;
/// ISA IRQs.
pub const ISA_LINES: usize = 16;
/// Longest MADT the boot copies (QEMU's is about 120 bytes).
pub const MAX_BYTES: usize = 1024;

/// How one ISA IRQ reaches the I/O APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Its global system interrupt (the I/O APIC pin, from GSI base 0).
    pub gsi: u32,
    /// Active low (else high).
    pub active_low: bool,
    /// Level-triggered (else edge).
    pub level: bool,
}

/// What the MADT says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Madt {
    /// The I/O APIC serving GSI 0: its id and register base.
    pub io_apic_id: u8,
    pub io_apic_address: u32,
    /// Each ISA IRQ's override, if the table has one.
    overrides: [Option<Route>; ISA_LINES],
}

/// Why the MADT cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MadtProblem {
    /// Shorter than its header and fixed fields, or longer than the boot copies.
    BadLength(usize),
    /// A structure whose length is under 2 or runs past the table.
    BadStructure { offset: usize },
    /// No I/O APIC serves GSI 0.
    NoIoApic,
}

impl fmt::Display for MadtProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength(length) => write!(formatter, "the MADT is {length} bytes long"),
            Self::BadStructure { offset } => write!(
                formatter,
                "the MADT has a structure of impossible length at offset {offset}"
            ),
            Self::NoIoApic => write!(formatter, "the MADT lists no I/O APIC for GSI 0"),
        }
    }
}

impl Madt {
    /// Parses the whole table (`bytes`, header included; its checksum
    /// checked by whoever found it).
    ///
    /// # Errors
    /// A [`MadtProblem`].
    pub fn parse(bytes: &[u8]) -> Result<Madt, MadtProblem> {
        if bytes.len() < STRUCTURES || bytes.len() > MAX_BYTES {
            return Err(MadtProblem::BadLength(bytes.len()));
        }
        let mut io_apic = None;
        let mut overrides = [None; ISA_LINES];
        let mut offset = STRUCTURES;
        while offset < bytes.len() {
            let room = bytes.len() - offset;
            let length = bytes
                .get(offset + 1)
                .map_or(0, |&length| usize::from(length));
            if room < 2 || length < 2 || length > room {
                return Err(MadtProblem::BadStructure { offset });
            }
            let structure = &bytes[offset..offset + length];
            match structure[0] {
                IO_APIC if length >= 12 && u32_at(structure, 8) == 0 => {
                    io_apic = Some((structure[2], u32_at(structure, 4)));
                }
                SOURCE_OVERRIDE if length >= 10 && structure[2] == 0 => {
                    let source = usize::from(structure[3]);
                    let flags = u16_at(structure, 8);
                    if let Some(slot) = overrides.get_mut(source) {
                        *slot = Some(Route {
                            gsi: u32_at(structure, 4),
                            // Polarity 3 is active low, 1 or 0 (ISA) high;
                            // trigger 3 is level, 1 or 0 (ISA) edge.
                            active_low: flags & 0x3 == 0x3,
                            level: (flags >> 2) & 0x3 == 0x3,
                        });
                    }
                }
                _ => {}
            }
            offset += length;
        }
        let (io_apic_id, io_apic_address) = io_apic.ok_or(MadtProblem::NoIoApic)?;
        Ok(Madt {
            io_apic_id,
            io_apic_address,
            overrides,
        })
    }

    /// How ISA IRQ `irq` reaches the I/O APIC: its override, else the GSI
    /// of the same number, edge-triggered, active high.
    pub fn isa_route(&self, irq: u8) -> Route {
        self.overrides
            .get(usize::from(irq))
            .copied()
            .flatten()
            .unwrap_or(Route {
                gsi: u32::from(irq),
                active_low: false,
                level: false,
            })
    }

    /// Whether some ISA IRQ other than `irq` is overridden onto GSI `gsi`
    /// (QEMU's q35: IRQ 0 takes GSI 2, so ISA IRQ 2 has no pin of its own).
    pub fn gsi_taken_by_other(&self, irq: u8, gsi: u32) -> bool {
        self.overrides.iter().enumerate().any(|(source, route)| {
            source != usize::from(irq) && route.is_some_and(|route| route.gsi == gsi)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// A MADT with QEMU q35's structures: a local APIC, the I/O APIC at
    /// 0xfec00000 for GSI 0, overrides IRQ 0 -> GSI 2 and IRQ 9 -> GSI 9
    /// (level, active high), and a local APIC NMI.
    fn q35() -> Vec<u8> {
        let mut table = alloc::vec![0u8; STRUCTURES];
        table[0..4].copy_from_slice(b"APIC");
        table[36..40].copy_from_slice(&0xfee0_0000u32.to_le_bytes());
        table.extend_from_slice(&[0, 8, 0, 0, 1, 0, 0, 0]);
        table.extend_from_slice(&[1, 12, 0, 0]);
        table.extend_from_slice(&0xfec0_0000u32.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&[2, 10, 0, 0, 2, 0, 0, 0, 0, 0]);
        table.extend_from_slice(&[2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0]);
        table.extend_from_slice(&[4, 6, 0xff, 0, 0, 1]);
        let length = table.len() as u32;
        table[4..8].copy_from_slice(&length.to_le_bytes());
        table
    }

    #[test]
    fn qemus_q35_table_gives_the_io_apic_and_its_overrides() {
        let madt = Madt::parse(&q35()).unwrap();
        assert_eq!((madt.io_apic_id, madt.io_apic_address), (0, 0xfec0_0000));
        assert_eq!(
            madt.isa_route(0),
            Route {
                gsi: 2,
                active_low: false,
                level: false
            }
        );
        assert_eq!(
            madt.isa_route(9),
            Route {
                gsi: 9,
                active_low: false,
                level: true
            }
        );
        assert_eq!(
            madt.isa_route(4),
            Route {
                gsi: 4,
                active_low: false,
                level: false
            }
        );
        assert!(madt.gsi_taken_by_other(2, 2), "IRQ 0 has GSI 2");
        assert!(!madt.gsi_taken_by_other(0, 2));
        assert!(!madt.gsi_taken_by_other(4, 4));
    }

    #[test]
    fn broken_tables_are_refused_by_reason() {
        assert_eq!(Madt::parse(&[0; 10]), Err(MadtProblem::BadLength(10)));
        let mut zero_length = q35();
        zero_length[STRUCTURES + 1] = 0;
        assert_eq!(
            Madt::parse(&zero_length),
            Err(MadtProblem::BadStructure { offset: STRUCTURES })
        );
        let mut past_the_end = q35();
        let last = past_the_end.len() - 6;
        past_the_end[last + 1] = 40;
        assert_eq!(
            Madt::parse(&past_the_end),
            Err(MadtProblem::BadStructure { offset: last })
        );
        let no_io_apic = q35()[..STRUCTURES + 8].to_vec();
        assert_eq!(Madt::parse(&no_io_apic), Err(MadtProblem::NoIoApic));
        // An I/O APIC for GSI 24 on is not the one for GSI 0.
        let mut later = q35();
        later[STRUCTURES + 8 + 8] = 24;
        assert_eq!(Madt::parse(&later), Err(MadtProblem::NoIoApic));
    }
}
