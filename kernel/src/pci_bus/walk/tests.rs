//! The walk against a configuration-space model: a host bridge, a
//! multi-function device, 64-bit, prefetchable and I/O BARs, a bridge with
//! a device on its secondary bus, and a bridge loop.

use super::{ConfigAccess, walk};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use cella_wasm_host::abi::PciAddress;

/// What one BAR decodes.
enum BarSpec {
    Io {
        port: u32,
        size: u32,
    },
    Memory32 {
        address: u32,
        size: u32,
        prefetchable: bool,
    },
    Memory64 {
        address: u64,
        size: u64,
        prefetchable: bool,
    },
}

/// One function's configuration space and the writable bits of each dword.
#[derive(Clone)]
struct Model {
    bytes: [u8; 256],
    writable: BTreeMap<u8, u32>,
}

impl Model {
    fn new(vendor: u16, device: u16, class: u8, subclass: u8, interface: u8) -> Model {
        let mut model = Model {
            bytes: [0; 256],
            writable: BTreeMap::new(),
        };
        model.set32(0, u32::from(device) << 16 | u32::from(vendor));
        model.bytes[0x04] = 0x07; // I/O, memory, bus master
        model.bytes[0x08] = 0x02;
        model.bytes[0x09] = interface;
        model.bytes[0x0a] = subclass;
        model.bytes[0x0b] = class;
        model.writable.insert(0x04, 0x0000_ffff);
        model.writable.insert(0x3c, 0x0000_00ff);
        model
    }

    fn header_type(mut self, header_type: u8) -> Model {
        self.bytes[0x0e] = (self.bytes[0x0e] & 0x80) | header_type;
        self
    }

    fn multi_function(mut self) -> Model {
        self.bytes[0x0e] |= 0x80;
        self
    }

    fn irq(mut self, line: u8) -> Model {
        self.bytes[0x3c] = line;
        self.bytes[0x3d] = 1;
        self
    }

    fn bridge(mut self, primary: u8, secondary: u8) -> Model {
        self.bytes[0x18] = primary;
        self.bytes[0x19] = secondary;
        self.bytes[0x1a] = secondary;
        self
    }

    fn bar(mut self, index: u8, bar: BarSpec) -> Model {
        let register = 0x10 + 4 * index;
        match bar {
            BarSpec::Io { port, size } => {
                self.set32(register, port | 1);
                self.writable.insert(register, !(size - 1) & 0xffff_fffc);
            }
            BarSpec::Memory32 {
                address,
                size,
                prefetchable,
            } => {
                self.set32(register, address | u32::from(prefetchable) << 3);
                self.writable.insert(register, !(size - 1) & 0xffff_fff0);
            }
            BarSpec::Memory64 {
                address,
                size,
                prefetchable,
            } => {
                let mask = !(size - 1);
                self.set32(
                    register,
                    address as u32 | 0x4 | u32::from(prefetchable) << 3,
                );
                self.set32(register + 4, (address >> 32) as u32);
                self.writable.insert(register, mask as u32 & 0xffff_fff0);
                self.writable.insert(register + 4, (mask >> 32) as u32);
            }
        }
        self
    }

    fn set32(&mut self, at: u8, value: u32) {
        let at = usize::from(at);
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn get32(&self, at: u8) -> u32 {
        let at = usize::from(at);
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap())
    }
}

/// A bus of models; counts BAR probes made while a function decoded.
#[derive(Default)]
struct Bus {
    functions: BTreeMap<PciAddress, Model>,
    probes_while_decoding: Vec<(PciAddress, u8)>,
}

impl Bus {
    fn add(&mut self, bus: u8, device: u8, function: u8, model: Model) {
        let address = PciAddress::new(bus, device, function).unwrap();
        self.functions.insert(address, model);
    }

    fn snapshot(&self) -> Vec<[u8; 256]> {
        self.functions.values().map(|model| model.bytes).collect()
    }
}

impl ConfigAccess for Bus {
    fn read(&mut self, address: PciAddress, offset: u8, width: u32) -> u32 {
        let dword = self
            .functions
            .get(&address)
            .map_or(u32::MAX, |model| model.get32(offset & 0xfc));
        let value = dword >> (8 * u32::from(offset & 3));
        match width {
            1 => value & 0xff,
            2 => value & 0xffff,
            _ => value,
        }
    }

    fn write(&mut self, address: PciAddress, offset: u8, width: u32, value: u32) {
        let Some(model) = self.functions.get_mut(&address) else {
            return;
        };
        let register = offset & 0xfc;
        let shift = 8 * u32::from(offset & 3);
        let lanes = match width {
            1 => 0xff,
            2 => 0xffff,
            _ => u32::MAX,
        } << shift;
        let value = value << shift;
        let decoding = model.bytes[0x04] & 0x03 != 0;
        if (0x10..0x28).contains(&register) && value == u32::MAX && decoding {
            self.probes_while_decoding.push((address, register));
        }
        let writable = model.writable.get(&register).copied().unwrap_or(0) & lanes;
        let old = model.get32(register);
        model.set32(register, (old & !writable) | (value & writable));
    }
}

