//! virtio-blk (virtio 1.x, 5.2) on the transport: one request queue, a
//! fixed number of requests in flight, each in its own slot of one DMA
//! buffer (a 16-byte header, the data, a status byte).
//!
//! Requests are checked before they reach the device: sectors past the
//! capacity, more bytes than a slot holds, data that is not whole sectors,
//! writes to a read-only disk and a slot already in use are refused.

use crate::error::Error;
use crate::platform::{ConfigSpace, DmaMemory, DmaRegion, RegisterWindow};
use crate::queue::{RingLayout, Segment, SplitQueue};
use crate::transport::Transport;

/// The unit of `sector` and of the capacity: always 512 bytes in virtio-blk.
pub const SECTOR_BYTES: u32 = 512;
/// Requests in flight at once; a request beyond them is refused as busy.
pub const REQUESTS_IN_FLIGHT: usize = 4;
/// The most bytes one request into or from a caller's buffer moves (see
/// [`Disk::submit_read_into`]).
pub const LARGEST_LENT_TRANSFER: u32 = 64 * 1024;
/// The request queue's size: three descriptors a request.
pub const QUEUE_SIZE: u16 = 16;

/// virtio-blk feature bits this driver takes when offered.
pub mod feature {
    /// The disk is read-only.
    pub const READ_ONLY: u64 = 1 << 5;
    /// The device takes flush requests.
    pub const FLUSH: u64 = 1 << 9;
}

/// Request types.
const TYPE_IN: u32 = 0;
const TYPE_OUT: u32 = 1;
const TYPE_FLUSH: u32 = 4;
/// Status bytes the device writes.
const STATUS_OK: u8 = 0;
const STATUS_UNSUPPORTED: u8 = 2;
/// A byte the device never writes as status, put there before each request.
const STATUS_UNWRITTEN: u8 = 0xff;
const HEADER_BYTES: u32 = 16;
/// The device configuration's `capacity` field (512-byte sectors).
const CONFIG_CAPACITY: u32 = 0;

/// Why a request was not given to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The sectors lie past the end of the disk.
    OutOfRange,
    /// More bytes than one request carries.
    TooLong,
    /// No bytes, or not a whole number of sectors.
    BadLength,
    /// A write to a read-only disk.
    ReadOnly,
    /// The device does not take the request (a flush without the flush
    /// feature).
    Unsupported,
    /// The slot is in use, or out of range.
    Busy,
    /// The queue or the platform failed.
    Device(Error),
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal::Device(error)
    }
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Reads sectors into the slot.
    Read,
    /// Writes sectors from the slot.
    Write,
    /// Makes earlier writes durable.
    Flush,
}

/// How the device finished a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; for a read, the slot holds the data.
    Done,
    /// The device reports an error, or wrote less than the request needs.
    DeviceError,
    /// The device does not know the request.
    Unsupported,
}

/// A finished request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The slot it was submitted in.
    pub slot: usize,
    /// What it did.
    pub kind: Kind,
    /// How it ended.
    pub outcome: Outcome,
    /// The bytes it moved (the data of a read or write).
    pub bytes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    head: u16,
    kind: Kind,
    bytes: u32,
    /// Where in the slots' buffer the device writes the status byte.
    status: u32,
}

/// A started virtio-blk device.
pub struct Disk<W, B> {
    transport: Transport<W>,
    queue: SplitQueue<B>,
    slots: B,
    slot_stride: u32,
    largest_transfer: u32,
    pending: [Option<Pending>; REQUESTS_IN_FLIGHT],
    capacity: u64,
    features: u64,
    msix_entry: Option<u16>,
}

