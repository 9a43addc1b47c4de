//! A pure-Rust virtio-blk PCI function for the host tests: a configuration
//! space with the virtio capabilities, one memory BAR holding the common
//! configuration, interrupt status, device configuration and notify
//! structure, DMA memory the driver and the device share by address, and a
//! disk of bytes the device serves requests from. It can be told to write
//! garbage into the used ring.
#![allow(dead_code)]

use cella_abi::ErrorCode;
use cella_virtio::platform::PlatformResult;
use cella_virtio::{ConfigSpace, DmaMemory, DmaRegion, RegisterWindow};
use std::cell::RefCell;
use std::rc::Rc;

pub const BAR: u8 = 4;
pub const COMMON: u32 = 0x0000;
pub const ISR: u32 = 0x1000;
pub const DEVICE: u32 = 0x2000;
pub const NOTIFY: u32 = 0x3000;
pub const NOTIFY_MULTIPLIER: u32 = 4;
pub const SECTOR: usize = 512;

pub const VERSION_1: u64 = 1 << 32;
pub const ACCESS_PLATFORM: u64 = 1 << 33;
pub const RING_PACKED: u64 = 1 << 34;
pub const INDIRECT_DESCRIPTORS: u64 = 1 << 28;
pub const EVENT_INDEX: u64 = 1 << 29;
pub const BLOCK_SEGMENT_MAX: u64 = 1 << 2;
pub const BLOCK_READ_ONLY: u64 = 1 << 5;
pub const BLOCK_FLUSH: u64 = 1 << 9;

/// What QEMU's virtio-blk-pci with `iommu_platform=on` offers, roughly.
pub const OFFERED: u64 = VERSION_1
    | ACCESS_PLATFORM
    | RING_PACKED
    | INDIRECT_DESCRIPTORS
    | EVENT_INDEX
    | BLOCK_SEGMENT_MAX
    | BLOCK_FLUSH;

/// Garbage the device writes into the used ring instead of the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Garbage {
    /// The used index jumps far ahead.
    IndexAhead,
    /// The used id is past the queue's size.
    IdOutOfRange,
    /// The used id names a descriptor that heads no chain (the chain's
    /// second descriptor).
    IdNotOutstanding,
    /// The used length is more than the chain offered.
    LengthTooLong,
}

/// Shared DMA memory: device address -> bytes.
pub struct Memory {
    pub base: u64,
    pub bytes: Vec<u8>,
    pub next: u64,
    pub budget_left: u32,
}

pub type SharedMemory = Rc<RefCell<Memory>>;

impl Memory {
    pub fn read(&self, address: u64, length: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(address.checked_sub(self.base)?).ok()?;
        self.bytes
            .get(start..start.checked_add(length)?)
            .map(<[u8]>::to_vec)
    }

