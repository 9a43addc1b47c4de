//! The device model's registers (common configuration, device
//! configuration) and its virtio-blk request handling on a disk of bytes.

use super::memory::SharedMemory;
use super::net::Net;
use super::{BLOCK_FLUSH, SECTOR, VERSION_1};

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
    /// The used length is less than a virtio-net header.
    LengthTooShort,
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
    /// Reads of the capacity's first half during which the configuration
    /// generation changes, and how many reads there were.
    pub generation_changes: u32,
    pub capacity_reads: u32,
    /// MSI-X table entries: a vector at or past this is refused (read back
    /// as no vector, 0xffff), as QEMU's virtio-pci does.
    pub msix_entries: u16,
    /// `msix_config` and queue 0's `queue_msix_vector`.
    pub config_vector: u16,
    pub queue_vector: u16,
    /// The virtio-net part, for a virtio-net function.
    pub net: Option<Net>,
}

impl Device {
    pub fn reset(&mut self) {
        self.status = 0;
        self.driver_features = 0;
        self.queue_enabled = false;
        self.queue_size = self.queue_size_offered;
        self.available_seen = 0;
        self.used_index = 0;
        self.isr = 0;
        self.config_vector = 0xffff;
        self.queue_vector = 0xffff;
        if let Some(net) = self.net.as_mut() {
            net.transmit.reset();
            net.sent.clear();
            net.last_receive_head = None;
        }
    }

    /// A vector as the device takes it: in the table, else no vector.
    fn vector(&self, value: u64) -> u16 {
        let vector = value as u16;
        if vector < self.msix_entries {
            vector
        } else {
            0xffff
        }
    }

    /// The transmit queue's registers, when queue 1 of a net device is
    /// selected and `offset` is one of a queue's.
    fn transmit_selected(&mut self, offset: u32) -> Option<&mut super::net::QueueRegisters> {
        if self.queue_select != 1 || !(0x18..0x38).contains(&offset) {
            return None;
        }
        self.net.as_mut().map(|net| &mut net.transmit)
    }

    pub fn read_common(&mut self, offset: u32, width: u32) -> u64 {
        if let Some(queue) = self.transmit_selected(offset) {
            return queue.read(offset);
        }
        match (offset, width) {
            (0x00, 4) => u64::from(self.device_feature_select),
            (0x04, 4) => match self.device_feature_select {
                0 => self.offered & 0xffff_ffff,
                1 => self.offered >> 32,
                _ => 0,
            },
            (0x08, 4) => u64::from(self.driver_feature_select),
            (0x10, 2) => u64::from(self.config_vector),
            (0x12, 2) => 1 + u64::from(self.net.is_some()),
            (0x14, 1) => u64::from(self.status),
            (0x15, 1) => u64::from(self.generation),
            (0x16, 2) => u64::from(self.queue_select),
            (0x18, 2) if self.queue_select == 0 => u64::from(self.queue_size),
            (0x1a, 2) if self.queue_select == 0 => u64::from(self.queue_vector),
            (0x1c, 2) => u64::from(self.queue_enabled),
            (0x1e, 2) => u64::from(self.notify_off),
            _ => 0,
        }
    }

    pub fn write_common(&mut self, offset: u32, width: u32, value: u64) {
        let vector = self.vector(value);
        if let Some(queue) = self.transmit_selected(offset) {
            queue.write(offset, value, vector);
            return;
        }
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
            (0x10, 2) => self.config_vector = self.vector(value),
            (0x16, 2) => self.queue_select = value as u16,
            (0x1a, 2) if self.queue_select == 0 => self.queue_vector = self.vector(value),
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

    pub fn read_config(&mut self, offset: u32, width: u32) -> u64 {
        if let Some(net) = &self.net {
            return net.read_config(offset, width);
        }
        if offset == 0 {
            self.capacity_reads += 1;
            if self.generation_changes > 0 {
                self.generation_changes -= 1;
                self.generation = self.generation.wrapping_add(1);
            }
        }
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
                Some(Garbage::LengthTooShort) => (u32::from(head), 0, 1),
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
