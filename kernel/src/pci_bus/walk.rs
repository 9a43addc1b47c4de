//! The walk over PCI configuration space: bus 0 and every bus behind a
//! bridge, every device, every function of a multi-function device, each
//! function's identity, interrupt line and BARs, sized with the
//! write-all-ones probe (the original value restored, decoding switched off
//! meanwhile). Generic over [`ConfigAccess`], so it runs on the host
//! against a model as well as on configuration mechanism #1.

use alloc::vec::Vec;
use cella_interfaces::pci::{Bar, BarKind, Function};
use cella_wasm_host::abi::PciAddress;

/// Configuration space, read and written by width (1, 2 or 4 bytes,
/// aligned); reads where no function answers return all ones.
pub trait ConfigAccess {
    /// Reads `width` bytes at `offset` of `address`.
    fn read(&mut self, address: PciAddress, offset: u8, width: u32) -> u32;
    /// Writes `width` bytes at `offset` of `address`.
    fn write(&mut self, address: PciAddress, offset: u8, width: u32, value: u32);
}

const VENDOR_ID: u8 = 0x00;
const COMMAND: u8 = 0x04;
const CLASS_REVISION: u8 = 0x08;
const HEADER_TYPE: u8 = 0x0e;
const FIRST_BAR: u8 = 0x10;
/// Bridges: primary, secondary and subordinate bus numbers.
const BUS_NUMBERS: u8 = 0x18;
const INTERRUPT_LINE: u8 = 0x3c;
/// Command register: I/O and memory decoding.
const DECODE: u32 = 0x0003;
/// Header type: bit 7 marks a multi-function device.
const MULTI_FUNCTION: u32 = 0x80;
/// A vendor id that means "nothing here".
const NO_DEVICE: u32 = 0xffff;

/// Every function found, in the order of the walk (buses depth-first, the
/// first bridge's bus next); each bus is scanned once, whatever the
/// bridges claim.
pub fn walk(config: &mut impl ConfigAccess) -> Vec<Function> {
    let mut found = Vec::new();
    let mut scanned = [false; 256];
    let mut pending: Vec<u8> = alloc::vec![0];
    while let Some(bus) = pending.pop() {
        if core::mem::replace(&mut scanned[usize::from(bus)], true) {
            continue;
        }
        let mut secondaries = Vec::new();
        for device in 0..32 {
            let first = address(bus, device, 0);
            if config.read(first, VENDOR_ID, 2) == NO_DEVICE {
                continue;
            }
            let functions = if config.read(first, HEADER_TYPE, 1) & MULTI_FUNCTION != 0 {
                8
            } else {
                1
            };
            for function in 0..functions {
                if let Some((function, secondary)) = probe(config, address(bus, device, function)) {
                    found.push(function);
                    secondaries.extend(secondary);
                }
            }
        }
        // Pushed in reverse, so the first bridge's bus is scanned next.
        pending.extend(secondaries.into_iter().rev());
    }
    found
}

fn address(bus: u8, device: u8, function: u8) -> PciAddress {
    PciAddress {
        bus,
        device,
        function,
    }
}

/// One function's identity, interrupt line and BARs, and the bus behind it
/// if it is a bridge.
fn probe(config: &mut impl ConfigAccess, at: PciAddress) -> Option<(Function, Option<u8>)> {
    let identity = config.read(at, VENDOR_ID, 4);
    if identity & 0xffff == NO_DEVICE {
        return None;
    }
    let [_revision, interface, subclass, class] = config.read(at, CLASS_REVISION, 4).to_le_bytes();
    let header_type = (config.read(at, HEADER_TYPE, 1) & !MULTI_FUNCTION) as u8;
    let (bar_count, secondary) = match header_type {
        0 => (6, None),
        1 | 2 => {
            let secondary = config.read(at, BUS_NUMBERS + 1, 1) as u8;
            (if header_type == 1 { 2 } else { 1 }, Some(secondary))
        }
        // An unknown layout: its registers are not touched.
        _ => (0, None),
    };
    let irq_line = if header_type <= 2 {
        config.read(at, INTERRUPT_LINE, 1) as u8
    } else {
        0xff
    };
    let function = Function {
        bus: at.bus,
        device: at.device,
        function: at.function,
        vendor_id: identity as u16,
        device_id: (identity >> 16) as u16,
        class,
        subclass,
        interface,
        header_type,
        irq_line,
        bars: size_bars(config, at, bar_count),
    };
    // A multi-function host bridge: function F is the host bridge of bus F.
    let secondary =
        if at.bus == 0 && at.device == 0 && at.function > 0 && (class, subclass) == (6, 0) {
            Some(at.function)
        } else {
            secondary
        };
    // A bridge whose secondary bus is 0 (unconfigured) leads nowhere new.
    Some((function, secondary.filter(|&secondary| secondary != 0)))
}

/// Sizes the first `count` BARs with decoding off, restoring each BAR and
/// the command register.
fn size_bars(config: &mut impl ConfigAccess, at: PciAddress, count: usize) -> [Bar; 6] {
    let mut bars = [Bar::default(); 6];
    if count == 0 {
        return bars;
    }
    let command = config.read(at, COMMAND, 2);
    if command & DECODE != 0 {
        config.write(at, COMMAND, 2, command & !DECODE);
    }
    let mut probe = |register: u8| {
        let original = config.read(at, register, 4);
        config.write(at, register, 4, 0xffff_ffff);
        let probed = config.read(at, register, 4);
        config.write(at, register, 4, original);
        (original, probed)
    };
    let count = count.min(6);
    let mut index = 0;
    while index < count {
        let register = FIRST_BAR + 4 * index as u8;
        let (original, probed) = probe(register);
        let mut taken = 1;
        let bar = if original & 1 == 1 {
            // I/O: bits 31..2 are the port; a 16-bit decoder reads back
            // zeros in the top half.
            let mut mask = probed & 0xffff_fffc;
            if mask != 0 && mask & 0xffff_0000 == 0 {
                mask |= 0xffff_0000;
            }
            (mask != 0).then(|| Bar {
                kind: BarKind::Io,
                address: u64::from(original & 0xffff_fffc),
                size: u64::from((!mask).wrapping_add(1)),
                prefetchable: false,
            })
        } else {
            let prefetchable = original & 0x8 != 0;
            if (original >> 1) & 0x3 == 0x2 && index + 1 < count {
                taken = 2;
                let (original_high, probed_high) = probe(register + 4);
                let mask = u64::from(probed_high) << 32 | u64::from(probed & 0xffff_fff0);
                (mask != 0).then(|| Bar {
                    kind: BarKind::Memory64,
                    address: u64::from(original_high) << 32 | u64::from(original & 0xffff_fff0),
                    size: (!mask).wrapping_add(1),
                    prefetchable,
                })
            } else {
                let mask = probed & 0xffff_fff0;
                (mask != 0).then(|| Bar {
                    kind: BarKind::Memory32,
                    address: u64::from(original & 0xffff_fff0),
                    size: u64::from((!mask).wrapping_add(1)),
                    prefetchable,
                })
            }
        };
        if let (Some(bar), Some(slot)) = (bar, bars.get_mut(index)) {
            *slot = bar;
        }
        index += taken;
    }
    if command & DECODE != 0 {
        config.write(at, COMMAND, 2, command);
    }
    bars
}

#[cfg(test)]
mod tests;
