//! A simulated platform for tests and teaching tools: port and MMIO spaces
//! where device models plug in, DMA memory, IRQ lines, a settable clock, a
//! log, and a record of every access the host made on a module's behalf.

use crate::access::Access;
use crate::platform::{Platform, Width};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use cella_abi::{ErrorCode, LogLevel, PciAddress};
use core::cell::RefCell;

/// A device model reached through ports or MMIO. Offsets are relative to the
/// base the device was attached at.
pub trait Device {
    /// Reads `width` at `offset`.
    fn read(&mut self, offset: u64, width: Width) -> u64;
    /// Writes `width` at `offset`.
    fn write(&mut self, offset: u64, width: Width, value: u64);
}

/// A plain register file: bytes that read back what was written
/// (little-endian for wider accesses).
#[derive(Clone, Debug)]
pub struct Registers {
    bytes: Vec<u8>,
}

impl Registers {
    /// `size` zeroed bytes.
    pub fn new(size: usize) -> Registers {
        Registers {
            bytes: vec![0; size],
        }
    }
}

impl Device for Registers {
    fn read(&mut self, offset: u64, width: Width) -> u64 {
        let mut value = 0u64;
        for index in 0..u64::from(width.bytes()) {
            let byte = usize::try_from(offset + index)
                .ok()
                .and_then(|position| self.bytes.get(position))
                .copied()
                .unwrap_or(0xff);
            value |= u64::from(byte) << (8 * index);
        }
        value
    }

    fn write(&mut self, offset: u64, width: Width, value: u64) {
        for index in 0..u64::from(width.bytes()) {
            let byte = (value >> (8 * index)) as u8;
            if let Some(slot) = usize::try_from(offset + index)
                .ok()
                .and_then(|at| self.bytes.get_mut(at))
            {
                *slot = byte;
            }
        }
    }
}

/// A byte stream: reads at offset 0 take the next queued input byte (0xff
/// when there is none, as from an empty FIFO); writes at offset 1 are kept
/// as output. Clones share the queues.
#[derive(Clone, Debug, Default)]
pub struct ByteStream {
    /// The bytes reads at offset 0 return, oldest first.
    pub input: Rc<RefCell<VecDeque<u8>>>,
    /// Every byte written at offset 1, in order.
    pub output: Rc<RefCell<Vec<u8>>>,
}

impl Device for ByteStream {
    fn read(&mut self, offset: u64, _width: Width) -> u64 {
        match offset {
            0 => u64::from(self.input.borrow_mut().pop_front().unwrap_or(0xff)),
            _ => 0,
        }
    }

    fn write(&mut self, offset: u64, _width: Width, value: u64) {
        if offset == 1 {
            self.output.borrow_mut().push(value as u8);
        }
    }
}

/// One line written through [`Platform::log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Module.
    pub module: String,
    /// Level.
    pub level: LogLevel,
    /// Text.
    pub message: String,
}

struct Attached {
    base: u64,
    length: u64,
    device: Box<dyn Device>,
}

#[derive(Default)]
struct Machine {
    ports: Vec<Attached>,
    mmio: Vec<Attached>,
    pci: BTreeMap<PciAddress, Box<dyn Device>>,
    /// The device each live DMA buffer was allocated for.
    dma_devices: BTreeMap<u64, Option<PciAddress>>,
    irq_enabled: BTreeMap<u8, bool>,
    /// Each function with MSI-X, and its table's entries.
    msix_tables: BTreeMap<PciAddress, u16>,
    /// Each MSI-X vector handed out: its line, function and entry.
    msix_vectors: BTreeMap<u8, (PciAddress, u16)>,
    dma: BTreeMap<u64, Vec<u8>>,
    next_dma_address: u64,
    dma_limit: u64,
    dma_in_use: u64,
    /// Loans out per buffer: (borrower's device, writable) for each.
    loans: BTreeMap<u64, Vec<(Option<PciAddress>, bool)>>,
    /// Buffers their owner freed while lent: freed with their last loan.
    freed_while_lent: BTreeMap<u64, u64>,
    now: u64,
    tick: u64,
    log: Vec<LogLine>,
    accesses: Vec<Access>,
    /// Bytes of linear memory the machine may still hand out (`None`: no limit).
    memory_budget: Option<usize>,
}

impl Machine {
    fn device(space: &mut [Attached], address: u64) -> Option<(&mut Attached, u64)> {
        space
            .iter_mut()
            .find(|attached| address >= attached.base && address - attached.base < attached.length)
            .map(|attached| {
                let offset = address - attached.base;
                (attached, offset)
            })
    }

    fn dma_buffer(&mut self, address: u64, length: usize) -> Option<&mut [u8]> {
        let (base, buffer) = self.dma.range_mut(..=address).next_back()?;
        let start = usize::try_from(address - base).ok()?;
        buffer.get_mut(start..start.checked_add(length)?)
    }
}

