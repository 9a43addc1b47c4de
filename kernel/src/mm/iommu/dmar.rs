//! Finding the VT-d remapping hardware in the ACPI tables: RSDP, then the XSDT
//! (or the RSDT of ACPI 1.0), then the DMAR table and its DMA-remapping
//! hardware unit definitions (DRHD).
//!
//! Everything is read through a [`PhysicalReader`] and checked before it is
//! believed: signatures, lengths (bounded) and checksums. A table that fails a
//! check means "no IOMMU" with the reason in [`NoRemapping`], never a panic.
//! The boot reads the tables through the boot identity map, before memory
//! set-up, since ACPI tables lie in memory the direct map does not cover.
//! Nothing here allocates.

use crate::boot_info::PhysicalReader;
use crate::boot_info::{u16_at, u32_at, u64_at};
use core::fmt;

/// Length of an ACPI system description table header.
const HEADER_LENGTH: u32 = 36;
/// Longest table read (the DMAR of a large server is a few KiB).
const MAX_TABLE_LENGTH: u32 = 1 << 20;
/// Most XSDT/RSDT entries looked at.
const MAX_ROOT_ENTRIES: u32 = 256;
/// Offset of the first remapping structure in the DMAR table.
const DMAR_STRUCTURES: u32 = 48;
/// Remapping structure type of a DMA-remapping hardware unit definition.
const DRHD_TYPE: u16 = 0;
/// DRHD flag: the unit covers every PCI device of its segment not listed elsewhere.
const INCLUDE_PCI_ALL: u8 = 1;
/// Where the BIOS keeps the RSDP when the loader does not say.
const BIOS_AREA: (u64, u64) = (0xe_0000, 0x10_0000);

/// Device scope entry type of a PCI endpoint.
const SCOPE_ENDPOINT: u8 = 1;
/// Most endpoints of a unit's device scope kept.
pub const MAX_ENDPOINTS: usize = 128;

/// The one remapping unit the kernel drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemappingUnit {
    /// Physical address of its registers (page aligned).
    pub register_base: u64,
    /// The DMAR's host address width (bits of physical address DMA can reach).
    pub host_address_width: u8,
    /// The PCI functions whose DMA goes through it.
    pub coverage: Coverage,
}

/// Which PCI functions of segment 0 a remapping unit translates: every one
/// (the DRHD's INCLUDE_PCI_ALL flag), or the endpoints its device scope lists
/// directly on a bus, by source id. Functions behind a listed bridge are not
/// included: the kernel refuses to attach what it cannot place. Kept in a
/// fixed array: the boot reads the DMAR before the heap exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coverage {
    all_devices: bool,
    source_ids: [u16; MAX_ENDPOINTS],
    count: usize,
}

impl Coverage {
    /// Every function.
    pub const ALL_DEVICES: Self = Self {
        all_devices: true,
        source_ids: [0; MAX_ENDPOINTS],
        count: 0,
    };

    /// Whether the unit translates every function.
    pub fn all_devices(&self) -> bool {
        self.all_devices
    }

    /// The listed endpoints' source ids (empty for [`Coverage::ALL_DEVICES`]).
    pub fn listed(&self) -> &[u16] {
        &self.source_ids[..self.count]
    }

    /// Whether the function with requester id `source_id` is translated by the unit.
    pub fn covers(&self, source_id: u16) -> bool {
        self.all_devices || self.listed().contains(&source_id)
    }
}

