//! virtio-net (virtio 1.x, 5.1) on the transport: one receive queue and one
//! transmit queue, no offloads, no control queue, the 12-byte
//! `virtio_net_hdr` before every frame.
//!
//! Receive buffers, each big enough for the header and the longest frame,
//! are posted ahead in one DMA buffer. A buffer the device filled stays out
//! of the queue while its frame waits to be taken, at most [`HELD_FRAMES`]
//! frames; the one after that drops the oldest (counted), whose buffer goes
//! back to the device, so the device always has
//! `RECEIVE_BUFFERS - HELD_FRAMES` buffers to fill. A taken frame's buffer
//! is posted again. Transmit keeps [`TRANSMIT_IN_FLIGHT`] frames in flight,
//! each in a slot of its own; one more is refused as busy.
//!
//! Everything the device writes is checked: the used ring by the queue
//! ([`SplitQueue::next_used`]), and a received length shorter than the
//! header here. The first bad value gives the device up: every later call
//! answers [`Error::QueueBroken`].

use crate::error::Error;
use crate::platform::{ConfigSpace, DmaMemory, DmaRegion, RegisterWindow};
use crate::queue::{RingLayout, Segment, SplitQueue};
use crate::transport::Transport;
use cella_interfaces::net::MAX_FRAME_BYTES;
use receive::Held;

mod receive;
mod transmit;

pub use receive::Taken;
pub use transmit::SendRefusal;

/// The `virtio_net_hdr` (with `num_buffers`, always there in virtio 1.x).
pub const HEADER_BYTES: u32 = 12;
/// One receive or transmit buffer: the header and the longest frame,
/// rounded up to 16 bytes.
pub const BUFFER_BYTES: u32 = (HEADER_BYTES + MAX_FRAME_BYTES as u32).next_multiple_of(16);
/// Receive buffers, posted ahead; also the receive queue's size.
pub const RECEIVE_BUFFERS: u16 = 32;
/// Frames that wait to be taken at most; past it the oldest is dropped.
pub const HELD_FRAMES: usize = 16;
/// Frames being sent at once; one more is refused as busy. Also the
/// transmit queue's size (one descriptor a frame).
pub const TRANSMIT_IN_FLIGHT: usize = 8;
/// The payload a frame carries at most (no `VIRTIO_NET_F_MTU`).
pub const MTU: u16 = 1500;
/// The receive queue's index (`receiveq1`).
pub const RECEIVE_QUEUE: u16 = 0;
/// The transmit queue's index (`transmitq1`).
pub const TRANSMIT_QUEUE: u16 = 1;
/// The DMA bytes a [`Nic`] takes: both rings and both sets of buffers.
pub const DMA_BYTES: u32 = RingLayout::new(RECEIVE_BUFFERS).total
    + RingLayout::new(TRANSMIT_IN_FLIGHT as u16).total
    + BUFFER_BYTES * (RECEIVE_BUFFERS as u32 + TRANSMIT_IN_FLIGHT as u32);
/// The MAC address used when the device offers none: locally
/// administered, unicast.
pub const FALLBACK_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// virtio-net feature bits this driver takes when offered.
pub mod feature {
    /// The device configuration holds the MAC address.
    pub const MAC: u64 = 1 << 5;
    /// The device configuration holds the link status.
    pub const STATUS: u64 = 1 << 16;
}

/// The device configuration's fields.
const CONFIG_MAC: u32 = 0;
const CONFIG_STATUS: u32 = 6;
/// `status`: the link is up.
const STATUS_LINK_UP: u16 = 1;

/// A started virtio-net device.
pub struct Nic<W, B> {
    transport: Transport<W>,
    receive: SplitQueue<B>,
    transmit: SplitQueue<B>,
    receive_buffers: B,
    transmit_buffers: B,
    /// For each receive descriptor head in flight, the buffer it posts.
    posted: [Option<u16>; RECEIVE_BUFFERS as usize],
    /// Frames waiting, oldest at `held_start`.
    held: [Held; HELD_FRAMES],
    held_start: usize,
    held_count: usize,
    dropped: u32,
    /// For each transmit slot, the descriptor head carrying it.
    sending: [Option<u16>; TRANSMIT_IN_FLIGHT],
    mac: [u8; 6],
    features: u64,
    msix_entry: Option<u16>,
    /// The device garbage that gave the device up, if any.
    failure: Option<Error>,
}

