//! A split virtqueue (virtio 1.x, 2.7): the descriptor table, the available
//! ring the driver fills and the used ring the device fills, all in one DMA
//! buffer the driver reaches only by copying.
//!
//! The queue keeps its own copy of everything it told the device (which
//! descriptors chain to which, what each chain offered for writing), so it
//! never follows a pointer the device could have changed; and it checks
//! every value the device writes (the used index and each used entry)
//! before it uses it. The first bad value breaks the queue: it answers
//! [`Error::QueueBroken`] from then on, and the driver resets the device.

use crate::error::Error;
use crate::platform::DmaRegion;

/// The largest queue this driver sets up (the device may offer more).
pub const MAX_QUEUE_SIZE: u16 = 64;

/// The descriptor flag: the chain goes on at `next`.
const DESCRIPTOR_NEXT: u16 = 1;
/// The descriptor flag: the device writes this buffer (else it reads it).
const DESCRIPTOR_WRITE: u16 = 2;
const DESCRIPTOR_BYTES: u32 = 16;
/// The descriptor table must start on 16 bytes.
const DESCRIPTOR_ALIGNMENT: u64 = 16;

/// One buffer of a chain, as the device sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Its device address.
    pub address: u64,
    /// Its length in bytes (not zero).
    pub length: u32,
    /// Whether the device writes it (else it reads it).
    pub device_writes: bool,
}

/// A chain the device has finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Used {
    /// The chain's head, as [`SplitQueue::submit`] returned it.
    pub head: u16,
    /// How many bytes the device says it wrote into the chain's writable
    /// buffers (checked against what they offered).
    pub written: u32,
}

/// A chain in flight: how many descriptors, and how many bytes it offers
/// the device for writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chain {
    descriptors: u16,
    offered: u32,
}

/// Where the rings lie in the queue's buffer, for `size` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingLayout {
    /// The available ring's offset (after the descriptor table).
    pub available: u32,
    /// The used ring's offset (aligned to 4).
    pub used: u32,
    /// The bytes the three parts take.
    pub total: u32,
}

impl RingLayout {
    /// The layout of a queue of `size` entries.
    pub const fn new(size: u16) -> RingLayout {
        let size = size as u32;
        let available = DESCRIPTOR_BYTES * size;
        // flags, idx, ring[size], used_event
        let used = (available + 4 + 2 * size + 2).next_multiple_of(4);
        // flags, idx, ring[size] of (id, len), avail_event
        let total = used + 4 + 8 * size + 2;
        RingLayout {
            available,
            used,
            total,
        }
    }
}

/// A split virtqueue in a DMA buffer.
pub struct SplitQueue<B> {
    buffer: B,
    base: u64,
    index: u16,
    size: u16,
    layout: RingLayout,
    notify_offset: u32,
    next: [u16; MAX_QUEUE_SIZE as usize],
    free_head: u16,
    free_count: u16,
    chains: [Option<Chain>; MAX_QUEUE_SIZE as usize],
    available_index: u16,
    used_seen: u16,
    broken: bool,
}

impl<B: DmaRegion> SplitQueue<B> {
    /// A queue of `size` entries (a power of two, at most
    /// [`MAX_QUEUE_SIZE`]) in `buffer`, which is cleared; `index` and
    /// `notify_offset` say how the device is told about new work.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if the rings do not fit `buffer` or it does
    /// not start on 16 bytes, [`Error::NoSuchQueue`] for a size that is not a
    /// power of two up to the limit, or a refused DMA call.
    pub fn new(buffer: B, index: u16, size: u16, notify_offset: u32) -> Result<Self, Error> {
        if !size.is_power_of_two() || size > MAX_QUEUE_SIZE {
            return Err(Error::NoSuchQueue { index });
        }
        let layout = RingLayout::new(size);
        let base = buffer.device_address()?;
        if buffer.size() < layout.total || base % DESCRIPTOR_ALIGNMENT != 0 {
            return Err(Error::BufferTooSmall);
        }
        let zeros = [0u8; 64];
        let mut offset = 0;
        while offset < layout.total {
            let length = (layout.total - offset).min(zeros.len() as u32);
            buffer.write(offset, &zeros[..length as usize])?;
            offset += length;
        }
        let mut next = [0; MAX_QUEUE_SIZE as usize];
        for (descriptor, slot) in next.iter_mut().enumerate() {
            *slot = descriptor as u16 + 1;
        }
        Ok(SplitQueue {
            buffer,
            base,
            index,
            size,
            layout,
            notify_offset,
            next,
            free_head: 0,
            free_count: size,
            chains: [None; MAX_QUEUE_SIZE as usize],
            available_index: 0,
            used_seen: 0,
            broken: false,
        })
    }

    /// The queue's index on its device.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// How many entries it has.
    pub fn size(&self) -> u16 {
        self.size
    }

    /// Where its notification is written, inside the notify structure.
    pub fn notify_offset(&self) -> u32 {
        self.notify_offset
    }

