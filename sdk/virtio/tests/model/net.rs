//! The device model's virtio-net part: the transmit queue's registers (the
//! receive queue is queue 0, the model's own), the MAC address and link
//! status, frames the driver sent kept with their headers, and frames
//! delivered into the receive buffers the driver posted. It can be told to
//! write garbage into either used ring.

use super::device::{Device, Garbage};
use super::{ACCESS_PLATFORM, EVENT_INDEX, RING_PACKED, VERSION_1};

pub const NET_MAC: u64 = 1 << 5;
pub const NET_STATUS: u64 = 1 << 16;
pub const NET_CONTROL_QUEUE: u64 = 1 << 17;
pub const NET_CHECKSUM: u64 = 1;
pub const NET_MERGEABLE_BUFFERS: u64 = 1 << 15;

/// What QEMU's virtio-net-pci with `iommu_platform=on` offers, roughly
/// (checksum offload, mergeable buffers and the control queue among it).
pub const NET_OFFERED: u64 = VERSION_1
    | ACCESS_PLATFORM
    | RING_PACKED
    | EVENT_INDEX
    | NET_CHECKSUM
    | NET_MAC
    | NET_MERGEABLE_BUFFERS
    | NET_STATUS
    | NET_CONTROL_QUEUE;

/// The MAC address the model's configuration holds.
pub const MODEL_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// One queue's registers and the device's place in its rings.
#[derive(Default)]
pub struct QueueRegisters {
    pub size_offered: u16,
    pub size: u16,
    pub enabled: bool,
    pub vector: u16,
    pub descriptors: u64,
    pub driver_ring: u64,
    pub device_ring: u64,
    pub available_seen: u16,
    pub used_index: u16,
}

impl QueueRegisters {
    pub fn new(size_offered: u16) -> QueueRegisters {
        QueueRegisters {
            size_offered,
            size: size_offered,
            vector: 0xffff,
            ..QueueRegisters::default()
        }
    }

    pub fn reset(&mut self) {
        *self = QueueRegisters::new(self.size_offered);
    }

    pub fn read(&self, offset: u32) -> u64 {
        match offset {
            0x18 => u64::from(self.size),
            0x1a => u64::from(self.vector),
            0x1c => u64::from(self.enabled),
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u32, value: u64, vector: u16) {
        match offset {
            0x18 => self.size = value as u16,
            0x1a => self.vector = vector,
            0x1c => self.enabled = value == 1,
            0x20 => self.descriptors = self.descriptors & !0xffff_ffff | value,
            0x24 => self.descriptors = self.descriptors & 0xffff_ffff | value << 32,
            0x28 => self.driver_ring = self.driver_ring & !0xffff_ffff | value,
            0x2c => self.driver_ring = self.driver_ring & 0xffff_ffff | value << 32,
            0x30 => self.device_ring = self.device_ring & !0xffff_ffff | value,
            0x34 => self.device_ring = self.device_ring & 0xffff_ffff | value << 32,
            _ => {}
        }
    }
}

/// What a virtio-net function adds to the model.
pub struct Net {
    pub transmit: QueueRegisters,
    pub mac: [u8; 6],
    pub link_up: bool,
    /// Each frame the driver sent, with its 12-byte header.
    pub sent: Vec<Vec<u8>>,
    /// The last receive descriptor head the device used.
    pub last_receive_head: Option<u16>,
}

impl Net {
    pub fn new() -> Net {
        Net {
            transmit: QueueRegisters::new(256),
            mac: MODEL_MAC,
            link_up: true,
            sent: Vec::new(),
            last_receive_head: None,
        }
    }