impl<W: RegisterWindow, B: DmaRegion> Disk<W, B> {
    /// Brings the device up: the transport's handshake (taking read-only
    /// and flush when offered), the capacity, the request queue and one
    /// DMA buffer with [`REQUESTS_IN_FLIGHT`] slots of `largest_transfer`
    /// bytes (a multiple of [`SECTOR_BYTES`]), then `DRIVER_OK`.
    ///
    /// # Errors
    /// The transport's, the queue's, or a refused allocation; the device is
    /// told `FAILED` if the handshake had begun.
    pub fn start<C, D>(config: &C, dma: &D, largest_transfer: u32) -> Result<Self, Error>
    where
        C: ConfigSpace<Window = W>,
        D: DmaMemory<Buffer = B>,
    {
        Self::start_with_msix(config, dma, largest_transfer, None)
    }

    /// [`Disk::start`], with the request queue's interrupt pointed at MSI-X
    /// table entry `msix_entry` (if given) before `DRIVER_OK`; whether the
    /// device took it is [`Disk::msix_entry`] (if not, it raises INTx).
    ///
    /// # Errors
    /// As for [`Disk::start`].
    pub fn start_with_msix<C, D>(
        config: &C,
        dma: &D,
        largest_transfer: u32,
        msix_entry: Option<u16>,
    ) -> Result<Self, Error>
    where
        C: ConfigSpace<Window = W>,
        D: DmaMemory<Buffer = B>,
    {
        let transport = Transport::new(config)?;
        let features = transport.begin(0, feature::READ_ONLY | feature::FLUSH)?;
        let started = Self::start_queue(transport, dma, largest_transfer, features, msix_entry);
        started.map_err(|(transport, error)| {
            transport.fail();
            error
        })
    }

    fn start_queue<D: DmaMemory<Buffer = B>>(
        transport: Transport<W>,
        dma: &D,
        largest_transfer: u32,
        features: u64,
        msix_entry: Option<u16>,
    ) -> Result<Self, (Transport<W>, Error)> {
        let capacity = match transport.read_device_config(|config| config.read64(CONFIG_CAPACITY)) {
            Ok(capacity) => capacity,
            Err(error) => return Err((transport, error)),
        };
        let slot_stride = (HEADER_BYTES + largest_transfer + 1).next_multiple_of(16);
        let ring_bytes = RingLayout::new(QUEUE_SIZE).total;
        let buffers = dma.allocate(ring_bytes).and_then(|ring| {
            let slots = dma.allocate(slot_stride * REQUESTS_IN_FLIGHT as u32)?;
            Ok((ring, slots))
        });
        let (ring, slots) = match buffers {
            Ok(buffers) => buffers,
            Err(code) => return Err((transport, Error::Platform(code))),
        };
        let queue = match transport.setup_queue(0, ring, QUEUE_SIZE) {
            Ok(queue) => queue,
            Err(error) => return Err((transport, error)),
        };
        let msix_entry = match msix_entry.map(|entry| transport.set_queue_vector(0, entry)) {
            None | Some(Ok(false)) => None,
            Some(Ok(true)) => msix_entry,
            Some(Err(error)) => return Err((transport, error)),
        };
        if let Err(error) = transport.driver_ok() {
            return Err((transport, error));
        }
        Ok(Disk {
            transport,
            queue,
            slots,
            slot_stride,
            largest_transfer,
            pending: [None; REQUESTS_IN_FLIGHT],
            capacity,
            features,
            msix_entry,
        })
    }

    /// The MSI-X table entry the request queue's interrupt goes to, if the
    /// device took one at the start (else it raises INTx).
    pub fn msix_entry(&self) -> Option<u16> {
        self.msix_entry
    }

    /// Takes the queue's MSI-X vector away (the kernel gave none for the
    /// entry): the device raises INTx from then on.
    ///
    /// # Errors
    /// A refused register access.
    pub fn drop_msix(&mut self) -> Result<(), Error> {
        self.msix_entry = None;
        self.transport
            .set_queue_vector(0, crate::transport::NO_VECTOR)?;
        Ok(())
    }

    /// The disk's size in 512-byte sectors.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Whether the device refuses writes.
    pub fn read_only(&self) -> bool {
        self.features & feature::READ_ONLY != 0
    }