/// The simulated machine. Clones share it.
#[derive(Clone)]
pub struct SimulatedPlatform {
    machine: Rc<RefCell<Machine>>,
}

/// [`SimulatedPlatform::new`].
impl Default for SimulatedPlatform {
    fn default() -> SimulatedPlatform {
        SimulatedPlatform::new()
    }
}

/// The first line the simulated machine hands out for MSI-X vectors.
pub const SIMULATED_MSIX_FIRST_LINE: u8 = 16;

/// Where simulated DMA memory starts.
pub const DMA_BASE: u64 = 0x1000_0000;

impl SimulatedPlatform {
    /// An empty machine with 1 MiB of DMA memory.
    pub fn new() -> SimulatedPlatform {
        let platform = SimulatedPlatform {
            machine: Rc::default(),
        };
        {
            let mut machine = platform.machine.borrow_mut();
            machine.next_dma_address = DMA_BASE;
            machine.dma_limit = 1 << 20;
        }
        platform
    }

    /// Attaches a device at ports `base .. base + count`.
    pub fn attach_ports(&self, base: u16, count: u32, device: impl Device + 'static) {
        self.machine.borrow_mut().ports.push(Attached {
            base: u64::from(base),
            length: u64::from(count),
            device: Box::new(device),
        });
    }

    /// Attaches a device at physical `base .. base + length`.
    pub fn attach_mmio(&self, base: u64, length: u64, device: impl Device + 'static) {
        self.machine.borrow_mut().mmio.push(Attached {
            base,
            length,
            device: Box::new(device),
        });
    }

    /// Attaches a PCI function at `address`: `config` answers its
    /// configuration space (offsets 0-255).
    pub fn attach_pci(&self, address: PciAddress, config: impl Device + 'static) {
        self.machine
            .borrow_mut()
            .pci
            .insert(address, Box::new(config));
    }

    /// Gives the PCI function at `address` an MSI-X table of `entries`.
    pub fn attach_msix(&self, address: PciAddress, entries: u16) {
        self.machine
            .borrow_mut()
            .msix_tables
            .insert(address, entries);
    }

    /// Every MSI-X vector handed out and not given back: (line, function,
    /// entry), lowest line first.
    pub fn msix_vectors(&self) -> Vec<(u8, PciAddress, u16)> {
        self.machine
            .borrow()
            .msix_vectors
            .iter()
            .map(|(line, (function, entry))| (*line, *function, *entry))
            .collect()
    }

    /// The PCI function the live DMA buffer at `device_address` was
    /// allocated for (`Some(None)`: for no device; `None`: no such buffer).
    pub fn dma_device(&self, device_address: u64) -> Option<Option<PciAddress>> {
        self.machine
            .borrow()
            .dma_devices
            .get(&device_address)
            .copied()
    }

    /// Every access made so far, oldest first, as the devices saw them: a
    /// bulk port call shows as one access per byte; an MMIO access names the
    /// attached device's base and the offset in it (an address with no
    /// device attached shows as itself, offset 0).
    pub fn accesses(&self) -> Vec<Access> {
        self.machine.borrow().accesses.clone()
    }

    /// Forgets the recorded accesses.
    pub fn clear_accesses(&self) {
        self.machine.borrow_mut().accesses.clear();
    }

    /// Lets linear memories take only `bytes` more in all (created or grown),
    /// as a kernel's memory budget would.
    pub fn set_memory_budget(&self, bytes: usize) {
        self.machine.borrow_mut().memory_budget = Some(bytes);
    }

    /// Forgets the recorded log lines.
    pub fn clear_log_lines(&self) {
        self.machine.borrow_mut().log.clear();
    }

    /// Every log line so far.
    pub fn log_lines(&self) -> Vec<LogLine> {
        self.machine.borrow().log.clone()
    }

    /// Whether an IRQ line is unmasked.
    pub fn irq_enabled(&self, line: u8) -> bool {
        self.machine
            .borrow()
            .irq_enabled
            .get(&line)
            .copied()
            .unwrap_or(false)
    }

    /// Bytes of DMA memory allocated now.
    pub fn dma_in_use(&self) -> u64 {
        self.machine.borrow().dma_in_use
    }

    /// The loans out on the buffer at `device_address`: each borrower's
    /// device and whether it may write.
    pub fn dma_loans(&self, device_address: u64) -> Vec<(Option<PciAddress>, bool)> {
        self.machine
            .borrow()
            .loans
            .get(&device_address)
            .cloned()
            .unwrap_or_default()
    }

    /// Loans out on all buffers together.
    pub fn loans_out(&self) -> usize {
        self.machine.borrow().loans.values().map(Vec::len).sum()
    }