impl<W: RegisterWindow, B: DmaRegion> Nic<W, B> {
    /// Brings the device up: the handshake (taking the MAC and status
    /// features when offered), both queues, every receive buffer posted,
    /// both queues' interrupts pointed at MSI-X table entry `msix_entry`
    /// (if given), then `DRIVER_OK`.
    ///
    /// # Errors
    /// The transport's, the queues', or a refused allocation; the device
    /// is told `FAILED` if the handshake had begun.
    pub fn start<C, D>(config: &C, dma: &D, msix_entry: Option<u16>) -> Result<Self, Error>
    where
        C: ConfigSpace<Window = W>,
        D: DmaMemory<Buffer = B>,
    {
        let transport = Transport::new(config)?;
        let features = transport.begin(0, feature::MAC | feature::STATUS)?;
        Self::start_queues(transport, dma, features, msix_entry).map_err(|(transport, error)| {
            transport.fail();
            error
        })
    }

    fn start_queues<D: DmaMemory<Buffer = B>>(
        transport: Transport<W>,
        dma: &D,
        features: u64,
        msix_entry: Option<u16>,
    ) -> Result<Self, (Transport<W>, Error)> {
        let parts = Self::allocate(&transport, dma);
        let (receive, transmit, receive_buffers, transmit_buffers) = match parts {
            Ok(parts) => parts,
            Err(error) => return Err((transport, error)),
        };
        let mac = if features & feature::MAC != 0 {
            let read = transport.read_device_config(|config| {
                let mut mac = [0u8; 6];
                for (offset, byte) in mac.iter_mut().enumerate() {
                    *byte = config.read8(CONFIG_MAC + offset as u32)?;
                }
                Ok(mac)
            });
            match read {
                Ok(mac) => mac,
                Err(error) => return Err((transport, error)),
            }
        } else {
            FALLBACK_MAC
        };
        let mut nic = Nic {
            transport,
            receive,
            transmit,
            receive_buffers,
            transmit_buffers,
            posted: [None; RECEIVE_BUFFERS as usize],
            held: [Held {
                buffer: 0,
                length: 0,
            }; HELD_FRAMES],
            held_start: 0,
            held_count: 0,
            dropped: 0,
            sending: [None; TRANSMIT_IN_FLIGHT],
            mac,
            features,
            msix_entry: None,
            failure: None,
        };
        if let Err(error) = nic.finish_start(msix_entry) {
            return Err((nic.transport, error));
        }
        Ok(nic)
    }

    /// Both queues and both buffers.
    #[allow(clippy::type_complexity)]
    fn allocate<D: DmaMemory<Buffer = B>>(
        transport: &Transport<W>,
        dma: &D,
    ) -> Result<(SplitQueue<B>, SplitQueue<B>, B, B), Error> {
        let receive_ring = dma.allocate(RingLayout::new(RECEIVE_BUFFERS).total)?;
        let transmit_ring = dma.allocate(RingLayout::new(TRANSMIT_IN_FLIGHT as u16).total)?;
        let receive_buffers = dma.allocate(BUFFER_BYTES * u32::from(RECEIVE_BUFFERS))?;
        let transmit_buffers = dma.allocate(BUFFER_BYTES * TRANSMIT_IN_FLIGHT as u32)?;
        let receive = transport.setup_queue(RECEIVE_QUEUE, receive_ring, RECEIVE_BUFFERS)?;
        let transmit =
            transport.setup_queue(TRANSMIT_QUEUE, transmit_ring, TRANSMIT_IN_FLIGHT as u16)?;
        // A device offering smaller queues leaves buffers or slots that
        // could not be in flight: refuse it rather than run short.
        if receive.size() != RECEIVE_BUFFERS {
            return Err(Error::NoSuchQueue {
                index: RECEIVE_QUEUE,
            });
        }
        if usize::from(transmit.size()) != TRANSMIT_IN_FLIGHT {
            return Err(Error::NoSuchQueue {
                index: TRANSMIT_QUEUE,
            });
        }
        Ok((receive, transmit, receive_buffers, transmit_buffers))
    }

