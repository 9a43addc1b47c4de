//! MSI-X against models: a configuration space with a capability list (as
//! QEMU's virtio-pci lays it out, and broken ones), and a table.

use super::*;
use alloc::vec;
use alloc::vec::Vec;
use cella_interfaces::pci::Bar;

/// One function's configuration space, every byte writable.
struct Space {
    bytes: [u8; 256],
    writes: Vec<(u8, u32, u32)>,
}

impl Space {
    fn new() -> Space {
        let mut space = Space {
            bytes: [0; 256],
            writes: Vec::new(),
        };
        space.bytes[0x04] = 0x04; // bus master only: no memory decoding
        space
    }

    /// A capability list: each `(offset, id, body)` linked in order.
    fn capabilities(mut self, list: &[(u8, u8, &[u8])]) -> Space {
        self.bytes[0x06] |= 0x10;
        self.bytes[0x34] = list.first().map_or(0, |(offset, _, _)| *offset);
        for (index, (offset, id, body)) in list.iter().enumerate() {
            let at = usize::from(*offset);
            self.bytes[at] = *id;
            self.bytes[at + 1] = list.get(index + 1).map_or(0, |(next, _, _)| *next);
            self.bytes[at + 2..at + 2 + body.len()].copy_from_slice(body);
        }
        self
    }
}

impl ConfigAccess for Space {
    fn read(&mut self, _address: PciAddress, offset: u8, width: u32) -> u32 {
        let mut value = 0;
        for byte in 0..width {
            value |= u32::from(self.bytes[usize::from(offset) + byte as usize]) << (8 * byte);
        }
        value
    }

    fn write(&mut self, _address: PciAddress, offset: u8, width: u32, value: u32) {
        self.writes.push((offset, width, value));
        for byte in 0..width {
            self.bytes[usize::from(offset) + byte as usize] = (value >> (8 * byte)) as u8;
        }
    }
}

fn at() -> PciAddress {
    PciAddress::new(0, 3, 0).unwrap()
}

/// MSI-X body: message control (table size - 1), table and PBA (offset | BIR).
fn msix_body(entries: u16, table: u32, pba: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(entries - 1).to_le_bytes());
    body.extend_from_slice(&table.to_le_bytes());
    body.extend_from_slice(&pba.to_le_bytes());
    body
}

/// QEMU's virtio-blk-pci: vendor capabilities first, MSI-X at 0x98 with two
/// entries, table at BAR 1 offset 0, PBA at BAR 1 offset 0x800.
fn virtio_space() -> Space {
    let msix = msix_body(2, 1, 0x800 | 1);
    Space::new().capabilities(&[
        (0x84, 0x09, &[0x14, 1]),
        (0x70, 0x09, &[0x10, 4]),
        (0x98, 0x11, &msix),
        (0x60, 0x09, &[0x10, 3]),
    ])
}

#[test]
fn the_msix_capability_is_found_among_others() {
    let msix = find(&mut virtio_space(), at()).unwrap();
    assert_eq!(
        msix,
        Msix {
            capability: 0x98,
            table_size: 2,
            table_bar: 1,
            table_offset: 0,
            pba_bar: 1,
            pba_offset: 0x800,
        }
    );
    assert_eq!(msix.table_bytes(), 32);
    assert_eq!(msix.pba_bytes(), 8);
}

#[test]
fn no_list_no_msix_or_a_broken_list_finds_nothing() {
    assert_eq!(find(&mut Space::new(), at()), None);
    let mut msi_only = Space::new().capabilities(&[(0x50, 0x05, &[0, 0, 0, 0])]);
    assert_eq!(find(&mut msi_only, at()), None);
    // A list that points back at itself ends, without an answer.
    let mut looping = Space::new().capabilities(&[(0x50, 0x09, &[])]);
    looping.bytes[0x51] = 0x50;
    assert_eq!(find(&mut looping, at()), None);
    // A pointer into the header is not followed.
    let mut into_header = Space::new().capabilities(&[(0x50, 0x09, &[])]);
    into_header.bytes[0x51] = 0x10;
    assert_eq!(find(&mut into_header, at()), None);
}

