//! Configuration space through mechanism #1, and the walk over buses,
//! devices and functions.
//!
//! Writing `0x8000_0000 | bus << 16 | device << 11 | function << 8 | register`
//! to the address port (0xCF8) selects a 32-bit register; the data port
//! (0xCFC .. 0xCFF) then reads or writes it.

use cella_sdk::{Ports, Result};
use core::cell::Cell;

/// Port offsets in the granted range 0xCF8 .. 0xD00.
const ADDRESS: u16 = 0;
const DATA: u16 = 4;
const ENABLE: u32 = 0x8000_0000;

/// Configuration registers.
const VENDOR_DEVICE: u8 = 0x00;
const COMMAND: u8 = 0x04;
const CLASS_REVISION: u8 = 0x08;
const HEADER_TYPE: u8 = 0x0e;
const FIRST_BAR: u8 = 0x10;
const BUS_NUMBERS: u8 = 0x18; // bridges: primary, secondary, subordinate
const INTERRUPT_LINE: u8 = 0x3c;

/// Command register: I/O and memory decoding.
const DECODE: u16 = 0x0003;
/// Header type: bit 7 marks a multi-function device.
const MULTI_FUNCTION: u8 = 0x80;
/// A vendor id that means "nothing here".
const NO_DEVICE: u16 = 0xffff;

/// One base address register, sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// Not implemented (reads back 0 after writing all ones).
    None,
    /// I/O ports.
    Io {
        /// First port.
        port: u32,
        /// Number of ports.
        size: u32,
    },
    /// 32-bit memory.
    Memory32 {
        /// Base address.
        address: u32,
        /// Length in bytes.
        size: u32,
        /// Prefetchable.
        prefetchable: bool,
    },
    /// 64-bit memory (takes two BAR slots; the second shows as `None`).
    Memory64 {
        /// Base address.
        address: u64,
        /// Length in bytes.
        size: u64,
        /// Prefetchable.
        prefetchable: bool,
    },
}

/// One function found, as the `pci` interface carries it.
pub use cella_sdk::interfaces::pci::Function;
use cella_sdk::interfaces::pci::{self, BarKind};

impl From<Bar> for pci::Bar {
    fn from(bar: Bar) -> pci::Bar {
        let (kind, address, size, prefetchable) = match bar {
            Bar::None => (BarKind::Unused, 0, 0, false),
            Bar::Io { port, size } => (BarKind::Io, u64::from(port), u64::from(size), false),
            Bar::Memory32 {
                address,
                size,
                prefetchable,
            } => (
                BarKind::Memory32,
                u64::from(address),
                u64::from(size),
                prefetchable,
            ),
            Bar::Memory64 {
                address,
                size,
                prefetchable,
            } => (BarKind::Memory64, address, size, prefetchable),
        };
        pci::Bar {
            kind,
            address,
            size,
            prefetchable,
        }
    }
}

/// Configuration space, reached through the granted ports.
pub struct ConfigSpace {
    ports: Ports,
    /// The address register's value, to skip rewriting it (this driver is
    /// the only one granted the ports, so nobody else changes it).
    selected: Cell<Option<u32>>,
}

impl ConfigSpace {
    pub fn new(ports: Ports) -> ConfigSpace {
        ConfigSpace {
            ports,
            selected: Cell::new(None),
        }
    }

    fn select(&self, bus: u8, device: u8, function: u8, register: u8) -> Result<()> {
        let address = ENABLE
            | u32::from(bus) << 16
            | u32::from(device & 0x1f) << 11
            | u32::from(function & 0x07) << 8
            | u32::from(register & 0xfc);
        if self.selected.get() != Some(address) {
            self.selected.set(None);
            self.ports.write32(ADDRESS, address)?;
            self.selected.set(Some(address));
        }
        Ok(())
    }

    fn read32(&self, bus: u8, device: u8, function: u8, register: u8) -> Result<u32> {
        self.select(bus, device, function, register)?;
        self.ports.read32(DATA)
    }

    fn write32(&self, bus: u8, device: u8, function: u8, register: u8, value: u32) -> Result<()> {
        self.select(bus, device, function, register)?;
        self.ports.write32(DATA, value)
    }

    /// Reads the 16 bits at `register` (even), through the data port's
    /// matching half.
    fn read16(&self, bus: u8, device: u8, function: u8, register: u8) -> Result<u16> {
        self.select(bus, device, function, register)?;
        self.ports.read16(DATA + u16::from(register & 2))
    }

    fn write16(&self, bus: u8, device: u8, function: u8, register: u8, value: u16) -> Result<()> {
        self.select(bus, device, function, register)?;
        self.ports.write16(DATA + u16::from(register & 2), value)
    }

    /// Visits every function on bus 0 and on every bus behind a bridge, in
    /// bus order. Each bus is scanned once, whatever the bridges claim.
    pub fn enumerate(&self, mut visit: impl FnMut(Function)) -> Result<()> {
        let mut scanned = [false; 256];
        let mut pending = [0u8; 256];
        let mut pending_count = 1; // bus 0
        while pending_count > 0 {
            pending_count -= 1;
            let bus = pending.get(pending_count).copied().unwrap_or(0);
            if core::mem::replace(&mut scanned[usize::from(bus)], true) {
                continue;
            }
            let mut found_buses = [0u8; 256];
            let mut found = 0;
            self.scan_bus(bus, |function, secondary| {
                visit(function);
                if let Some(secondary) = secondary
                    && let Some(slot) = found_buses.get_mut(found)
                {
                    *slot = secondary;
                    found += 1;
                }
            })?;
            // Push in reverse so the first bridge's bus is scanned next.
            for &secondary in found_buses.get(..found).unwrap_or_default().iter().rev() {
                if let Some(slot) = pending.get_mut(pending_count) {
                    *slot = secondary;
                    pending_count += 1;
                }
            }
        }
        Ok(())
    }