    /// Every receive buffer posted, the interrupts, `DRIVER_OK`.
    fn finish_start(&mut self, msix_entry: Option<u16>) -> Result<(), Error> {
        for buffer in 0..RECEIVE_BUFFERS {
            self.post(buffer)?;
        }
        if let Some(entry) = msix_entry {
            let taken = self.transport.set_queue_vector(RECEIVE_QUEUE, entry)?
                && self.transport.set_queue_vector(TRANSMIT_QUEUE, entry)?;
            if taken {
                self.msix_entry = Some(entry);
            } else {
                self.drop_msix()?;
            }
        }
        self.transport.driver_ok()?;
        self.transport.notify(&self.receive)
    }

    /// The MSI-X table entry both queues' interrupts go to, if the device
    /// took one at the start (else it raises INTx).
    pub fn msix_entry(&self) -> Option<u16> {
        self.msix_entry
    }

    /// Takes the queues' MSI-X vectors away: the device raises INTx from
    /// then on.
    ///
    /// # Errors
    /// A refused register access.
    pub fn drop_msix(&mut self) -> Result<(), Error> {
        self.msix_entry = None;
        let none = crate::transport::NO_VECTOR;
        self.transport.set_queue_vector(RECEIVE_QUEUE, none)?;
        self.transport.set_queue_vector(TRANSMIT_QUEUE, none)?;
        Ok(())
    }

    /// The transport, for the interrupt status and the like.
    pub fn transport(&self) -> &Transport<W> {
        &self.transport
    }

    /// The features the driver accepted.
    pub fn features(&self) -> u64 {
        self.features
    }

    /// The interface's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Whether the link is up (always, without the status feature).
    ///
    /// # Errors
    /// A refused register access.
    pub fn link_up(&self) -> Result<bool, Error> {
        if self.features & feature::STATUS == 0 {
            return Ok(true);
        }
        let status = self
            .transport
            .read_device_config(|config| config.read16(CONFIG_STATUS))?;
        Ok(status & STATUS_LINK_UP != 0)
    }

    /// Whether device garbage broke a queue (every later call is refused).
    pub fn is_broken(&self) -> bool {
        self.failure.is_some() || self.receive.is_broken() || self.transmit.is_broken()
    }

    /// The device garbage that gave the device up (the first error; every later call
    /// answers [`Error::QueueBroken`]).
    pub fn failure(&self) -> Option<Error> {
        self.failure
    }

    /// Frames waiting to be taken.
    pub fn held(&self) -> usize {
        self.held_count
    }

    /// Frames dropped since the last take.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Frames being sent.
    pub fn sending(&self) -> usize {
        self.sending.iter().flatten().count()
    }

    /// Gives receive buffer `buffer` to the device (notified by the caller).
    fn post(&mut self, buffer: u16) -> Result<(), Error> {
        let address = self.receive_buffers.device_address()?;
        let head = self.receive.submit(&[Segment {
            address: address + u64::from(BUFFER_BYTES) * u64::from(buffer),
            length: BUFFER_BYTES,
            device_writes: true,
        }])?;
        match self.posted.get_mut(usize::from(head)) {
            Some(place) => {
                *place = Some(buffer);
                Ok(())
            }
            None => Err(Error::UsedIdOutOfRange {
                id: u32::from(head),
            }),
        }
    }

    fn check(&self) -> Result<(), Error> {
        if self.failure.is_some() {
            return Err(Error::QueueBroken);
        }
        Ok(())
    }

    fn give_up(&mut self, error: Error) -> Error {
        self.failure.get_or_insert(error);
        error
    }

    /// Gives up on the device: tells it `FAILED` and resets it, so it
    /// stops using the buffers; the frames waiting and in flight are lost.
    pub fn abandon(&mut self) {
        self.failure.get_or_insert(Error::QueueBroken);
        self.transport.fail();
        let _ = self.transport.reset();
        self.held_count = 0;
        self.sending = [None; TRANSMIT_IN_FLIGHT];
    }
}

#[cfg(feature = "sdk")]
impl<W: RegisterWindow, B: DmaRegion> crate::interrupt::MsixQueues for Nic<W, B> {
    fn msix_entry(&self) -> Option<u16> {
        Nic::msix_entry(self)
    }

    fn drop_msix(&mut self) -> Result<(), Error> {
        Nic::drop_msix(self)
    }
}
