//! PCI configuration space behind mechanism #1 (0xCF8 address, 0xCFC data):
//! functions with type 0, 1 (PCI bridge) and 2 (CardBus) headers, BARs that
//! answer the write-all-ones probe with their size (I/O, 32-bit and 64-bit
//! memory), and a check that nobody probes a BAR while decoding is on.

use cella_wasm_host::{Device, Width};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What one BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarSpec {
    /// I/O ports at `port`, `size` of them (a power of two).
    Io {
        /// First port.
        port: u32,
        /// Ports.
        size: u32,
    },
    /// 32-bit memory.
    Memory32 {
        /// Base.
        address: u32,
        /// Bytes (a power of two).
        size: u32,
        /// Prefetchable.
        prefetchable: bool,
    },
    /// 64-bit memory (two BAR registers).
    Memory64 {
        /// Base.
        address: u64,
        /// Bytes (a power of two).
        size: u64,
        /// Prefetchable.
        prefetchable: bool,
    },
}

/// One function's configuration space.
#[derive(Clone, Debug)]
pub struct PciFunction {
    bytes: [u8; 256],
    /// Writable bits of each dword register (BARs: the address bits).
    writable: BTreeMap<u8, u32>,
}

impl PciFunction {
    /// A function with the given identity and class, header type 0,
    /// decoding on.
    pub fn new(vendor: u16, device: u16, class: u8, subclass: u8, interface: u8) -> PciFunction {
        let mut function = PciFunction {
            bytes: [0; 256],
            writable: BTreeMap::new(),
        };
        function.set16(0x00, vendor);
        function.set16(0x02, device);
        function.bytes[0x04] = 0x07; // I/O, memory, bus master
        function.bytes[0x06] = 0x10; // status: capabilities list (RW1C bits elsewhere)
        function.bytes[0x08] = 0x02; // revision
        function.bytes[0x09] = interface;
        function.bytes[0x0a] = subclass;
        function.bytes[0x0b] = class;
        function.bytes[0x3d] = 0; // no interrupt pin
        function.writable.insert(0x04, 0x0000_ffff);
        function.writable.insert(0x3c, 0x0000_00ff);
        function
    }

    /// Sets the header type (0, 1 or 2), keeping the multi-function bit.
    pub fn header_type(mut self, header_type: u8) -> PciFunction {
        self.bytes[0x0e] = (self.bytes[0x0e] & 0x80) | header_type;
        self
    }

    /// Marks the device multi-function (set on function 0).
    pub fn multi_function(mut self) -> PciFunction {
        self.bytes[0x0e] |= 0x80;
        self
    }

    /// Interrupt line register.
    pub fn irq(mut self, line: u8) -> PciFunction {
        self.bytes[0x3c] = line;
        self.bytes[0x3d] = 1; // INTA#
        self
    }

    /// A PCI-to-PCI bridge's bus numbers (header type 1 or 2).
    pub fn bridge(mut self, primary: u8, secondary: u8, subordinate: u8) -> PciFunction {
        self.bytes[0x18] = primary;
        self.bytes[0x19] = secondary;
        self.bytes[0x1a] = subordinate;
        self
    }

    /// Puts `bar` in BAR `index`.
    pub fn bar(mut self, index: u8, bar: BarSpec) -> PciFunction {
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

    fn set16(&mut self, at: u8, value: u16) {
        let at = usize::from(at);
        self.bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    fn set32(&mut self, at: u8, value: u32) {
        let at = usize::from(at);
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    fn get32(&self, at: u8) -> u32 {
        let at = usize::from(at);
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap_or([0; 4]))
    }

    /// The configuration space bytes.
    pub fn bytes(&self) -> [u8; 256] {
        self.bytes
    }
}

#[derive(Debug, Default)]
struct State {
    address: u32,
    functions: BTreeMap<(u8, u8, u8), PciFunction>,
    /// BAR probes (all-ones writes) made while the function decoded.
    probes_while_decoding: Vec<(u8, u8, u8, u8)>,
    /// Configuration reads and writes made.
    accesses: usize,
}

/// The configuration mechanism; attach at ports 0xCF8..0xD00.
#[derive(Clone, Debug, Default)]
pub struct PciBus {
    state: Rc<RefCell<State>>,
}

impl PciBus {
    /// An empty bus.
    pub fn new() -> PciBus {
        PciBus::default()
    }

    /// Adds a function at `bus:device.function`.
    pub fn add(&self, bus: u8, device: u8, function: u8, config: PciFunction) -> &PciBus {
        self.state
            .borrow_mut()
            .functions
            .insert((bus, device, function), config);
        self
    }

    /// Every function's configuration bytes.
    pub fn snapshot(&self) -> BTreeMap<(u8, u8, u8), [u8; 256]> {
        self.state
            .borrow()
            .functions
            .iter()
            .map(|(key, function)| (*key, function.bytes()))
            .collect()
    }

    /// BAR probes made while the function's decoding was on
    /// (bus, device, function, register).
    pub fn probes_while_decoding(&self) -> Vec<(u8, u8, u8, u8)> {
        self.state.borrow().probes_while_decoding.clone()
    }

    /// Configuration reads and writes made.
    pub fn accesses(&self) -> usize {
        self.state.borrow().accesses
    }
}

fn selected(address: u32) -> Option<((u8, u8, u8), u8)> {
    if address & 0x8000_0000 == 0 {
        return None;
    }
    let bus = (address >> 16) as u8;
    let device = ((address >> 11) & 0x1f) as u8;
    let function = ((address >> 8) & 0x07) as u8;
    Some(((bus, device, function), (address & 0xfc) as u8))
}

impl Device for PciBus {
    fn read(&mut self, offset: u64, width: Width) -> u64 {
        let mut state = self.state.borrow_mut();
        if offset == 0 && width == Width::Dword {
            return u64::from(state.address);
        }
        if offset < 4 {
            return 0xffff_ffff;
        }
        state.accesses += 1;
        let shift = 8 * (offset - 4);
        let dword = match selected(state.address) {
            Some((key, register)) => state
                .functions
                .get(&key)
                .map_or(0xffff_ffff, |function| function.get32(register)),
            None => 0xffff_ffff,
        };
        width.truncate(u64::from(dword) >> shift)
    }

    fn write(&mut self, offset: u64, width: Width, value: u64) {
        let mut state = self.state.borrow_mut();
        if offset == 0 && width == Width::Dword {
            state.address = value as u32;
            return;
        }
        if offset < 4 {
            return;
        }
        state.accesses += 1;
        let Some((key, register)) = selected(state.address) else {
            return;
        };
        let shift = 8 * (offset - 4);
        let lane_mask = (width.truncate(u64::MAX) << shift) as u32;
        let value = (value << shift) as u32;
        let Some(function) = state.functions.get(&key) else {
            return;
        };
        let decoding = function.bytes[0x04] & 0x03 != 0;
        let is_bar = (0x10..0x28).contains(&register);
        let probe = is_bar && value == 0xffff_ffff && lane_mask == 0xffff_ffff && decoding;
        let writable = function.writable.get(&register).copied().unwrap_or(0) & lane_mask;
        let old = function.get32(register);
        let new = (old & !writable) | (value & writable);
        if probe {
            state
                .probes_while_decoding
                .push((key.0, key.1, key.2, register));
        }
        if let Some(function) = state.functions.get_mut(&key) {
            function.set32(register, new);
        }
    }
}
