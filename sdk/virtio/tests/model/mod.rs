//! A pure-Rust virtio-blk PCI function for the host tests: a configuration
//! space with the virtio capabilities, one memory BAR holding the common
//! configuration, interrupt status, device configuration and notify
//! structure, DMA memory the driver and the device share by address, and a
//! disk of bytes the device serves requests from. It can be told to write
//! garbage into the used ring.
// Each test crate uses a part of the model.
#![allow(dead_code, unused_imports)]

mod device;
mod memory;
mod net;

pub use device::{Device, Garbage};
pub use memory::{FakeBuffer, FakeDma, Memory, SharedMemory};
pub use net::*;

use cella_abi::ErrorCode;
use cella_virtio::platform::PlatformResult;
use cella_virtio::{ConfigSpace, RegisterWindow};
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
            generation_changes: 0,
            capacity_reads: 0,
            msix_entries: 2,
            config_vector: 0xffff,
            queue_vector: 0xffff,
            net: None,
        };
        Model {
            config: Rc::new(RefCell::new(config)),
            device: Rc::new(RefCell::new(device)),
            memory,
        }
    }

    /// A virtio-net function (1af4:1041) offering `offered`, with a MAC
    /// address and the link up, whose DMA budget fits the driver.
    pub fn net(offered: u64) -> Model {
        let model = Model::new(0, offered);
        model.config.borrow_mut()[2..4].copy_from_slice(&0x1041u16.to_le_bytes());
        model.memory.borrow_mut().budget_left = 96 * 1024;
        model.device.borrow_mut().net = Some(Net::new());
        model
    }

    /// Delivers `frame` into the next receive buffer posted; false if the
    /// driver posted none.
    pub fn deliver(&self, frame: &[u8]) -> bool {
        self.device.borrow_mut().deliver(frame)
    }

    /// Sends what a deferred net device was notified of.
    pub fn transmit(&self) {
        self.device.borrow_mut().serve_transmit();
    }

    /// The frames a net device was given to send, each with its header.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.device
            .borrow()
            .net
            .as_ref()
            .map(|net| net.sent.clone())
            .unwrap_or_default()
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
            NOTIFY..0x4000 => match (width, value) {
                (2, 0) if !device.deferred && device.net.is_none() => device.serve(),
                (2, 1) if !device.deferred => device.serve_transmit(),
                _ => {}
            },
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
