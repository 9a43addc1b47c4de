use crate::boot_info::PhysicalReader;
use crate::mm::iommu::dmar::{Coverage, NoRemapping, RemappingUnit, discover};
use std::vec::Vec;

/// Physical memory 0..len as bytes.
struct Memory(Vec<u8>);

impl PhysicalReader for Memory {
    fn read(&self, address: u64, buffer: &mut [u8]) -> bool {
        let Ok(start) = usize::try_from(address) else {
            return false;
        };
        let Some(end) = start.checked_add(buffer.len()) else {
            return false;
        };
        match self.0.get(start..end) {
            Some(bytes) => {
                buffer.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

impl Memory {
    fn put(&mut self, address: usize, bytes: &[u8]) {
        self.0[address..address + bytes.len()].copy_from_slice(bytes);
    }
}

const RSDP: usize = 0xf_0000;
const ROOT: usize = 0x1000;
const OTHER: usize = 0x2000;
const DMAR: usize = 0x3000;

fn fix_checksum(bytes: &mut [u8], at: usize) {
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |sum, &byte| sum.wrapping_add(byte));
    bytes[at] = 0u8.wrapping_sub(sum);
}

/// An ACPI table: header with `signature`, then `body`, checksum fixed.
fn table(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(signature);
    bytes.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
    bytes.push(1);
    bytes.push(0);
    bytes.extend_from_slice(b"CELLA TESTTABLE ");
    bytes.extend_from_slice(&[0; 10]);
    bytes.extend_from_slice(body);
    fix_checksum(&mut bytes, 9);
    bytes
}

fn rsdp(revision: u8, rsdt: u32, xsdt: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RSD PTR ");
    bytes.push(0);
    bytes.extend_from_slice(b"CELLA ");
    bytes.push(revision);
    bytes.extend_from_slice(&rsdt.to_le_bytes());
    bytes.extend_from_slice(&36u32.to_le_bytes());
    bytes.extend_from_slice(&xsdt.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    fix_checksum(&mut bytes[..20], 8);
    fix_checksum(&mut bytes, 32);
    bytes
}

/// A DRHD with `flags`, `segment`, `base` and the scope entries given.
fn drhd(flags: u8, segment: u16, base: u64, scopes: &[Vec<u8>]) -> Vec<u8> {
    let scope_bytes: Vec<u8> = scopes.concat();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&((16 + scope_bytes.len()) as u16).to_le_bytes());
    bytes.push(flags);
    bytes.push(0);
    bytes.extend_from_slice(&segment.to_le_bytes());
    bytes.extend_from_slice(&base.to_le_bytes());
    bytes.extend_from_slice(&scope_bytes);
    bytes
}

/// A device scope entry of `kind` on `bus` with one path element.
fn scope(kind: u8, bus: u8, device: u8, function: u8) -> Vec<u8> {
    vec![kind, 8, 0, 0, 0, bus, device, function]
}

fn dmar_body(structures: &[Vec<u8>]) -> Vec<u8> {
    let mut body = vec![38, 0];
    body.extend_from_slice(&[0; 10]);
    body.extend_from_slice(&structures.concat());
    body
}

/// QEMU 7.2's DMAR: one unit at 0xfed90000 listing the I/O APIC and the endpoints of bus 0.
fn qemu_dmar() -> Vec<u8> {
    let scopes = vec![
        scope(3, 0xff, 0, 0),
        scope(1, 0, 0, 0),
        scope(1, 0, 1, 0),
        scope(1, 0, 2, 0),
        scope(1, 0, 3, 0),
        scope(2, 0, 0x1e, 0),
    ];
    table(b"DMAR", &dmar_body(&[drhd(0, 0, 0xfed9_0000, &scopes)]))
}

/// A machine whose XSDT (or RSDT) lists another table, then `dmar`.
fn machine(dmar: &[u8], revision: u8) -> Memory {
    let mut memory = Memory(vec![0; 0x11_0000]);
    let entries: Vec<u64> = vec![OTHER as u64, DMAR as u64];
    let root = if revision >= 2 {
        table(
            b"XSDT",
            &entries
                .iter()
                .flat_map(|entry| entry.to_le_bytes())
                .collect::<Vec<_>>(),
        )
    } else {
        table(
            b"RSDT",
            &entries
                .iter()
                .flat_map(|entry| (*entry as u32).to_le_bytes())
                .collect::<Vec<_>>(),
        )
    };
    memory.put(ROOT, &root);
    memory.put(OTHER, &table(b"APIC", &[1, 2, 3, 4]));
    memory.put(DMAR, dmar);
    if revision >= 2 {
        memory.put(RSDP, &rsdp(2, 0, ROOT as u64));
    } else {
        memory.put(RSDP, &rsdp(0, ROOT as u32, 0));
    }
    memory
}

fn endpoints(unit: &RemappingUnit) -> Vec<u16> {
    unit.coverage.listed().to_vec()
}

#[test]
fn qemus_dmar_gives_the_unit_and_the_listed_endpoints() {
    let unit = discover(&machine(&qemu_dmar(), 2), Some(RSDP as u64)).unwrap();
    assert_eq!(unit.register_base, 0xfed9_0000);
    assert_eq!(unit.host_address_width, 39);
    assert_eq!(endpoints(&unit), vec![0x00, 0x08, 0x10, 0x18]);
    assert!(!unit.coverage.all_devices());
    assert!(unit.coverage.covers(0x18));
    // Neither the bridge's own scope entry nor an unlisted function is covered.
    assert!(!unit.coverage.covers(0xf0));
    assert!(!unit.coverage.covers(0x19));
}

#[test]
fn include_all_covers_everything_and_the_rsdt_path_works() {
    let dmar = table(b"DMAR", &dmar_body(&[drhd(1, 0, 0xfed9_0000, &[])]));
    let unit = discover(&machine(&dmar, 0), Some(RSDP as u64)).unwrap();
    assert_eq!(unit.coverage, Coverage::ALL_DEVICES);
    assert!(unit.coverage.all_devices());
    assert!(unit.coverage.listed().is_empty());
    assert!(unit.coverage.covers(0xffff));
}

#[test]
fn without_an_rsdp_address_the_bios_area_is_searched() {
    let mut memory = machine(&qemu_dmar(), 2);
    memory.put(RSDP, &[0; 36]);
    memory.put(0xe_0010, &rsdp(2, 0, ROOT as u64));
    assert_eq!(discover(&memory, None).unwrap().register_base, 0xfed9_0000);
    memory.put(0xe_0010, &[0; 36]);
    assert_eq!(discover(&memory, None).unwrap_err(), NoRemapping::NoRsdp);
}

#[test]
fn broken_tables_are_refused_with_their_reason() {
    // A wrong RSDP checksum.
    let mut memory = machine(&qemu_dmar(), 2);
    memory.0[RSDP + 9] ^= 1;
    assert_eq!(
        discover(&memory, Some(RSDP as u64)).unwrap_err(),
        NoRemapping::BadRsdp(RSDP as u64)
    );
    // A DMAR byte changed after its checksum was computed.
    let mut memory = machine(&qemu_dmar(), 2);
    memory.0[DMAR + 60] ^= 0x40;
    assert_eq!(
        discover(&memory, Some(RSDP as u64)).unwrap_err(),
        NoRemapping::BadChecksum {
            signature: *b"DMAR",
            address: DMAR as u64
        }
    );
    // A DMAR claiming more bytes than the kernel reads.
    let mut dmar = qemu_dmar();
    dmar[4..8].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let error = discover(&machine(&dmar, 2), Some(RSDP as u64)).unwrap_err();
    assert!(matches!(
        error,
        NoRemapping::BadLength {
            length: 0x7fff_0000,
            ..
        }
    ));
    // A remapping structure of length 0 (which would loop forever if believed).
    let mut body = dmar_body(&[drhd(1, 0, 0xfed9_0000, &[])]);
    body[12 + 2] = 0;
    let error = discover(&machine(&table(b"DMAR", &body), 2), Some(RSDP as u64)).unwrap_err();
    assert_eq!(error, NoRemapping::BadStructure { offset: 48 });
    // A scope entry of length 2.
    let bad_scope = vec![1, 2, 0, 0, 0, 0, 0, 0];
    let dmar = table(
        b"DMAR",
        &dmar_body(&[drhd(0, 0, 0xfed9_0000, &[bad_scope])]),
    );
    assert!(matches!(
        discover(&machine(&dmar, 2), Some(RSDP as u64)).unwrap_err(),
        NoRemapping::BadStructure { .. }
    ));
    // An XSDT pointer beyond memory.
    let mut memory = machine(&qemu_dmar(), 2);
    memory.put(RSDP, &rsdp(2, 0, 0x4000_0000));
    assert!(matches!(
        discover(&memory, Some(RSDP as u64)).unwrap_err(),
        NoRemapping::Unreadable { .. }
    ));
}

#[test]
fn machines_the_kernel_does_not_drive_say_why() {
    let no_dmar = machine(&table(b"SSDT", &[0; 8]), 2);
    assert_eq!(
        discover(&no_dmar, Some(RSDP as u64)).unwrap_err(),
        NoRemapping::NoDmar
    );
    let two = table(
        b"DMAR",
        &dmar_body(&[drhd(0, 0, 0xfed9_0000, &[]), drhd(1, 0, 0xfed9_1000, &[])]),
    );
    assert_eq!(
        discover(&machine(&two, 2), Some(RSDP as u64)).unwrap_err(),
        NoRemapping::SeveralUnits(2)
    );
    let none = table(b"DMAR", &dmar_body(&[]));
    assert_eq!(
        discover(&machine(&none, 2), Some(RSDP as u64)).unwrap_err(),
        NoRemapping::NoUnit
    );
    let segment = table(b"DMAR", &dmar_body(&[drhd(1, 1, 0xfed9_0000, &[])]));
    assert_eq!(
        discover(&machine(&segment, 2), Some(RSDP as u64)).unwrap_err(),
        NoRemapping::OtherSegment(1)
    );
    let unaligned = table(b"DMAR", &dmar_body(&[drhd(1, 0, 0xfed9_0010, &[])]));
    assert_eq!(
        discover(&machine(&unaligned, 2), Some(RSDP as u64)).unwrap_err(),
        NoRemapping::BadRegisterBase(0xfed9_0010)
    );
    assert_eq!(
        NoRemapping::SeveralUnits(2).to_string(),
        "the DMAR table lists 2 remapping units; only one covering all devices is supported"
    );
}

#[test]
fn thousands_of_corrupted_tables_never_panic() {
    let clean = machine(&qemu_dmar(), 2);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let areas = [(RSDP, 36), (ROOT, 52), (DMAR, qemu_dmar().len())];
    let mut refused = 0;
    for _ in 0..3000 {
        let mut memory = Memory(clean.0.clone());
        let (start, length) = areas[(next() % 3) as usize];
        let at = start + (next() as usize % length);
        memory.0[at] = next() as u8;
        // Keep checksums right half the time, so the parser's later checks are reached too.
        if next() % 2 == 0 {
            let dmar_length = u32::from_le_bytes(memory.0[DMAR + 4..DMAR + 8].try_into().unwrap());
            let dmar_length = (dmar_length as usize).min(0x1000);
            fix_checksum(&mut memory.0[DMAR..DMAR + dmar_length.max(10)], 9);
            fix_checksum(&mut memory.0[ROOT..ROOT + 52], 9);
        }
        if discover(&memory, Some(RSDP as u64)).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 0);
}