    /// The features the driver accepted.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The most bytes one request moves.
    pub fn largest_transfer(&self) -> u32 {
        self.largest_transfer
    }

    /// A slot with no request in flight.
    pub fn free_slot(&self) -> Option<usize> {
        self.pending.iter().position(Option::is_none)
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.pending
            .iter()
            .filter(|pending| pending.is_some())
            .count()
    }

    /// The transport, for the interrupt status and the like.
    pub fn transport(&self) -> &Transport<W> {
        &self.transport
    }

    /// Checks that `bytes` bytes from `sector` are a request the disk takes
    /// in the slot's own data.
    fn check(&self, slot: usize, sector: u64, bytes: u32) -> Result<(), Refusal> {
        self.check_within(slot, sector, bytes, self.largest_transfer)
    }

    /// Checks that `bytes` bytes (at most `largest`) from `sector` are a
    /// request the disk takes.
    fn check_within(
        &self,
        slot: usize,
        sector: u64,
        bytes: u32,
        largest: u32,
    ) -> Result<(), Refusal> {
        if self.pending.get(slot) != Some(&None) {
            return Err(Refusal::Busy);
        }
        if bytes == 0 || !bytes.is_multiple_of(SECTOR_BYTES) {
            return Err(Refusal::BadLength);
        }
        if bytes > largest {
            return Err(Refusal::TooLong);
        }
        let end = sector.checked_add(u64::from(bytes / SECTOR_BYTES));
        if end.is_none_or(|end| end > self.capacity) {
            return Err(Refusal::OutOfRange);
        }
        Ok(())
    }

    /// Reads `count` sectors from `sector` into `slot`.
    ///
    /// # Errors
    /// A [`Refusal`]; nothing reached the device then.
    pub fn submit_read(&mut self, slot: usize, sector: u64, count: u32) -> Result<(), Refusal> {
        let bytes = count.checked_mul(SECTOR_BYTES).ok_or(Refusal::TooLong)?;
        self.check(slot, sector, bytes)?;
        self.submit(slot, TYPE_IN, sector, Kind::Read, bytes)
    }

    /// Writes `data` (whole sectors) at `sector` through `slot`.
    ///
    /// # Errors
    /// A [`Refusal`]; nothing reached the device then.
    pub fn submit_write(&mut self, slot: usize, sector: u64, data: &[u8]) -> Result<(), Refusal> {
        let bytes = u32::try_from(data.len()).map_err(|_| Refusal::TooLong)?;
        self.check(slot, sector, bytes)?;
        if self.read_only() {
            return Err(Refusal::ReadOnly);
        }
        self.slots
            .write(self.data_offset(slot), data)
            .map_err(Error::from)?;
        self.submit(slot, TYPE_OUT, sector, Kind::Write, bytes)
    }

    /// Reads `count` sectors from `sector` into the caller's buffer at
    /// `address` (a buffer lent with the request, of `size` bytes, that the
    /// device may write), through `slot`: the data never passes through
    /// the driver. At most [`LARGEST_LENT_TRANSFER`] bytes.
    ///
    /// # Errors
    /// A [`Refusal`] ([`Refusal::TooLong`] also when the sectors do not fit
    /// in `size`); nothing reached the device then.
    pub fn submit_read_into(
        &mut self,
        slot: usize,
        sector: u64,
        count: u32,
        address: u64,
        size: u64,
    ) -> Result<(), Refusal> {
        self.submit_lent(slot, Kind::Read, sector, count, address, size)
    }

    /// Writes `count` sectors at `sector` from the caller's buffer at
    /// `address` (lent with the request, `size` bytes), through `slot`.
    ///
    /// # Errors
    /// As [`Disk::submit_read_into`], and [`Refusal::ReadOnly`].
    pub fn submit_write_from(
        &mut self,
        slot: usize,
        sector: u64,
        count: u32,
        address: u64,
        size: u64,
    ) -> Result<(), Refusal> {
        self.submit_lent(slot, Kind::Write, sector, count, address, size)
    }