fn machine() -> Bus {
    let mut bus = Bus::default();
    bus.add(0, 0, 0, Model::new(0x8086, 0x1237, 0x06, 0x00, 0x00));
    bus.add(
        0,
        1,
        0,
        Model::new(0x8086, 0x7000, 0x06, 0x01, 0x00).multi_function(),
    );
    let ide = Model::new(0x8086, 0x7010, 0x01, 0x01, 0x80).bar(
        4,
        BarSpec::Io {
            port: 0xc040,
            size: 0x10,
        },
    );
    bus.add(0, 1, 1, ide);
    bus.add(0, 1, 3, Model::new(0x8086, 0x7113, 0x06, 0x80, 0x00).irq(9));
    let display = Model::new(0x1234, 0x1111, 0x03, 0x00, 0x00)
        .bar(
            0,
            BarSpec::Memory32 {
                address: 0xfd00_0000,
                size: 0x100_0000,
                prefetchable: true,
            },
        )
        .bar(
            2,
            BarSpec::Memory32 {
                address: 0xfebf_0000,
                size: 0x1000,
                prefetchable: false,
            },
        );
    bus.add(0, 2, 0, display);
    let nic = Model::new(0x8086, 0x100e, 0x02, 0x00, 0x00)
        .irq(11)
        .bar(
            0,
            BarSpec::Memory32 {
                address: 0xfebc_0000,
                size: 0x2_0000,
                prefetchable: false,
            },
        )
        .bar(
            1,
            BarSpec::Io {
                port: 0xc000,
                size: 0x40,
            },
        );
    bus.add(0, 3, 0, nic);
    let bridge = Model::new(0x1b36, 0x0001, 0x06, 0x04, 0x00)
        .header_type(1)
        .bridge(0, 1)
        .bar(
            0,
            BarSpec::Memory32 {
                address: 0xfea0_0000,
                size: 0x100,
                prefetchable: false,
            },
        );
    bus.add(0, 4, 0, bridge);
    let behind = Model::new(0x1af4, 0x1041, 0x02, 0x00, 0x00)
        .irq(10)
        .bar(
            0,
            BarSpec::Io {
                port: 0xd000,
                size: 0x20,
            },
        )
        .bar(
            4,
            BarSpec::Memory64 {
                address: 0x8_0000_0000,
                size: 0x4000,
                prefetchable: true,
            },
        );
    bus.add(1, 0, 0, behind);
    bus
}

const EXPECTED: [&str; 8] = [
    "00:00.0 8086:1237 class 06.00.00 header 0 irq 0",
    "00:01.0 8086:7000 class 06.01.00 header 0 irq 0",
    "00:01.1 8086:7010 class 01.01.80 header 0 irq 0 bar4=io 0xc040 size 0x10",
    "00:01.3 8086:7113 class 06.80.00 header 0 irq 9",
    "00:02.0 1234:1111 class 03.00.00 header 0 irq 0 bar0=mem32 0xfd000000 size 0x1000000 prefetchable bar2=mem32 0xfebf0000 size 0x1000",
    "00:03.0 8086:100e class 02.00.00 header 0 irq 11 bar0=mem32 0xfebc0000 size 0x20000 bar1=io 0xc000 size 0x40",
    "00:04.0 1b36:0001 class 06.04.00 header 1 irq 0 bar0=mem32 0xfea00000 size 0x100",
    "01:00.0 1af4:1041 class 02.00.00 header 0 irq 10 bar0=io 0xd000 size 0x20 bar4=mem64 0x800000000 size 0x4000 prefetchable",
];

#[test]
fn every_function_is_found_and_every_bar_sized_with_decoding_off_and_restored() {
    let mut bus = machine();
    let before = bus.snapshot();
    let found: Vec<String> = walk(&mut bus).iter().map(ToString::to_string).collect();
    assert_eq!(found, EXPECTED);
    assert!(
        bus.snapshot() == before,
        "every BAR and command register restored"
    );
    assert_eq!(bus.probes_while_decoding, []);
}

#[test]
fn an_empty_bus_and_a_bridge_loop_end() {
    let mut bus = Bus::default();
    let bridge = || Model::new(0x1b36, 0x0001, 0x06, 0x04, 0x00).header_type(1);
    // A bridge on bus 0 claiming bus 2, and one on bus 2 pointing back to 2.
    bus.add(0, 0, 0, bridge().bridge(0, 2));
    bus.add(2, 5, 0, bridge().bridge(2, 2));
    assert_eq!(walk(&mut bus).len(), 2);
    assert_eq!(walk(&mut Bus::default()).len(), 0);
}