    /// Reads simulated DMA memory (as a device would).
    pub fn dma_peek(&self, address: u64, length: usize) -> Option<Vec<u8>> {
        self.machine
            .borrow_mut()
            .dma_buffer(address, length)
            .map(|bytes| bytes.to_vec())
    }

    /// Sets the clock.
    pub fn set_now(&self, nanoseconds: u64) {
        self.machine.borrow_mut().now = nanoseconds;
    }

    /// Makes every clock read advance the clock by `nanoseconds`.
    pub fn set_tick(&self, nanoseconds: u64) {
        self.machine.borrow_mut().tick = nanoseconds;
    }
}

impl Platform for SimulatedPlatform {
    fn memory_may_grow(&mut self, additional_bytes: usize) -> bool {
        let mut machine = self.machine.borrow_mut();
        match machine.memory_budget {
            None => true,
            Some(left) if additional_bytes <= left => {
                machine.memory_budget = Some(left - additional_bytes);
                true
            }
            Some(_) => false,
        }
    }

    fn port_read(&mut self, port: u16, width: Width) -> u32 {
        let mut machine = self.machine.borrow_mut();
        let value = match Machine::device(&mut machine.ports, u64::from(port)) {
            Some((attached, offset)) => width.truncate(attached.device.read(offset, width)) as u32,
            None => width.truncate(u64::MAX) as u32,
        };
        machine
            .accesses
            .push(Access::PortRead { port, width, value });
        value
    }

    fn port_write(&mut self, port: u16, width: Width, value: u32) {
        let mut machine = self.machine.borrow_mut();
        if let Some((attached, offset)) = Machine::device(&mut machine.ports, u64::from(port)) {
            attached.device.write(offset, width, u64::from(value));
        }
        machine
            .accesses
            .push(Access::PortWrite { port, width, value });
    }

    fn mmio_read(&mut self, address: u64, width: Width) -> u64 {
        let mut machine = self.machine.borrow_mut();
        let (value, region, offset) = match Machine::device(&mut machine.mmio, address) {
            Some((attached, offset)) => (
                width.truncate(attached.device.read(offset, width)),
                attached.base,
                offset,
            ),
            None => (width.truncate(u64::MAX), address, 0),
        };
        machine.accesses.push(Access::MmioRead {
            region,
            offset,
            width,
            value,
        });
        value
    }

    fn mmio_write(&mut self, address: u64, width: Width, value: u64) {
        let mut machine = self.machine.borrow_mut();
        let (region, offset) = match Machine::device(&mut machine.mmio, address) {
            Some((attached, offset)) => {
                attached.device.write(offset, width, value);
                (attached.base, offset)
            }
            None => (address, 0),
        };
        machine.accesses.push(Access::MmioWrite {
            region,
            offset,
            width,
            value,
        });
    }

    fn irq_set_enabled(&mut self, line: u8, enabled: bool) {
        let mut machine = self.machine.borrow_mut();
        machine.irq_enabled.insert(line, enabled);
        machine
            .accesses
            .push(Access::IrqSetEnabled { line, enabled });
    }

    fn irq_acknowledge(&mut self, line: u8) {
        self.machine
            .borrow_mut()
            .accesses
            .push(Access::IrqAcknowledge { line });
    }

    /// Lines 16-47, lowest free first, as the kernel hands them out.
    fn msix_attach(&mut self, function: PciAddress, entry: u16) -> Result<u8, ErrorCode> {
        let mut machine = self.machine.borrow_mut();
        let entries = *machine
            .msix_tables
            .get(&function)
            .ok_or(ErrorCode::NotFound)?;
        if entry >= entries {
            return Err(ErrorCode::BadArgument);
        }
        if machine
            .msix_vectors
            .values()
            .any(|held| *held == (function, entry))
        {
            return Err(ErrorCode::Busy);
        }
        let line = (SIMULATED_MSIX_FIRST_LINE..SIMULATED_MSIX_FIRST_LINE + 32)
            .find(|line| !machine.msix_vectors.contains_key(line))
            .ok_or(ErrorCode::Exhausted)?;
        machine.msix_vectors.insert(line, (function, entry));
        Ok(line)
    }

    fn msix_release(&mut self, line: u8) {
        let mut machine = self.machine.borrow_mut();
        machine.msix_vectors.remove(&line);
        machine.irq_enabled.insert(line, false);
    }

    fn pci_config_read(&mut self, address: PciAddress, offset: u8, width: Width) -> u32 {
        let mut machine = self.machine.borrow_mut();
        match machine.pci.get_mut(&address) {
            Some(config) => width.truncate(config.read(u64::from(offset), width)) as u32,
            None => width.truncate(u64::MAX) as u32,
        }
    }