    /// Checks and submits a read or write of `count` sectors into or from
    /// a lent buffer at `address` of `size` bytes.
    fn submit_lent(
        &mut self,
        slot: usize,
        kind: Kind,
        sector: u64,
        count: u32,
        address: u64,
        size: u64,
    ) -> Result<(), Refusal> {
        let bytes = count.checked_mul(SECTOR_BYTES).ok_or(Refusal::TooLong)?;
        if u64::from(bytes) > size {
            return Err(Refusal::TooLong);
        }
        self.check_within(slot, sector, bytes, LARGEST_LENT_TRANSFER)?;
        let request_type = match kind {
            Kind::Read => TYPE_IN,
            _ if self.read_only() => return Err(Refusal::ReadOnly),
            _ => TYPE_OUT,
        };
        self.submit_to(slot, request_type, sector, kind, bytes, Some(address))
    }

    /// Asks the device to make earlier writes durable, through `slot`.
    ///
    /// # Errors
    /// [`Refusal::Unsupported`] without the flush feature, or another
    /// [`Refusal`].
    pub fn submit_flush(&mut self, slot: usize) -> Result<(), Refusal> {
        if self.pending.get(slot) != Some(&None) {
            return Err(Refusal::Busy);
        }
        if self.features & feature::FLUSH == 0 {
            return Err(Refusal::Unsupported);
        }
        self.submit(slot, TYPE_FLUSH, 0, Kind::Flush, 0)
    }

    fn slot_offset(&self, slot: usize) -> u32 {
        self.slot_stride * slot as u32
    }

    fn data_offset(&self, slot: usize) -> u32 {
        self.slot_offset(slot) + HEADER_BYTES
    }

    fn status_offset(&self, slot: usize, bytes: u32) -> u32 {
        self.data_offset(slot) + bytes
    }

    /// Teaching only (feature `escape`): reads one sector from `sector`
    /// into whatever the device reaches at `address`, instead of into the
    /// driver's own slot: a driver telling its device to write memory it
    /// was never given. Nothing in the driver's sandbox stops this (the
    /// device, not the module, writes); an IOMMU does.
    ///
    /// # Errors
    /// A [`Refusal`]; nothing reached the device then.
    #[cfg(feature = "escape")]
    pub fn submit_read_to(
        &mut self,
        slot: usize,
        sector: u64,
        address: u64,
    ) -> Result<(), Refusal> {
        self.check(slot, sector, SECTOR_BYTES)?;
        self.submit_to(
            slot,
            TYPE_IN,
            sector,
            Kind::Read,
            SECTOR_BYTES,
            Some(address),
        )
    }

    fn submit(
        &mut self,
        slot: usize,
        request_type: u32,
        sector: u64,
        kind: Kind,
        bytes: u32,
    ) -> Result<(), Refusal> {
        self.submit_to(slot, request_type, sector, kind, bytes, None)
    }

    /// Puts a request on the queue; its data goes to the slot's own bytes,
    /// or to `data_address` where one is given (see `submit_read_to`).
    fn submit_to(
        &mut self,
        slot: usize,
        request_type: u32,
        sector: u64,
        kind: Kind,
        bytes: u32,
        data_address: Option<u64>,
    ) -> Result<(), Refusal> {
        let mut header = [0u8; HEADER_BYTES as usize];
        header[0..4].copy_from_slice(&request_type.to_le_bytes());
        header[8..16].copy_from_slice(&sector.to_le_bytes());
        self.slots
            .write(self.slot_offset(slot), &header)
            .map_err(Error::from)?;
        // Data in the slot is followed by the status; with the data
        // elsewhere the status takes the slot's first data byte.
        let status_offset = match data_address {
            None => self.status_offset(slot, bytes),
            Some(_) => self.data_offset(slot),
        };
        self.slots
            .write(status_offset, &[STATUS_UNWRITTEN])
            .map_err(Error::from)?;
        let base = self.slots.device_address().map_err(Error::from)?;
        let header_segment = Segment {
            address: base + u64::from(self.slot_offset(slot)),
            length: HEADER_BYTES,
            device_writes: false,
        };
        let status_segment = Segment {
            address: base + u64::from(status_offset),
            length: 1,
            device_writes: true,
        };
        let head = if bytes == 0 {
            self.queue.submit(&[header_segment, status_segment])?
        } else {
            let data_segment = Segment {
                address: data_address.unwrap_or(base + u64::from(self.data_offset(slot))),
                length: bytes,
                device_writes: kind == Kind::Read,
            };
            self.queue
                .submit(&[header_segment, data_segment, status_segment])?
        };
        self.pending[slot] = Some(Pending {
            head,
            kind,
            bytes,
            status: status_offset,
        });
        self.transport.notify(&self.queue)?;
        Ok(())
    }