/// Why there is no usable remapping hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRemapping {
    /// The loader gave no RSDP and the BIOS area holds none.
    NoRsdp,
    /// The RSDP's signature or checksum is wrong.
    BadRsdp(u64),
    /// Physical memory that could not be read.
    Unreadable { what: &'static str, address: u64 },
    /// A table whose length is impossible or larger than the kernel reads.
    BadLength {
        signature: [u8; 4],
        address: u64,
        length: u32,
    },
    /// A table whose bytes do not sum to zero.
    BadChecksum { signature: [u8; 4], address: u64 },
    /// A table pointer that does not lead to the signature expected.
    WrongSignature { expected: [u8; 4], address: u64 },
    /// The ACPI tables have no DMAR (the machine has no VT-d, or it is off).
    NoDmar,
    /// A remapping structure whose length is impossible.
    BadStructure { offset: u32 },
    /// The DMAR lists no DMA-remapping hardware unit.
    NoUnit,
    /// More units than one: this kernel drives exactly one, covering all devices.
    SeveralUnits(u32),
    /// The one unit serves another PCI segment than 0.
    OtherSegment(u16),
    /// A unit whose register base is zero or not page aligned.
    BadRegisterBase(u64),
}

fn signature_text(signature: &[u8; 4]) -> &str {
    core::str::from_utf8(signature).unwrap_or("????")
}

impl fmt::Display for NoRemapping {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRsdp => write!(formatter, "no ACPI RSDP"),
            Self::BadRsdp(address) => {
                write!(formatter, "the ACPI RSDP at {address:#x} is corrupt")
            }
            Self::Unreadable { what, address } => {
                write!(formatter, "cannot read the {what} at physical {address:#x}")
            }
            Self::BadLength {
                signature,
                address,
                length,
            } => write!(
                formatter,
                "the ACPI {} table at {address:#x} claims {length} bytes",
                signature_text(signature)
            ),
            Self::BadChecksum { signature, address } => write!(
                formatter,
                "the ACPI {} table at {address:#x} has a wrong checksum",
                signature_text(signature)
            ),
            Self::WrongSignature { expected, address } => write!(
                formatter,
                "no {} table at {address:#x} where the RSDP points",
                signature_text(expected)
            ),
            Self::NoDmar => write!(formatter, "no DMAR table in the ACPI tables"),
            Self::BadStructure { offset } => write!(
                formatter,
                "the DMAR table has a remapping structure of impossible length at offset {offset}"
            ),
            Self::NoUnit => write!(formatter, "the DMAR table lists no remapping unit"),
            Self::SeveralUnits(count) => write!(
                formatter,
                "the DMAR table lists {count} remapping units; only one covering all devices is supported"
            ),
            Self::OtherSegment(segment) => write!(
                formatter,
                "the remapping unit serves PCI segment {segment}, not 0"
            ),
            Self::BadRegisterBase(address) => {
                write!(
                    formatter,
                    "remapping unit registers at {address:#x} are not page aligned"
                )
            }
        }
    }
}

fn read_or(
    reader: &impl PhysicalReader,
    address: u64,
    buffer: &mut [u8],
    what: &'static str,
) -> Result<(), NoRemapping> {
    if reader.read(address, buffer) {
        Ok(())
    } else {
        Err(NoRemapping::Unreadable { what, address })
    }
}

/// Sum of `length` bytes at `address`, read in chunks.
fn byte_sum(
    reader: &impl PhysicalReader,
    address: u64,
    length: u32,
    what: &'static str,
) -> Result<u8, NoRemapping> {
    let mut sum = 0u8;
    let mut chunk = [0u8; 64];
    let mut done = 0u32;
    while done < length {
        let take = (length - done).min(64) as usize;
        let at = address.saturating_add(u64::from(done));
        read_or(reader, at, &mut chunk[..take], what)?;
        sum = chunk[..take]
            .iter()
            .fold(sum, |sum, &byte| sum.wrapping_add(byte));
        done += take as u32;
    }
    Ok(sum)
}

/// A checked table: its address and length.
#[derive(Clone, Copy)]
struct Table {
    address: u64,
    length: u32,
}