    fn pci_config_write(&mut self, address: PciAddress, offset: u8, width: Width, value: u32) {
        if let Some(config) = self.machine.borrow_mut().pci.get_mut(&address) {
            config.write(u64::from(offset), width, u64::from(value));
        }
    }

    fn dma_allocate(&mut self, device: Option<PciAddress>, size: u64) -> Option<u64> {
        let mut machine = self.machine.borrow_mut();
        let in_use = machine
            .dma_in_use
            .checked_add(size)
            .filter(|total| *total <= machine.dma_limit)?;
        let length = usize::try_from(size).ok()?;
        let address = machine.next_dma_address;
        // Page-align the next buffer, as a real allocator would.
        machine.next_dma_address = address.checked_add(size.div_ceil(4096) * 4096)?;
        machine.dma.insert(address, vec![0; length]);
        machine.dma_devices.insert(address, device);
        machine.dma_in_use = in_use;
        machine.accesses.push(Access::DmaAllocate {
            device_address: address,
            size,
        });
        Some(address)
    }

    fn dma_free(&mut self, _device: Option<PciAddress>, device_address: u64, size: u64) {
        let mut machine = self.machine.borrow_mut();
        machine.accesses.push(Access::DmaFree { device_address });
        if machine.loans.contains_key(&device_address) {
            machine.freed_while_lent.insert(device_address, size);
            return;
        }
        machine.dma_devices.remove(&device_address);
        if machine.dma.remove(&device_address).is_some() {
            machine.dma_in_use = machine.dma_in_use.saturating_sub(size);
        }
    }

    fn dma_hold(&mut self, _owner: Option<PciAddress>, device_address: u64, size: u64) -> bool {
        let mut machine = self.machine.borrow_mut();
        let whole = machine
            .dma
            .get(&device_address)
            .is_some_and(|buffer| buffer.len() as u64 >= size);
        if !whole || machine.freed_while_lent.contains_key(&device_address) {
            return false;
        }
        machine
            .loans
            .entry(device_address)
            .or_default()
            .push((None, false));
        true
    }

    fn dma_lend(
        &mut self,
        device: Option<PciAddress>,
        device_address: u64,
        size: u64,
        writable: bool,
    ) -> bool {
        let mut machine = self.machine.borrow_mut();
        let whole = machine
            .dma
            .get(&device_address)
            .is_some_and(|buffer| buffer.len() as u64 >= size);
        let Some(loans) = machine.loans.get_mut(&device_address) else {
            return false;
        };
        // A device holds a buffer with one access at a time.
        let other_access = device.is_some()
            && loans
                .iter()
                .any(|(holder, held)| *holder == device && *held != writable);
        if !whole || other_access {
            return false;
        }
        loans.push((device, writable));
        true
    }

    fn dma_return(&mut self, device: Option<PciAddress>, device_address: u64, _size: u64) {
        let mut machine = self.machine.borrow_mut();
        let Some(loans) = machine.loans.get_mut(&device_address) else {
            return;
        };
        if let Some(position) = loans.iter().position(|(borrower, _)| *borrower == device) {
            loans.remove(position);
        }
        if !loans.is_empty() {
            return;
        }
        machine.loans.remove(&device_address);
        if let Some(size) = machine.freed_while_lent.remove(&device_address) {
            machine.dma_devices.remove(&device_address);
            if machine.dma.remove(&device_address).is_some() {
                machine.dma_in_use = machine.dma_in_use.saturating_sub(size);
            }
        }
    }

    fn dma_read(&mut self, device_address: u64, destination: &mut [u8]) {
        let mut machine = self.machine.borrow_mut();
        if let Some(source) = machine.dma_buffer(device_address, destination.len()) {
            destination.copy_from_slice(source);
        }
        let length = destination.len() as u32;
        machine.accesses.push(Access::DmaCopy {
            device_address,
            length,
            to_device: false,
        });
    }

    fn dma_write(&mut self, device_address: u64, source: &[u8]) {
        let mut machine = self.machine.borrow_mut();
        if let Some(destination) = machine.dma_buffer(device_address, source.len()) {
            destination.copy_from_slice(source);
        }
        let length = source.len() as u32;
        machine.accesses.push(Access::DmaCopy {
            device_address,
            length,
            to_device: true,
        });
    }

    fn now_nanoseconds(&mut self) -> u64 {
        let mut machine = self.machine.borrow_mut();
        let now = machine.now;
        machine.now = now.saturating_add(machine.tick);
        now
    }

    fn log(&mut self, module: &str, level: LogLevel, message: &str) {
        self.machine.borrow_mut().log.push(LogLine {
            module: module.to_string(),
            level,
            message: message.to_string(),
        });
    }
}
