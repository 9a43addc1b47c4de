//! A modern virtio-net PCI function (1af4:1041): a configuration space whose vendor
//! capabilities place the common configuration, interrupt status, device configuration (MAC
//! and link status) and notify structure in memory BAR 4, and the registers behind them. The
//! model does not move frames itself (it cannot reach DMA memory); a test reads the rings the
//! driver set up through the platform's DMA and checks what the driver put there.

use cella_wasm_host::{Bar, Device, PciFunction, Width, abi::PciAddress};
use std::cell::RefCell;
use std::rc::Rc;

/// Where the function sits, and its BAR 4.
pub const VIRTIO_NET_ADDRESS: PciAddress = PciAddress {
    bus: 0,
    device: 3,
    function: 0,
};
/// The physical base of BAR 4.
pub const VIRTIO_NET_BAR_BASE: u64 = 0xfe00_4000;
/// BAR 4's length: common configuration, ISR, device configuration, notify.
pub const VIRTIO_NET_BAR_LENGTH: u64 = 0x4000;
const COMMON: u64 = 0x0000;
const ISR: u64 = 0x1000;
const DEVICE: u64 = 0x2000;
const NOTIFY: u64 = 0x3000;
const NOTIFY_MULTIPLIER: u32 = 4;
/// The features offered: VERSION_1, ACCESS_PLATFORM, MAC, STATUS, and checksum offload
/// and the control queue, which the driver must refuse.
pub const VIRTIO_NET_OFFERED: u64 = 1 << 32 | 1 << 33 | 1 << 5 | 1 << 16 | 1 | 1 << 17;

/// One queue's registers.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueRegisters {
    /// The size the driver chose.
    pub size: u16,
    /// Whether the driver enabled it.
    pub enabled: bool,
    /// The descriptor table's, driver ring's and device ring's addresses.
    pub descriptors: u64,
    /// The available ring.
    pub driver_ring: u64,
    /// The used ring.
    pub device_ring: u64,
}

#[derive(Debug, Default)]
struct State {
    config: Vec<u8>,
    mac: [u8; 6],
    device_feature_select: u32,
    driver_feature_select: u32,
    driver_features: u64,
    status: u8,
    queue_select: u16,
    queues: [QueueRegisters; 2],
    notified: Vec<u16>,
}

/// A virtio-net function: attach [`VirtioNet::config_space`] with `attach_pci` and
/// [`VirtioNet::registers`] with `attach_mmio` at [`VIRTIO_NET_BAR_BASE`].
#[derive(Clone, Debug)]
pub struct VirtioNet {
    state: Rc<RefCell<State>>,
    is_config: bool,
}

impl VirtioNet {
    /// A card with MAC address `mac`.
    pub fn new(mac: [u8; 6]) -> VirtioNet {
        let mut config = vec![0u8; 256];
        config[0..2].copy_from_slice(&0x1af4u16.to_le_bytes());
        config[2..4].copy_from_slice(&0x1041u16.to_le_bytes());
        config[6] = 0x10; // a capability list
        config[0x34] = 0x50;
        let capabilities: [(usize, u8, u64, u32, u8); 4] = [
            (0x50, 1, COMMON, 0x38, 0x60),
            (0x60, 3, ISR, 1, 0x70),
            (0x70, 4, DEVICE, 0x10, 0x80),
            (0x80, 2, NOTIFY, 0x1000, 0x00),
        ];
        for (at, kind, offset, length, next) in capabilities {
            config[at] = 0x09;
            config[at + 1] = next;
            config[at + 2] = if kind == 2 { 20 } else { 16 };
            config[at + 3] = kind;
            config[at + 4] = 4;
            config[at + 8..at + 12].copy_from_slice(&(offset as u32).to_le_bytes());
            config[at + 12..at + 16].copy_from_slice(&length.to_le_bytes());
            if kind == 2 {
                config[at + 16..at + 20].copy_from_slice(&NOTIFY_MULTIPLIER.to_le_bytes());
            }
        }
        VirtioNet {
            state: Rc::new(RefCell::new(State {
                config,
                mac,
                ..State::default()
            })),
            is_config: false,
        }
    }

    /// The function as the grant names it: its ids and BAR 4.
    pub fn function() -> PciFunction {
        let mut function = PciFunction::unresolved(0x1af4, 0x1041, Some(VIRTIO_NET_ADDRESS));
        function.bars[4] = Some(Bar::Memory {
            base: VIRTIO_NET_BAR_BASE,
            length: VIRTIO_NET_BAR_LENGTH,
        });
        function
    }

