//! The frame link the stack sends through, and the smoltcp device made of
//! it and the queue of frames that arrived.

use crate::limits::RECEIVED_FRAMES;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use cella_sdk::interfaces::net::{MAX_FRAME_BYTES, MIN_FRAME_BYTES};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Where the stack's frames go: the `net` endpoint in the module, an
/// in-memory wire in the host tests.
pub trait Link {
    /// Whether the link takes a frame now; while it does not, smoltcp
    /// keeps its frames (and retransmits) until a later poll.
    fn ready(&self) -> bool;
    /// Takes one Ethernet frame (header to payload) to send.
    fn send(&mut self, frame: &[u8]);
}

/// The smoltcp device: the link, and the frames that arrived, oldest
/// first, at most [`RECEIVED_FRAMES`].
pub struct LinkDevice<L> {
    pub(crate) link: L,
    received: VecDeque<Vec<u8>>,
    dropped: u64,
    sent: u64,
}

impl<L: Link> LinkDevice<L> {
    pub(crate) fn new(link: L) -> Self {
        LinkDevice {
            link,
            received: VecDeque::with_capacity(RECEIVED_FRAMES),
            dropped: 0,
            sent: 0,
        }
    }

    /// Queues a frame that arrived; one of a length no Ethernet frame has,
    /// or past the queue's bound, is dropped and counted.
    pub(crate) fn arrived(&mut self, frame: &[u8]) -> bool {
        if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&frame.len())
            || self.received.len() >= RECEIVED_FRAMES
        {
            self.dropped += 1;
            return false;
        }
        self.received.push_back(frame.to_vec());
        true
    }

    /// Frames dropped on arrival.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames handed to the link.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether frames wait to be taken in.
    pub(crate) fn has_received(&self) -> bool {
        !self.received.is_empty()
    }
}

/// A frame that arrived, as smoltcp takes it.
pub struct Arrived(Vec<u8>);

impl phy::RxToken for Arrived {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, take: F) -> R {
        take(&self.0)
    }
}

/// The right to send one frame.
pub struct Outgoing<'a, L> {
    link: &'a mut L,
    sent: &'a mut u64,
}

impl<L: Link> phy::TxToken for Outgoing<'_, L> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, length: usize, fill: F) -> R {
        let mut frame = [0u8; MAX_FRAME_BYTES];
        let mut longer: Vec<u8>;
        let buffer = if length <= MAX_FRAME_BYTES {
            &mut frame[..length]
        } else {
            longer = vec![0u8; length];
            &mut longer[..]
        };
        let answer = fill(buffer);
        if length <= MAX_FRAME_BYTES {
            self.link.send(buffer);
            *self.sent += 1;
        }
        answer
    }
}

impl<L: Link> Device for LinkDevice<L> {
    type RxToken<'a>
        = Arrived
    where
        L: 'a;
    type TxToken<'a>
        = Outgoing<'a, L>
    where
        L: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Arrived, Outgoing<'_, L>)> {
        let frame = self.received.pop_front()?;
        Some((
            Arrived(frame),
            Outgoing {
                link: &mut self.link,
                sent: &mut self.sent,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Outgoing<'_, L>> {
        self.link.ready().then_some(Outgoing {
            link: &mut self.link,
            sent: &mut self.sent,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME_BYTES;
        capabilities
    }
}