/// Reads the header at `address`; checks signature (if `expected`), length and checksum.
fn table_at(
    reader: &impl PhysicalReader,
    address: u64,
    expected: Option<[u8; 4]>,
) -> Result<(Table, [u8; 4]), NoRemapping> {
    let mut header = [0u8; HEADER_LENGTH as usize];
    read_or(reader, address, &mut header, "ACPI table header")?;
    let signature = [header[0], header[1], header[2], header[3]];
    if let Some(expected) = expected
        && signature != expected
    {
        return Err(NoRemapping::WrongSignature { expected, address });
    }
    let length = u32_at(&header, 4);
    if !(HEADER_LENGTH..=MAX_TABLE_LENGTH).contains(&length) {
        return Err(NoRemapping::BadLength {
            signature,
            address,
            length,
        });
    }
    if byte_sum(reader, address, length, "ACPI table")? != 0 {
        return Err(NoRemapping::BadChecksum { signature, address });
    }
    Ok((Table { address, length }, signature))
}

/// Whether the 20 bytes (36 for revision 2) at `address` are a valid RSDP.
fn rsdp_at(reader: &impl PhysicalReader, address: u64) -> Result<[u8; 36], NoRemapping> {
    let mut rsdp = [0u8; 36];
    read_or(reader, address, &mut rsdp[..20], "ACPI RSDP")?;
    let sum = |bytes: &[u8]| bytes.iter().fold(0u8, |sum, &byte| sum.wrapping_add(byte));
    if &rsdp[..8] != b"RSD PTR " || sum(&rsdp[..20]) != 0 {
        return Err(NoRemapping::BadRsdp(address));
    }
    if rsdp[15] >= 2 {
        read_or(reader, address, &mut rsdp, "ACPI RSDP")?;
        if sum(&rsdp) != 0 {
            return Err(NoRemapping::BadRsdp(address));
        }
    }
    Ok(rsdp)
}

/// The RSDP in the BIOS area (16-byte aligned), if any.
fn scan_bios_area(reader: &impl PhysicalReader) -> Option<u64> {
    let mut address = BIOS_AREA.0;
    while address < BIOS_AREA.1 {
        if rsdp_at(reader, address).is_ok() {
            return Some(address);
        }
        address += 16;
    }
    None
}

/// Finds the DMAR table from the RSDP (`rsdp`, else the BIOS area).
fn find_dmar(reader: &impl PhysicalReader, rsdp: Option<u64>) -> Result<Table, NoRemapping> {
    find_table(reader, rsdp, *b"DMAR")?
        .map(|(address, length)| Table { address, length })
        .ok_or(NoRemapping::NoDmar)
}

/// Finds the ACPI table with `signature` from the RSDP (`rsdp`, else the
/// BIOS area), checked (signature, length, checksum): its address and
/// length, or `None` when the root table lists none. The DMAR and the MADT
/// (`APIC`, the interrupt controllers) are found this way.
///
/// # Errors
/// [`NoRemapping`] for an RSDP, root table or table that fails a check.
pub fn find_table(
    reader: &impl PhysicalReader,
    rsdp: Option<u64>,
    signature: [u8; 4],
) -> Result<Option<(u64, u32)>, NoRemapping> {
    let rsdp_address = rsdp
        .or_else(|| scan_bios_area(reader))
        .ok_or(NoRemapping::NoRsdp)?;
    let rsdp = rsdp_at(reader, rsdp_address)?;
    let xsdt = if rsdp[15] >= 2 { u64_at(&rsdp, 24) } else { 0 };
    let (root, entry_size) = if xsdt != 0 {
        (table_at(reader, xsdt, Some(*b"XSDT"))?.0, 8u32)
    } else {
        let rsdt = u64::from(u32_at(&rsdp, 16));
        (table_at(reader, rsdt, Some(*b"RSDT"))?.0, 4u32)
    };
    let entries = ((root.length - HEADER_LENGTH) / entry_size).min(MAX_ROOT_ENTRIES);
    for index in 0..entries {
        let mut entry = [0u8; 8];
        let at = root.address + u64::from(HEADER_LENGTH + index * entry_size);
        read_or(
            reader,
            at,
            &mut entry[..entry_size as usize],
            "ACPI root table",
        )?;
        let address = u64_at(&entry, 0);
        let mut found = [0u8; 4];
        if address == 0 || !reader.read(address, &mut found) || found != signature {
            continue;
        }
        let table = table_at(reader, address, Some(signature))?.0;
        return Ok(Some((table.address, table.length)));
    }
    Ok(None)
}