    /// The configuration-space side.
    pub fn config_space(&self) -> VirtioNet {
        VirtioNet {
            state: self.state.clone(),
            is_config: true,
        }
    }

    /// The BAR side.
    pub fn registers(&self) -> VirtioNet {
        VirtioNet {
            state: self.state.clone(),
            is_config: false,
        }
    }

    /// The device status the driver wrote last.
    pub fn status(&self) -> u8 {
        self.state.borrow().status
    }

    /// The features the driver accepted.
    pub fn driver_features(&self) -> u64 {
        self.state.borrow().driver_features
    }

    /// Queue `index`'s registers.
    pub fn queue(&self, index: usize) -> QueueRegisters {
        self.state.borrow().queues[index]
    }

    /// The queues the driver notified, in order.
    pub fn notified(&self) -> Vec<u16> {
        self.state.borrow().notified.clone()
    }

    fn read_common(state: &mut State, offset: u64) -> u64 {
        let queue = state.queues.get(usize::from(state.queue_select)).copied();
        match offset {
            0x00 => u64::from(state.device_feature_select),
            0x04 => match state.device_feature_select {
                0 => VIRTIO_NET_OFFERED & 0xffff_ffff,
                1 => VIRTIO_NET_OFFERED >> 32,
                _ => 0,
            },
            0x08 => u64::from(state.driver_feature_select),
            0x10 | 0x1a => 0xffff, // no MSI-X vectors
            0x12 => 2,
            0x14 => u64::from(state.status),
            0x18 => queue.map_or(0, |queue| {
                u64::from(if queue.size == 0 { 256 } else { queue.size })
            }),
            0x1c => queue.map_or(0, |queue| u64::from(queue.enabled)),
            _ => 0,
        }
    }

    fn write_common(state: &mut State, offset: u64, value: u64) {
        let select = usize::from(state.queue_select);
        match offset {
            0x00 => state.device_feature_select = value as u32,
            0x08 => state.driver_feature_select = value as u32,
            0x0c => match state.driver_feature_select {
                0 => state.driver_features = state.driver_features & !0xffff_ffff | value,
                1 => state.driver_features = state.driver_features & 0xffff_ffff | value << 32,
                _ => {}
            },
            0x14 => {
                state.status = value as u8;
                if value == 0 {
                    state.queues = [QueueRegisters::default(); 2];
                    state.driver_features = 0;
                }
            }
            0x16 => state.queue_select = value as u16,
            _ => {
                let Some(queue) = state.queues.get_mut(select) else {
                    return;
                };
                match offset {
                    0x18 => queue.size = value as u16,
                    0x1c => queue.enabled = value == 1,
                    0x20 => queue.descriptors = queue.descriptors & !0xffff_ffff | value,
                    0x24 => queue.descriptors = queue.descriptors & 0xffff_ffff | value << 32,
                    0x28 => queue.driver_ring = queue.driver_ring & !0xffff_ffff | value,
                    0x2c => queue.driver_ring = queue.driver_ring & 0xffff_ffff | value << 32,
                    0x30 => queue.device_ring = queue.device_ring & !0xffff_ffff | value,
                    0x34 => queue.device_ring = queue.device_ring & 0xffff_ffff | value << 32,
                    _ => {}
                }
            }
        }
    }
}

impl Device for VirtioNet {
    fn read(&mut self, offset: u64, width: Width) -> u64 {
        let mut state = self.state.borrow_mut();
        let bytes = width.bytes() as usize;
        if self.is_config {
            let at = offset as usize;
            let mut value = 0u64;
            for (shift, byte) in state
                .config
                .get(at..at + bytes)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                value |= u64::from(*byte) << (8 * shift);
            }
            return value;
        }
        match offset {
            COMMON..ISR => Self::read_common(&mut state, offset - COMMON),
            ISR => 0,
            DEVICE..NOTIFY => match offset - DEVICE {
                at @ 0..6 => u64::from(state.mac[at as usize]),
                6 => 1, // the link is up
                _ => 0,
            },
            _ => 0,
        }
    }

    fn write(&mut self, offset: u64, width: Width, value: u64) {
        let mut state = self.state.borrow_mut();
        if self.is_config {
            let at = offset as usize;
            let bytes = width.bytes() as usize;
            if let Some(target) = state.config.get_mut(at..at + bytes) {
                target.copy_from_slice(&value.to_le_bytes()[..bytes]);
            }
            return;
        }
        match offset {
            COMMON..ISR => Self::write_common(&mut state, offset - COMMON, value),
            NOTIFY..VIRTIO_NET_BAR_LENGTH => state.notified.push(value as u16),
            _ => {}
        }
    }
}