    pub fn write(&mut self, address: u64, bytes: &[u8]) -> bool {
        let Some(start) = address
            .checked_sub(self.base)
            .and_then(|at| usize::try_from(at).ok())
        else {
            return false;
        };
        match self.bytes.get_mut(start..start + bytes.len()) {
            Some(target) => {
                target.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    fn u16_at(&self, address: u64) -> Option<u16> {
        let bytes = self.read(address, 2)?;
        Some(u16::from_le_bytes([bytes[0], bytes[1]]))
    }
}

pub struct FakeDma {
    pub memory: SharedMemory,
}

pub struct FakeBuffer {
    memory: SharedMemory,
    address: u64,
    size: u32,
}

impl DmaMemory for FakeDma {
    type Buffer = FakeBuffer;

    fn allocate(&self, size: u32) -> PlatformResult<FakeBuffer> {
        let mut memory = self.memory.borrow_mut();
        if size == 0 {
            return Err(ErrorCode::BadArgument);
        }
        if size > memory.budget_left {
            return Err(ErrorCode::Exhausted);
        }
        memory.budget_left -= size;
        let address = memory.next;
        memory.next = (address + u64::from(size)).next_multiple_of(4096);
        Ok(FakeBuffer {
            memory: self.memory.clone(),
            address,
            size,
        })
    }
}

impl DmaRegion for FakeBuffer {
    fn size(&self) -> u32 {
        self.size
    }
    fn device_address(&self) -> PlatformResult<u64> {
        Ok(self.address)
    }
    fn write(&self, offset: u32, bytes: &[u8]) -> PlatformResult<()> {
        if offset as usize + bytes.len() > self.size as usize {
            return Err(ErrorCode::Denied);
        }
        self.memory
            .borrow_mut()
            .write(self.address + u64::from(offset), bytes);
        Ok(())
    }
    fn read(&self, offset: u32, destination: &mut [u8]) -> PlatformResult<()> {
        if offset as usize + destination.len() > self.size as usize {
            return Err(ErrorCode::Denied);
        }
        let bytes = self
            .memory
            .borrow()
            .read(self.address + u64::from(offset), destination.len())
            .ok_or(ErrorCode::Denied)?;
        destination.copy_from_slice(&bytes);
        Ok(())
    }
}

/// The device's registers and its disk.
pub struct Device {
    pub memory: SharedMemory,
    pub offered: u64,
    pub keep_features_ok: bool,
    pub device_feature_select: u32,
    pub driver_feature_select: u32,
    pub driver_features: u64,
    pub status: u8,
    pub generation: u8,
    pub queue_select: u16,
    pub queue_size_offered: u16,
    pub queue_size: u16,
    pub queue_enabled: bool,
    pub descriptors: u64,
    pub driver_ring: u64,
    pub device_ring: u64,
    pub isr: u8,
    pub disk: Vec<u8>,
    /// Requests served (each chain the device took off the available ring).
    pub served: usize,
    pub available_seen: u16,
    pub used_index: u16,
    /// When set, notifications are remembered and the device serves only
    /// when [`Model::serve`] is called.
    pub deferred: bool,
    /// The queue's `queue_notify_off`.
    pub notify_off: u16,
    pub garbage: Option<Garbage>,
}

impl Device {
    fn reset(&mut self) {
        self.status = 0;
        self.driver_features = 0;
        self.queue_enabled = false;
        self.queue_size = self.queue_size_offered;
        self.available_seen = 0;
        self.used_index = 0;
        self.isr = 0;
    }

    fn read_common(&mut self, offset: u32, width: u32) -> u64 {
        match (offset, width) {
            (0x00, 4) => u64::from(self.device_feature_select),
            (0x04, 4) => match self.device_feature_select {
                0 => self.offered & 0xffff_ffff,
                1 => self.offered >> 32,
                _ => 0,
            },
            (0x08, 4) => u64::from(self.driver_feature_select),
            (0x12, 2) => 1,
            (0x14, 1) => u64::from(self.status),
            (0x15, 1) => u64::from(self.generation),
            (0x16, 2) => u64::from(self.queue_select),
            (0x18, 2) if self.queue_select == 0 => u64::from(self.queue_size),
            (0x1c, 2) => u64::from(self.queue_enabled),
            (0x1e, 2) => u64::from(self.notify_off),
            _ => 0,
        }
    }

    fn write_common(&mut self, offset: u32, width: u32, value: u64) {
        match (offset, width) {
            (0x00, 4) => self.device_feature_select = value as u32,
            (0x08, 4) => self.driver_feature_select = value as u32,
            (0x0c, 4) => match self.driver_feature_select {
                0 => self.driver_features = self.driver_features & !0xffff_ffff | value,
                1 => self.driver_features = self.driver_features & 0xffff_ffff | value << 32,
                _ => {}
            },
            (0x14, 1) => {
                let value = value as u8;
                if value == 0 {
                    self.reset();
                    return;
                }
                let mut value = value;
                if value & 8 != 0 && self.status & 8 == 0 {
                    let acceptable = self.driver_features & !self.offered == 0
                        && self.driver_features & VERSION_1 != 0;
                    if !acceptable || !self.keep_features_ok {
                        value &= !8;
                    }
                }
                self.status = value;
            }
            (0x16, 2) => self.queue_select = value as u16,
            (0x18, 2) if self.queue_select == 0 => self.queue_size = value as u16,
            (0x1c, 2) if self.queue_select == 0 => self.queue_enabled = value == 1,
            (0x20, 4) => self.descriptors = self.descriptors & !0xffff_ffff | value,
            (0x24, 4) => self.descriptors = self.descriptors & 0xffff_ffff | value << 32,
            (0x28, 4) => self.driver_ring = self.driver_ring & !0xffff_ffff | value,
            (0x2c, 4) => self.driver_ring = self.driver_ring & 0xffff_ffff | value << 32,
            (0x30, 4) => self.device_ring = self.device_ring & !0xffff_ffff | value,
            (0x34, 4) => self.device_ring = self.device_ring & 0xffff_ffff | value << 32,
            _ => {}
        }
    }

    fn read_config(&self, offset: u32, width: u32) -> u64 {
        let capacity = (self.disk.len() / SECTOR) as u64;
        match (offset, width) {
            (0, 4) => capacity & 0xffff_ffff,
            (4, 4) => capacity >> 32,
            _ => 0,
        }
    }

    /// Takes every new chain off the available ring and serves it.
    pub fn serve(&mut self) {
        if self.status & 4 == 0 || !self.queue_enabled {
            return;
        }
        let size = self.queue_size;
        let Some(available) = self.memory.borrow().u16_at(self.driver_ring + 2) else {
            return;
        };
        while self.available_seen != available {
            let slot = u64::from(self.available_seen % size);
            let head = self
                .memory
                .borrow()
                .u16_at(self.driver_ring + 4 + 2 * slot)
                .unwrap_or(0);
            self.available_seen = self.available_seen.wrapping_add(1);
            let (written, second) = self.serve_chain(head);
            self.served += 1;
            let (id, length, index_step) = match self.garbage {
                None => (u32::from(head), written, 1),
                Some(Garbage::IndexAhead) => (u32::from(head), written, size + 1),
                Some(Garbage::IdOutOfRange) => (u32::from(size) + 3, written, 1),
                Some(Garbage::IdNotOutstanding) => (u32::from(second), written, 1),
                Some(Garbage::LengthTooLong) => (u32::from(head), written + 1, 1),
            };
            let entry = u64::from(self.used_index % size);
            let mut bytes = [0u8; 8];
            bytes[..4].copy_from_slice(&id.to_le_bytes());
            bytes[4..].copy_from_slice(&length.to_le_bytes());
            let mut memory = self.memory.borrow_mut();
            memory.write(self.device_ring + 4 + 8 * entry, &bytes);
            self.used_index = self.used_index.wrapping_add(index_step);
            memory.write(self.device_ring + 2, &self.used_index.to_le_bytes());
            self.isr |= 1;
        }
    }

    /// Serves one virtio-blk request; returns the bytes written into the
    /// chain and the chain's second descriptor.
    fn serve_chain(&mut self, head: u16) -> (u32, u16) {
        let mut chain = Vec::new();
        let mut descriptor = head;
        for _ in 0..self.queue_size {
            let raw = self
                .memory
                .borrow()
                .read(self.descriptors + 16 * u64::from(descriptor), 16)
                .expect("descriptor inside memory");
            let address = u64::from_le_bytes(raw[0..8].try_into().unwrap());
            let length = u32::from_le_bytes(raw[8..12].try_into().unwrap());
            let flags = u16::from_le_bytes(raw[12..14].try_into().unwrap());
            let next = u16::from_le_bytes(raw[14..16].try_into().unwrap());
            chain.push((address, length, flags & 2 != 0));
            if flags & 1 == 0 {
                break;
            }
            descriptor = next;
        }
        let second = if chain.len() > 1 { head + 1 } else { head };
        let header = self.memory.borrow().read(chain[0].0, 16).expect("header");
        let kind = u32::from_le_bytes(header[0..4].try_into().unwrap());
        let sector = u64::from_le_bytes(header[8..16].try_into().unwrap()) as usize;
        let (status_address, _, _) = *chain.last().unwrap();
        let mut written = 1;
        let mut status = 0u8;
        match kind {
            0 | 1 if chain.len() == 3 => {
                let (address, length, device_writes) = chain[1];
                let start = sector * SECTOR;
                let end = start + length as usize;
                if end > self.disk.len() {
                    status = 1;
                } else if kind == 0 && device_writes {
                    let data = self.disk[start..end].to_vec();
                    self.memory.borrow_mut().write(address, &data);
                    written += length;
                } else if kind == 1 && !device_writes {
                    let data = self.memory.borrow().read(address, length as usize).unwrap();
                    self.disk[start..end].copy_from_slice(&data);
                } else {
                    status = 1;
                }
            }
            4 if self.offered & BLOCK_FLUSH != 0 => {}
            _ => status = 2,
        }
        self.memory.borrow_mut().write(status_address, &[status]);
        (written, second)
    }
}

/// The configuration space and BAR of the function.
pub struct Model {
    pub config: Rc<RefCell<[u8; 256]>>,
    pub device: Rc<RefCell<Device>>,
    pub memory: SharedMemory,
}

#[derive(Clone)]
pub struct FakeConfig {
    pub config: Rc<RefCell<[u8; 256]>>,
    pub device: Rc<RefCell<Device>>,
}

#[derive(Clone)]
pub struct FakeWindow {
    device: Rc<RefCell<Device>>,
}

impl Model {
    /// A virtio-blk function with `sectors` sectors on its disk, offering
    /// `offered`.
    pub fn new(sectors: usize, offered: u64) -> Model {
        let memory = Rc::new(RefCell::new(Memory {
            base: 0x8000_0000,
            bytes: vec![0; 256 * 1024],
            next: 0x8000_0000,
            budget_left: 64 * 1024,
        }));
        let mut config = [0u8; 256];
        config[0..2].copy_from_slice(&0x1af4u16.to_le_bytes());
        config[2..4].copy_from_slice(&0x1042u16.to_le_bytes());
        config[6] = 0x10; // a capability list
        config[0x34] = 0x40;
        // A power-management capability first, which the walk skips.
        config[0x40] = 0x01;
        config[0x41] = 0x50;
        let capabilities = [
            (0x50, 1, COMMON, 0x38, 0x60),
            (0x60, 3, ISR, 1, 0x70),
            (0x70, 4, DEVICE, 0x40, 0x80),
            (0x80, 2, NOTIFY, 0x1000, 0x00),
        ];
        for (at, kind, offset, length, next) in capabilities {
            let at = at as usize;
            config[at] = 0x09;
            config[at + 1] = next;
            config[at + 2] = if kind == 2 { 20 } else { 16 };
            config[at + 3] = kind;
            config[at + 4] = BAR;
            config[at + 8..at + 12].copy_from_slice(&offset.to_le_bytes());
            config[at + 12..at + 16].copy_from_slice(&(length as u32).to_le_bytes());
            if kind == 2 {
                config[at + 16..at + 20].copy_from_slice(&NOTIFY_MULTIPLIER.to_le_bytes());
            }
        }
        let disk = (0..sectors * SECTOR).map(|at| (at % 251) as u8).collect();
        let device = Device {
            memory: memory.clone(),
            offered,
            keep_features_ok: true,
            device_feature_select: 0,
            driver_feature_select: 0,
            driver_features: 0,
            status: 0,
            generation: 0,
            queue_select: 0,
            queue_size_offered: 256,
            queue_size: 256,
            queue_enabled: false,
            descriptors: 0,
            driver_ring: 0,
            device_ring: 0,
            isr: 0,
            disk,
            served: 0,
            available_seen: 0,
            used_index: 0,
            deferred: false,
            notify_off: 0,
            garbage: None,
        };
        Model {
            config: Rc::new(RefCell::new(config)),
            device: Rc::new(RefCell::new(device)),
            memory,
        }
    }

    pub fn pci(&self) -> FakeConfig {
        FakeConfig {
            config: self.config.clone(),
            device: self.device.clone(),
        }
    }

    pub fn dma(&self) -> FakeDma {
        FakeDma {
            memory: self.memory.clone(),
        }
    }

    /// Serves what a deferred device was notified of.
    pub fn serve(&self) {
        self.device.borrow_mut().serve();
    }

    pub fn status(&self) -> u8 {
        self.device.borrow().status
    }
}

fn aligned(offset: u8, width: u8) -> PlatformResult<usize> {
    if !offset.is_multiple_of(width) {
        return Err(ErrorCode::Misaligned);
    }
    Ok(usize::from(offset))
}

impl ConfigSpace for FakeConfig {
    type Window = FakeWindow;

    fn read8(&self, offset: u8) -> PlatformResult<u8> {
        Ok(self.config.borrow()[usize::from(offset)])
    }
    fn read16(&self, offset: u8) -> PlatformResult<u16> {
        let at = aligned(offset, 2)?;
        let config = self.config.borrow();
        Ok(u16::from_le_bytes([config[at], config[at + 1]]))
    }
    fn read32(&self, offset: u8) -> PlatformResult<u32> {
        let at = aligned(offset, 4)?;
        let config = self.config.borrow();
        Ok(u32::from_le_bytes(config[at..at + 4].try_into().unwrap()))
    }
    fn write16(&self, offset: u8, value: u16) -> PlatformResult<()> {
        let at = aligned(offset, 2)?;
        if (0x10..0x28).contains(&at) || at == 0x30 {
            return Err(ErrorCode::Denied);
        }
        self.config.borrow_mut()[at..at + 2].copy_from_slice(&value.to_le_bytes());
        Ok(())
    }
    fn memory_bar(&self, index: u8) -> PlatformResult<FakeWindow> {
        if index != BAR {
            return Err(ErrorCode::NotFound);
        }
        Ok(FakeWindow {
            device: self.device.clone(),
        })
    }
}

impl FakeWindow {
    fn read(&self, offset: u32, width: u32) -> PlatformResult<u64> {
        if !offset.is_multiple_of(width) {
            return Err(ErrorCode::Misaligned);
        }
        let mut device = self.device.borrow_mut();
        Ok(match offset {
            COMMON..ISR => device.read_common(offset - COMMON, width),
            ISR if width == 1 => u64::from(std::mem::take(&mut device.isr)),
            DEVICE..NOTIFY => device.read_config(offset - DEVICE, width),
            0x3000..0x4000 => 0,
            _ => return Err(ErrorCode::Denied),
        })
    }

    fn write(&self, offset: u32, width: u32, value: u64) -> PlatformResult<()> {
        if !offset.is_multiple_of(width) {
            return Err(ErrorCode::Misaligned);
        }
        let mut device = self.device.borrow_mut();
        match offset {
            COMMON..ISR => device.write_common(offset - COMMON, width, value),
            NOTIFY..0x4000 => {
                if width == 2 && value == 0 && !device.deferred {
                    device.serve();
                }
            }
            ISR..0x4000 => {}
            _ => return Err(ErrorCode::Denied),
        }
        Ok(())
    }
}

impl RegisterWindow for FakeWindow {
    fn read8(&self, offset: u32) -> PlatformResult<u8> {
        Ok(self.read(offset, 1)? as u8)
    }
    fn read16(&self, offset: u32) -> PlatformResult<u16> {
        Ok(self.read(offset, 2)? as u16)
    }
    fn read32(&self, offset: u32) -> PlatformResult<u32> {
        Ok(self.read(offset, 4)? as u32)
    }
    fn read64(&self, offset: u32) -> PlatformResult<u64> {
        self.read(offset, 8)
    }
    fn write8(&self, offset: u32, value: u8) -> PlatformResult<()> {
        self.write(offset, 1, u64::from(value))
    }
    fn write16(&self, offset: u32, value: u16) -> PlatformResult<()> {
        self.write(offset, 2, u64::from(value))
    }
    fn write32(&self, offset: u32, value: u32) -> PlatformResult<()> {
        self.write(offset, 4, u64::from(value))
    }
    fn write64(&self, offset: u32, value: u64) -> PlatformResult<()> {
        self.write(offset, 8, value)
    }
}