    /// The next request the device finished, if any.
    ///
    /// # Errors
    /// The queue's checks of what the device wrote (the queue is broken
    /// then: see [`Disk::abandon`]), or a refused call.
    pub fn complete(&mut self) -> Result<Option<Completion>, Error> {
        let Some(used) = self.queue.next_used()? else {
            return Ok(None);
        };
        let Some(slot) = self
            .pending
            .iter()
            .position(|pending| pending.is_some_and(|pending| pending.head == used.head))
        else {
            // The queue hands back only heads it has in flight, and every
            // one of those is a slot's.
            return Err(Error::UsedIdNotOutstanding {
                id: u32::from(used.head),
            });
        };
        let Some(pending) = self.pending[slot].take() else {
            return Err(Error::UsedIdNotOutstanding {
                id: u32::from(used.head),
            });
        };
        let mut status = [STATUS_UNWRITTEN];
        self.slots.read(pending.status, &mut status)?;
        let device_wrote = if pending.kind == Kind::Read {
            pending.bytes + 1
        } else {
            1
        };
        let outcome = match status[0] {
            STATUS_OK if used.written >= device_wrote => Outcome::Done,
            STATUS_UNSUPPORTED => Outcome::Unsupported,
            _ => Outcome::DeviceError,
        };
        Ok(Some(Completion {
            slot,
            kind: pending.kind,
            outcome,
            bytes: pending.bytes,
        }))
    }

    /// Copies the data a finished read left in `slot` into `destination`
    /// (at most the slot's size).
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] past the slot, or a refused DMA call.
    pub fn read_data(&self, slot: usize, destination: &mut [u8]) -> Result<(), Error> {
        if slot >= REQUESTS_IN_FLIGHT || destination.len() > self.largest_transfer as usize {
            return Err(Error::BufferTooSmall);
        }
        Ok(self.slots.read(self.data_offset(slot), destination)?)
    }

    /// Gives up on the device after garbage: tells it `FAILED`, resets it
    /// (so it stops using the buffers) and forgets every request in flight;
    /// returns the slots they held, for the caller to answer.
    pub fn abandon(&mut self) -> [Option<Kind>; REQUESTS_IN_FLIGHT] {
        self.transport.fail();
        let _ = self.transport.reset();
        let mut abandoned = [None; REQUESTS_IN_FLIGHT];
        for (slot, pending) in self.pending.iter_mut().enumerate() {
            abandoned[slot] = pending.take().map(|pending| pending.kind);
        }
        abandoned
    }

    /// Whether the queue met garbage (every later request is refused).
    pub fn is_broken(&self) -> bool {
        self.queue.is_broken()
    }
}

#[cfg(feature = "sdk")]
impl<W: RegisterWindow, B: DmaRegion> crate::interrupt::MsixQueues for Disk<W, B> {
    fn msix_entry(&self) -> Option<u16> {
        Disk::msix_entry(self)
    }

    fn drop_msix(&mut self) -> Result<(), Error> {
        Disk::drop_msix(self)
    }
}