    pub fn read_config(&self, offset: u32, width: u32) -> u64 {
        match (offset, width) {
            (0..6, 1) => u64::from(self.mac[offset as usize]),
            (6, 2) => u64::from(self.link_up),
            _ => 0,
        }
    }
}

/// A descriptor: address, length, flags, next.
fn descriptor(device: &Device, table: u64, index: u16) -> (u64, u32, u16, u16) {
    let raw = device
        .memory
        .borrow()
        .read(table + 16 * u64::from(index), 16)
        .expect("descriptor inside memory");
    (
        u64::from_le_bytes(raw[0..8].try_into().unwrap()),
        u32::from_le_bytes(raw[8..12].try_into().unwrap()),
        u16::from_le_bytes(raw[12..14].try_into().unwrap()),
        u16::from_le_bytes(raw[14..16].try_into().unwrap()),
    )
}

/// Writes a used entry, as garbage if the device is told to.
fn write_used(
    device: &Device,
    ring: u64,
    size: u16,
    used_index: &mut u16,
    head: u16,
    written: u32,
    repeated: Option<u16>,
) {
    let (id, length, step) = match device.garbage {
        None => (u32::from(head), written, 1),
        Some(Garbage::IndexAhead) => (u32::from(head), written, size + 1),
        Some(Garbage::IdOutOfRange) => (u32::from(size) + 3, written, 1),
        Some(Garbage::IdNotOutstanding) => (u32::from(repeated.unwrap_or(head)), written, 1),
        Some(Garbage::LengthTooLong) => (u32::from(head), 4096, 1),
        Some(Garbage::LengthTooShort) => (u32::from(head), 11, 1),
    };
    let entry = u64::from(*used_index % size);
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&id.to_le_bytes());
    bytes[4..].copy_from_slice(&length.to_le_bytes());
    let mut memory = device.memory.borrow_mut();
    memory.write(ring + 4 + 8 * entry, &bytes);
    *used_index = used_index.wrapping_add(step);
    memory.write(ring + 2, &used_index.to_le_bytes());
}

impl Device {
    /// Takes every new frame off the transmit queue and keeps it.
    pub fn serve_transmit(&mut self) {
        if self.status & 4 == 0 {
            return;
        }
        let Some(net) = self.net.as_ref() else {
            return;
        };
        let queue = &net.transmit;
        if !queue.enabled {
            return;
        }
        let (size, table, driver_ring, device_ring) = (
            queue.size,
            queue.descriptors,
            queue.driver_ring,
            queue.device_ring,
        );
        let mut seen = queue.available_seen;
        let mut used_index = queue.used_index;
        let available = self.memory.borrow().u16_at(driver_ring + 2).unwrap_or(0);
        let mut sent = Vec::new();
        while seen != available {
            let slot = u64::from(seen % size);
            let head = self
                .memory
                .borrow()
                .u16_at(driver_ring + 4 + 2 * slot)
                .unwrap_or(0);
            seen = seen.wrapping_add(1);
            let mut frame = Vec::new();
            let mut index = head;
            for _ in 0..size {
                let (address, length, flags, next) = descriptor(self, table, index);
                let bytes = self.memory.borrow().read(address, length as usize);
                frame.extend(bytes.expect("a frame inside memory"));
                if flags & 1 == 0 {
                    break;
                }
                index = next;
            }
            sent.push(frame);
            write_used(
                self,
                device_ring,
                size,
                &mut used_index,
                head,
                0,
                Some(head + 1),
            );
            self.isr |= 1;
        }
        let net = self.net.as_mut().expect("a net device");
        net.transmit.available_seen = seen;
        net.transmit.used_index = used_index;
        net.sent.extend(sent);
    }

    /// Puts `frame` (after a 12-byte header) into the next receive buffer
    /// the driver posted; false if none is posted.
    pub fn deliver(&mut self, frame: &[u8]) -> bool {
        if self.status & 4 == 0 || !self.queue_enabled {
            return false;
        }
        let size = self.queue_size;
        let Some(available) = self.memory.borrow().u16_at(self.driver_ring + 2) else {
            return false;
        };
        if self.available_seen == available {
            return false;
        }
        let slot = u64::from(self.available_seen % size);
        let head = self
            .memory
            .borrow()
            .u16_at(self.driver_ring + 4 + 2 * slot)
            .unwrap_or(0);
        self.available_seen = self.available_seen.wrapping_add(1);
        let (address, length, flags, _) = descriptor(self, self.descriptors, head);
        assert_eq!(flags & 2, 2, "a receive buffer the device writes");
        let mut bytes = vec![0u8; 12];
        bytes[10] = 1; // num_buffers
        bytes.extend_from_slice(frame);
        assert!(bytes.len() <= length as usize, "the buffer holds the frame");
        self.memory.borrow_mut().write(address, &bytes);
        let repeated = self
            .net
            .as_ref()
            .and_then(|net| net.last_receive_head)
            .or(Some(head));
        let mut used_index = self.used_index;
        write_used(
            self,
            self.device_ring,
            size,
            &mut used_index,
            head,
            bytes.len() as u32,
            repeated,
        );
        self.used_index = used_index;
        if let Some(net) = self.net.as_mut() {
            net.last_receive_head = Some(head);
        }
        self.served += 1;
        self.isr |= 1;
        true
    }
}
