//! MSI-X as the kernel drives it: the capability found in a function's
//! configuration space, the pages its table and pending-bit array take
//! (which no grant gives a driver), and the table entries the kernel
//! programs itself. Generic over [`ConfigAccess`] and [`TableAccess`], so it
//! runs on the host against models as well as on the real bus.

use super::walk::ConfigAccess;
use cella_interfaces::pci::{BarKind, Function};
use cella_wasm_host::abi::PciAddress;

const STATUS: u8 = 0x06;
/// Status register: the function has a capability list.
const STATUS_CAPABILITIES: u32 = 1 << 4;
const CAPABILITIES_POINTER: u8 = 0x34;
const COMMAND: u8 = 0x04;
/// Command register: memory decoding.
const COMMAND_MEMORY_SPACE: u32 = 1 << 1;
/// The MSI-X capability's id.
const CAPABILITY_MSIX: u32 = 0x11;
/// Message control: MSI-X enable and function mask.
const CONTROL_ENABLE: u32 = 1 << 15;
const CONTROL_FUNCTION_MASK: u32 = 1 << 14;
/// Capabilities a list is followed through before it is taken as a loop.
const MOST_CAPABILITIES: usize = 48;
/// Bytes of one table entry: address low, address high, data, vector control.
pub const ENTRY_BYTES: u64 = 16;
/// Vector control: the entry is masked.
const VECTOR_MASKED: u32 = 1;
/// The page the kernel keeps away from drivers around the table and the PBA.
const PAGE: u64 = 4096;
/// Where an xAPIC receives message-signalled interrupts; the destination
/// APIC id goes in bits 19:12.
pub const MESSAGE_ADDRESS: u32 = 0xfee0_0000;

/// A function's MSI-X capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msix {
    /// Where the capability lies in configuration space (12 bytes).
    pub capability: u8,
    /// Table entries.
    pub table_size: u16,
    /// The BAR holding the table, and the table's offset in it.
    pub table_bar: u8,
    pub table_offset: u32,
    /// The BAR holding the pending-bit array, and its offset in it.
    pub pba_bar: u8,
    pub pba_offset: u32,
}

impl Msix {
    /// The bytes the table takes.
    pub fn table_bytes(&self) -> u64 {
        u64::from(self.table_size) * ENTRY_BYTES
    }

    /// The bytes the pending-bit array takes (one bit an entry, in qwords).
    pub fn pba_bytes(&self) -> u64 {
        u64::from(self.table_size).div_ceil(64) * 8
    }

    /// The physical address of the table, given the function's BARs; `None`
    /// when its BAR is no memory BAR or the table does not fit in it.
    pub fn table_address(&self, function: &Function) -> Option<u64> {
        placed(
            function,
            self.table_bar,
            self.table_offset,
            self.table_bytes(),
        )
    }

    /// The first byte of BAR `index` a driver may not reach: the start of
    /// the first page that holds the table or the pending-bit array, if one
    /// lies in that BAR (else `None`: the whole BAR is the driver's).
    pub fn first_kept_offset(&self, index: u8) -> Option<u64> {
        let table = (self.table_bar == index).then_some(u64::from(self.table_offset));
        let pba = (self.pba_bar == index).then_some(u64::from(self.pba_offset));
        let first = match (table, pba) {
            (Some(table), Some(pba)) => table.min(pba),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => return None,
        };
        Some(first - first % PAGE)
    }
}

/// `offset .. offset + bytes` of memory BAR `index`, as a physical address.
fn placed(function: &Function, index: u8, offset: u32, bytes: u64) -> Option<u64> {
    let bar = function.bars.get(usize::from(index))?;
    if !matches!(bar.kind, BarKind::Memory32 | BarKind::Memory64) {
        return None;
    }
    let end = u64::from(offset).checked_add(bytes)?;
    (end <= bar.size).then(|| bar.address + u64::from(offset))
}

/// The MSI-X capability of the function at `at`, if its capability list has
/// one. A list that loops or points into the header ends the search.
pub fn find(config: &mut impl ConfigAccess, at: PciAddress) -> Option<Msix> {
    if config.read(at, STATUS, 2) & STATUS_CAPABILITIES == 0 {
        return None;
    }
    let mut pointer = config.read(at, CAPABILITIES_POINTER, 1) as u8 & 0xfc;
    for _ in 0..MOST_CAPABILITIES {
        if pointer < 0x40 {
            return None;
        }
        let header = config.read(at, pointer, 2);
        if header & 0xff == CAPABILITY_MSIX {
            let control = config.read(at, pointer + 2, 2);
            let table = config.read(at, pointer.checked_add(4)?, 4);
            let pba = config.read(at, pointer.checked_add(8)?, 4);
            return Some(Msix {
                capability: pointer,
                table_size: (control & 0x7ff) as u16 + 1,
                table_bar: (table & 0x7) as u8,
                table_offset: table & !0x7,
                pba_bar: (pba & 0x7) as u8,
                pba_offset: pba & !0x7,
            });
        }
        pointer = (header >> 8) as u8 & 0xfc;
    }
    None
}

/// The MSI-X table of one function, 32 bits at a time at byte offsets from
/// its start.
pub trait TableAccess {
    /// Reads the dword at `offset`.
    fn read32(&mut self, offset: u64) -> u32;
    /// Writes the dword at `offset`.
    fn write32(&mut self, offset: u64, value: u32);
}

/// Programs table entry `entry` to send `vector` to the local APIC
/// `apic_id`, fixed delivery, edge: the entry is masked while its address
/// and data change and stays masked (the holder unmasks it).
pub fn program_entry(table: &mut impl TableAccess, entry: u16, apic_id: u8, vector: u8) {
    let base = u64::from(entry) * ENTRY_BYTES;
    set_entry_masked(table, entry, true);
    table.write32(base, MESSAGE_ADDRESS | u32::from(apic_id) << 12);
    table.write32(base + 4, 0);
    table.write32(base + 8, u32::from(vector));
}

/// Masks or unmasks table entry `entry`, keeping the vector control's other bits.
pub fn set_entry_masked(table: &mut impl TableAccess, entry: u16, masked: bool) {
    let control = u64::from(entry) * ENTRY_BYTES + 12;
    let value = table.read32(control);
    let value = if masked {
        value | VECTOR_MASKED
    } else {
        value & !VECTOR_MASKED
    };
    table.write32(control, value);
}

/// Turns MSI-X on (`enable`: the function signals through its table, not
/// INTx) or off, with the function mask clear; on turns memory decoding on
/// too, which the table's writes and reads need.
pub fn set_enabled(config: &mut impl ConfigAccess, at: PciAddress, msix: &Msix, enable: bool) {
    if enable {
        let command = config.read(at, COMMAND, 2);
        if command & COMMAND_MEMORY_SPACE == 0 {
            config.write(at, COMMAND, 2, command | COMMAND_MEMORY_SPACE);
        }
    }
    let control_at = msix.capability + 2;
    let control = config.read(at, control_at, 2) & !CONTROL_FUNCTION_MASK;
    let control = if enable {
        control | CONTROL_ENABLE
    } else {
        control & !CONTROL_ENABLE
    };
    config.write(at, control_at, 2, control);
}

#[cfg(test)]
mod tests;