    /// The device addresses of the descriptor table, the available
    /// (driver) ring and the used (device) ring.
    pub fn addresses(&self) -> (u64, u64, u64) {
        (
            self.base,
            self.base + u64::from(self.layout.available),
            self.base + u64::from(self.layout.used),
        )
    }

    /// Descriptors not in any chain in flight.
    pub fn free_descriptors(&self) -> u16 {
        self.free_count
    }

    /// Whether device garbage broke the queue.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Puts a chain of `segments` on the available ring; returns its head,
    /// which [`SplitQueue::next_used`] names when the device is done. The
    /// device learns of it when it is notified.
    ///
    /// # Errors
    /// [`Error::EmptyChain`], [`Error::QueueFull`], [`Error::QueueBroken`],
    /// or a refused DMA call.
    pub fn submit(&mut self, segments: &[Segment]) -> Result<u16, Error> {
        if self.broken {
            return Err(Error::QueueBroken);
        }
        if segments.is_empty() || segments.iter().any(|segment| segment.length == 0) {
            return Err(Error::EmptyChain);
        }
        if segments.len() > usize::from(self.free_count) {
            return Err(Error::QueueFull);
        }
        let head = self.free_head;
        let mut descriptor = head;
        let mut offered: u32 = 0;
        for (position, segment) in segments.iter().enumerate() {
            let last = position + 1 == segments.len();
            let next = self.next[usize::from(descriptor)];
            let mut flags = 0;
            if !last {
                flags |= DESCRIPTOR_NEXT;
            }
            if segment.device_writes {
                flags |= DESCRIPTOR_WRITE;
                offered = offered.saturating_add(segment.length);
            }
            let mut bytes = [0u8; DESCRIPTOR_BYTES as usize];
            bytes[0..8].copy_from_slice(&segment.address.to_le_bytes());
            bytes[8..12].copy_from_slice(&segment.length.to_le_bytes());
            bytes[12..14].copy_from_slice(&flags.to_le_bytes());
            bytes[14..16].copy_from_slice(&(if last { 0 } else { next }).to_le_bytes());
            self.buffer
                .write(u32::from(descriptor) * DESCRIPTOR_BYTES, &bytes)?;
            if !last {
                descriptor = next;
            }
        }
        let count = segments.len() as u16;
        self.free_head = self.next[usize::from(descriptor)];
        self.free_count -= count;
        self.chains[usize::from(head)] = Some(Chain {
            descriptors: count,
            offered,
        });
        let slot = self.available_index % self.size;
        self.buffer.write(
            self.layout.available + 4 + 2 * u32::from(slot),
            &head.to_le_bytes(),
        )?;
        self.available_index = self.available_index.wrapping_add(1);
        self.buffer.write(
            self.layout.available + 2,
            &self.available_index.to_le_bytes(),
        )?;
        Ok(head)
    }

    /// The next chain the device finished, if any, after checking what the
    /// device wrote: the used index may run ahead by at most the queue's
    /// size, the entry must name the head of a chain in flight, and its
    /// length may not pass what the chain offered.
    ///
    /// # Errors
    /// [`Error::UsedIndexAhead`], [`Error::UsedIdOutOfRange`],
    /// [`Error::UsedIdNotOutstanding`], [`Error::UsedLengthTooLong`] (each
    /// breaks the queue), [`Error::QueueBroken`], or a refused DMA call.
    pub fn next_used(&mut self) -> Result<Option<Used>, Error> {
        if self.broken {
            return Err(Error::QueueBroken);
        }
        let mut index = [0u8; 2];
        self.buffer.read(self.layout.used + 2, &mut index)?;
        let ahead = u16::from_le_bytes(index).wrapping_sub(self.used_seen);
        if ahead == 0 {
            return Ok(None);
        }
        if ahead > self.size {
            return Err(self.break_with(Error::UsedIndexAhead { ahead }));
        }
        let slot = self.used_seen % self.size;
        let mut entry = [0u8; 8];
        self.buffer
            .read(self.layout.used + 4 + 8 * u32::from(slot), &mut entry)?;
        let id = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let written = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
        if id >= u32::from(self.size) {
            return Err(self.break_with(Error::UsedIdOutOfRange { id }));
        }
        let head = id as u16;
        let Some(chain) = self.chains[usize::from(head)] else {
            return Err(self.break_with(Error::UsedIdNotOutstanding { id }));
        };
        if written > chain.offered {
            return Err(self.break_with(Error::UsedLengthTooLong {
                id,
                written,
                offered: chain.offered,
            }));
        }
        self.chains[usize::from(head)] = None;
        let mut last = head;
        for _ in 1..chain.descriptors {
            last = self.next[usize::from(last)];
        }
        self.next[usize::from(last)] = self.free_head;
        self.free_head = head;
        self.free_count += chain.descriptors;
        self.used_seen = self.used_seen.wrapping_add(1);
        Ok(Some(Used { head, written }))
    }

    fn break_with(&mut self, error: Error) -> Error {
        self.broken = true;
        error
    }
}