fn function_with_bars(bars: &[(usize, u64, u64)]) -> Function {
    let mut function = Function::default();
    for &(index, address, size) in bars {
        function.bars[index] = Bar {
            kind: BarKind::Memory32,
            address,
            size,
            prefetchable: false,
        };
    }
    function
}

#[test]
fn the_table_pages_are_kept_from_the_driver() {
    let msix = find(&mut virtio_space(), at()).unwrap();
    // The table's BAR is kept from its first page on; other BARs are free.
    assert_eq!(msix.first_kept_offset(1), Some(0));
    assert_eq!(msix.first_kept_offset(4), None);
    // A table sharing a BAR with registers: its page and after are kept.
    let shared = Msix {
        capability: 0x40,
        table_size: 4,
        table_bar: 0,
        table_offset: 0x2010,
        pba_bar: 0,
        pba_offset: 0x3000,
    };
    assert_eq!(shared.first_kept_offset(0), Some(0x2000));
    let pba_first = Msix {
        pba_offset: 0x1800,
        ..shared
    };
    assert_eq!(pba_first.first_kept_offset(0), Some(0x1000));
    let function = function_with_bars(&[(0, 0xfe00_0000, 0x4000)]);
    assert_eq!(shared.table_address(&function), Some(0xfe00_2010));
    let small = function_with_bars(&[(0, 0xfe00_0000, 0x2000)]);
    assert_eq!(shared.table_address(&small), None);
    assert_eq!(shared.table_address(&Function::default()), None);
}

/// A table of dwords, every write kept.
struct Table {
    dwords: Vec<u32>,
    writes: Vec<(u64, u32)>,
}

impl TableAccess for Table {
    fn read32(&mut self, offset: u64) -> u32 {
        self.dwords[offset as usize / 4]
    }

    fn write32(&mut self, offset: u64, value: u32) {
        self.writes.push((offset, value));
        self.dwords[offset as usize / 4] = value;
    }
}

#[test]
fn an_entry_is_programmed_masked_then_unmasked_and_masked_again() {
    // Entries start masked (the reset state), one of them with a reserved bit.
    let mut table = Table {
        dwords: vec![0, 0, 0, 1, 0, 0, 0, 1 | 0x8000_0000],
        writes: Vec::new(),
    };
    program_entry(&mut table, 1, 2, 48);
    assert_eq!(table.dwords[4..8], [0xfee0_2000, 0, 48, 0x8000_0001]);
    // Masked before the address and data changed.
    assert_eq!(table.writes[0], (28, 0x8000_0001));
    assert_eq!(table.dwords[0..4], [0, 0, 0, 1], "entry 0 untouched");
    set_entry_masked(&mut table, 1, false);
    assert_eq!(table.dwords[7], 0x8000_0000);
    set_entry_masked(&mut table, 1, true);
    assert_eq!(table.dwords[7], 0x8000_0001);
}

#[test]
fn enabling_turns_on_msix_and_memory_decoding_and_disabling_turns_msix_off() {
    let mut space = virtio_space();
    let msix = find(&mut space, at()).unwrap();
    space.bytes[0x9b] |= 0x40; // function mask set by someone
    set_enabled(&mut space, at(), &msix, true);
    assert_eq!(space.read(at(), 0x04, 2) & 0x6, 0x6);
    assert_eq!(space.read(at(), 0x9a, 2), 0x8001);
    set_enabled(&mut space, at(), &msix, false);
    assert_eq!(space.read(at(), 0x9a, 2), 0x0001);
    assert_eq!(space.read(at(), 0x04, 2) & 0x6, 0x6, "decoding stays on");
}