/// Finds the one DMA-remapping unit of the machine.
///
/// # Errors
/// [`NoRemapping`] names what is missing or wrong.
pub fn discover(
    reader: &impl PhysicalReader,
    rsdp: Option<u64>,
) -> Result<RemappingUnit, NoRemapping> {
    let dmar = find_dmar(reader, rsdp)?;
    if dmar.length < DMAR_STRUCTURES {
        return Err(NoRemapping::BadLength {
            signature: *b"DMAR",
            address: dmar.address,
            length: dmar.length,
        });
    }
    let mut width = [0u8; 1];
    read_or(reader, dmar.address + 36, &mut width, "DMAR table")?;
    let mut found = None;
    let mut units = 0u32;
    let mut offset = DMAR_STRUCTURES;
    while offset < dmar.length {
        let mut header = [0u8; 16];
        let room = (dmar.length - offset).min(16) as usize;
        if room < 4 {
            return Err(NoRemapping::BadStructure { offset });
        }
        read_or(
            reader,
            dmar.address + u64::from(offset),
            &mut header[..room],
            "DMAR table",
        )?;
        let kind = u16_at(&header, 0);
        let length = u32::from(u16_at(&header, 2));
        if length < 4 || length > dmar.length - offset {
            return Err(NoRemapping::BadStructure { offset });
        }
        if kind == DRHD_TYPE {
            if length < 16 {
                return Err(NoRemapping::BadStructure { offset });
            }
            units += 1;
            let coverage = if header[4] & INCLUDE_PCI_ALL != 0 {
                Coverage::ALL_DEVICES
            } else {
                endpoints(reader, dmar.address + u64::from(offset), length)?
            };
            found = Some((u16_at(&header, 6), u64_at(&header, 8), coverage));
        }
        offset += length;
    }
    let (segment, register_base, coverage) = match (units, found) {
        (1, Some(unit)) => unit,
        (0, _) | (_, None) => return Err(NoRemapping::NoUnit),
        (count, _) => return Err(NoRemapping::SeveralUnits(count)),
    };
    if segment != 0 {
        return Err(NoRemapping::OtherSegment(segment));
    }
    if register_base == 0 || register_base & 0xfff != 0 {
        return Err(NoRemapping::BadRegisterBase(register_base));
    }
    Ok(RemappingUnit {
        register_base,
        host_address_width: width[0].saturating_add(1),
        coverage,
    })
}

/// The endpoints listed in the device scope of the DRHD at `address` (`length` bytes).
fn endpoints(
    reader: &impl PhysicalReader,
    address: u64,
    length: u32,
) -> Result<Coverage, NoRemapping> {
    let mut source_ids = [0u16; MAX_ENDPOINTS];
    let mut count = 0;
    let mut offset = 16u32;
    while offset < length {
        let mut scope = [0u8; 8];
        let room = (length - offset).min(8) as usize;
        read_or(
            reader,
            address + u64::from(offset),
            &mut scope[..room],
            "DMAR device scope",
        )?;
        let scope_length = u32::from(scope[1]);
        if room < 6 || scope_length < 6 || scope_length > length - offset {
            return Err(NoRemapping::BadStructure { offset });
        }
        // An endpoint straight on its start bus: one (device, function) path element.
        if scope[0] == SCOPE_ENDPOINT && scope_length == 8 && count < MAX_ENDPOINTS {
            let (bus, device, function) = (scope[5], scope[6], scope[7]);
            if device < 32 && function < 8 {
                source_ids[count] = (u16::from(bus) << 8) | u16::from(device << 3 | function);
                count += 1;
            }
        }
        offset += scope_length;
    }
    Ok(Coverage {
        all_devices: false,
        source_ids,
        count,
    })
}