    /// Visits each function on `bus`, with the secondary bus of a bridge.
    fn scan_bus(&self, bus: u8, mut visit: impl FnMut(Function, Option<u8>)) -> Result<()> {
        for device in 0..32 {
            if self.read16(bus, device, 0, VENDOR_DEVICE)? == NO_DEVICE {
                continue;
            }
            let header = self
                .read32(bus, device, 0, HEADER_TYPE & 0xfc)?
                .to_le_bytes()[2];
            let functions = if header & MULTI_FUNCTION != 0 { 8 } else { 1 };
            for function in 0..functions {
                if let Some((found, secondary)) = self.probe(bus, device, function)? {
                    visit(found, secondary);
                }
            }
        }
        Ok(())
    }

    /// Reads one function's identity, BARs and interrupt line.
    fn probe(&self, bus: u8, device: u8, function: u8) -> Result<Option<(Function, Option<u8>)>> {
        let identity = self.read32(bus, device, function, VENDOR_DEVICE)?;
        let [vendor_low, vendor_high, device_low, device_high] = identity.to_le_bytes();
        let vendor_id = u16::from_le_bytes([vendor_low, vendor_high]);
        if vendor_id == NO_DEVICE {
            return Ok(None);
        }
        let [_revision, interface, subclass, class] = self
            .read32(bus, device, function, CLASS_REVISION)?
            .to_le_bytes();
        let header_type = self
            .read32(bus, device, function, HEADER_TYPE & 0xfc)?
            .to_le_bytes()[2]
            & !MULTI_FUNCTION;
        let (bar_count, secondary) = match header_type {
            0 => (6, None),
            1 | 2 => {
                let numbers = self
                    .read32(bus, device, function, BUS_NUMBERS)?
                    .to_le_bytes();
                (if header_type == 1 { 2 } else { 1 }, Some(numbers[1]))
            }
            _ => (0, None), // unknown layout: do not touch its registers
        };
        let irq_line = if header_type <= 2 {
            self.read32(bus, device, function, INTERRUPT_LINE)?
                .to_le_bytes()[0]
        } else {
            0xff
        };
        let bars = self.size_bars(bus, device, function, bar_count)?;
        let found = Function {
            bus,
            device,
            function,
            vendor_id,
            device_id: u16::from_le_bytes([device_low, device_high]),
            class,
            subclass,
            interface,
            header_type,
            irq_line,
            bars: bars.map(pci::Bar::from),
        };
        // A multi-function host bridge: function F is the host bridge of bus F.
        let secondary = if bus == 0 && device == 0 && function > 0 && (class, subclass) == (6, 0) {
            Some(function)
        } else {
            secondary
        };
        // A bridge whose secondary bus is 0 (unconfigured) leads nowhere new.
        Ok(Some((found, secondary.filter(|&secondary| secondary != 0))))
    }

    /// Sizes the first `count` BARs with decoding off, restoring each BAR
    /// and the command register.
    fn size_bars(&self, bus: u8, device: u8, function: u8, count: usize) -> Result<[Bar; 6]> {
        let mut bars = [Bar::None; 6];
        if count == 0 {
            return Ok(bars);
        }
        let command = self.read16(bus, device, function, COMMAND)?;
        if command & DECODE != 0 {
            self.write16(bus, device, function, COMMAND, command & !DECODE)?;
        }
        let mut index = 0;
        while index < count.min(6) {
            let register = FIRST_BAR + 4 * index as u8;
            let original = self.read32(bus, device, function, register)?;
            self.write32(bus, device, function, register, 0xffff_ffff)?;
            let probed = self.read32(bus, device, function, register)?;
            self.write32(bus, device, function, register, original)?;
            let mut width = 1;
            let bar = if original & 1 == 1 {
                // I/O: bits 31..2 are the port; a 16-bit decoder reads back
                // zeros in the top half.
                let mut mask = probed & 0xffff_fffc;
                if mask & 0xffff_0000 == 0 {
                    mask |= 0xffff_0000;
                }
                match probed & 0xffff_fffc {
                    0 => Bar::None,
                    _ => Bar::Io {
                        port: original & 0xffff_fffc,
                        size: (!mask).wrapping_add(1),
                    },
                }
            } else {
                let prefetchable = original & 0x8 != 0;
                let is_64 = (original >> 1) & 0x3 == 0x2 && index + 1 < count.min(6);
                if is_64 {
                    width = 2;
                    let high_register = register + 4;
                    let original_high = self.read32(bus, device, function, high_register)?;
                    self.write32(bus, device, function, high_register, 0xffff_ffff)?;
                    let probed_high = self.read32(bus, device, function, high_register)?;
                    self.write32(bus, device, function, high_register, original_high)?;
                    let mask = u64::from(probed_high) << 32 | u64::from(probed & 0xffff_fff0);
                    match mask {
                        0 => Bar::None,
                        _ => Bar::Memory64 {
                            address: u64::from(original_high) << 32
                                | u64::from(original & 0xffff_fff0),
                            size: (!mask).wrapping_add(1),
                            prefetchable,
                        },
                    }
                } else {
                    match probed & 0xffff_fff0 {
                        0 => Bar::None,
                        mask => Bar::Memory32 {
                            address: original & 0xffff_fff0,
                            size: (!mask).wrapping_add(1),
                            prefetchable,
                        },
                    }
                }
            };
            if let Some(slot) = bars.get_mut(index) {
                *slot = bar;
            }
            index += width;
        }
        if command & DECODE != 0 {
            self.write16(bus, device, function, COMMAND, command)?;
        }
        Ok(bars)
    }
}
