//! The `net` interface served from a [`Nic`]: `info` and `send` answered at
//! once; `receive` answered at once with the frames waiting, or, when none
//! waits and it may wait, held until a frame arrives or its time is up and
//! answered from a later [`NetServer::poll`]. One `receive` waits at a
//! time; a second is answered `AlreadyWaiting`. The caller keeps the
//! transport of messages, as for `block` ([`crate::server`]): it hands each
//! request in with a token and gets the token back with the answer.
//!
//! A `receive_lent`'s frames are packed into the `lent` bytes the caller
//! hands in with the request (or with the poll that answers it): as many
//! as the buffer lent with it holds. The caller copies those bytes into the
//! lent buffer before it sends the answer, which carries only their count.

use crate::error::Error;
use crate::net::{MTU, Nic, SendRefusal};
use crate::platform::{DmaRegion, RegisterWindow};
use crate::server::Handled;
use cella_interfaces::net::{
    self, Frames, Info, Lent, MAX_LENT_BYTES, MAX_WAIT_MS, NetError, Sent,
};
use cella_interfaces::split_request;
use cella_interfaces::wire::{self, Wire};

/// The longest answer: a message.
pub const MAX_REPLY_BYTES: usize = cella_abi::MAX_MESSAGE_BYTES as usize;
/// What a `receive` answer spends besides its frames: the result's tag,
/// the count, the dropped count and the frames' length.
const FRAMES_OVERHEAD: usize = 1 + 2 + 4 + 2;
const NANOSECONDS_PER_MILLISECOND: u64 = 1_000_000;

/// A `receive` held for a frame.
#[derive(Clone, Copy)]
struct Waiting<T> {
    token: T,
    /// When it is answered with none (monotonic nanoseconds).
    deadline: u64,
    /// For a `receive_lent`: the bytes of frames its lent buffer takes.
    lent: Option<usize>,
}

/// What the last poll met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// Nothing wrong.
    Running,
    /// The device wrote garbage and was given up on (told `FAILED` and
    /// reset); the waiting `receive` was answered `DeviceError`, and so is
    /// every later request. The driver ends its instance, so that a new
    /// one brings the device up afresh.
    GaveUp(Error),
}

/// The `net` interface over a device.
pub struct NetServer<W, B, T> {
    nic: Option<Nic<W, B>>,
    waiting: Option<Waiting<T>>,
}

impl<W: RegisterWindow, B: DmaRegion, T: Copy> NetServer<W, B, T> {
    /// Serves `nic`.
    pub fn new(nic: Nic<W, B>) -> Self {
        NetServer {
            nic: Some(nic),
            waiting: None,
        }
    }

    /// The device, unless it was given up on.
    pub fn nic(&self) -> Option<&Nic<W, B>> {
        self.nic.as_ref()
    }

    /// Reads, and so acknowledges, the device's interrupt status (0 once
    /// the device was given up on).
    ///
    /// # Errors
    /// A refused register access.
    pub fn interrupt_status(&self) -> Result<u8, Error> {
        match &self.nic {
            Some(nic) => nic.transport().interrupt_status(),
            None => Ok(0),
        }
    }

    /// When the waiting `receive`, if any, is answered with no frames.
    pub fn deadline(&self) -> Option<u64> {
        self.waiting.map(|waiting| waiting.deadline)
    }

    /// The bytes of frames the waiting `receive_lent`, if one waits, may be
    /// answered with (what a poll's `lent` bytes need be; 0 for none).
    pub fn waiting_lent_bytes(&self) -> usize {
        self.waiting
            .and_then(|waiting| waiting.lent)
            .map_or(0, |bytes| bytes.min(MAX_LENT_BYTES))
    }

    /// The waiting `receive`'s token, if one waits (what a hot swap hands
    /// to the next version).
    pub fn waiting(&self) -> Option<T> {
        self.waiting.map(|waiting| waiting.token)
    }

    /// Handles one request at time `now` (monotonic nanoseconds): answers
    /// it into `reply`, or holds a `receive` that finds no frame and may
    /// wait ([`Handled::Pending`]), to be answered from a poll with
    /// `token`. `lent` is as long as the buffer lent with the request (at
    /// most [`MAX_LENT_BYTES`]; empty when none was lent read-write): an
    /// answered `receive_lent` packed its frames there ([`lent_bytes`]
    /// says how many bytes).
    pub fn request(
        &mut self,
        token: T,
        request: &[u8],
        now: u64,
        reply: &mut [u8],
        lent: &mut [u8],
    ) -> Handled {
        let lent = cut(lent);
        if let Some((wait_ms, lending)) = waiting_receive(request)
            && (!lending || !lent.is_empty())
            && let Some(nic) = self.nic.as_mut()
            && nic.receive().is_ok_and(|_| nic.held() == 0)
        {
            if self.waiting.is_some() {
                return encoded(
                    &Err::<Frames<'_>, NetError>(NetError::AlreadyWaiting),
                    reply,
                );
            }
            self.waiting = Some(Waiting {
                token,
                deadline: now.saturating_add(u64::from(wait_ms) * NANOSECONDS_PER_MILLISECOND),
                lent: lending.then_some(lent.len()),
            });
            return Handled::Pending;
        }
        let mut serving = Serving::new(self.nic.as_mut(), reply.len(), lent);
        match net::serve(&mut serving, request, reply) {
            Ok(length) => Handled::Answered(length),
            Err(error) => Handled::Malformed(error),
        }
    }

    /// Takes in what the device finished (after an interrupt or a timer)
    /// and answers the waiting `receive` through `answer` once a frame is
    /// there or `now` has reached its deadline. Device garbage gives the
    /// device up (see [`Polled::GaveUp`]). A waiting `receive_lent`'s
    /// frames are packed into `lent` (at most as many bytes as its buffer
    /// takes), and `answer` gets them after the answer's bytes.
    pub fn poll(
        &mut self,
        now: u64,
        lent: &mut [u8],
        mut answer: impl FnMut(T, &[u8], &[u8]),
    ) -> Polled {
        let mut reply = [0u8; MAX_REPLY_BYTES];
        let Some(nic) = self.nic.as_mut() else {
            return Polled::Running;
        };
        let checked = nic.receive().and_then(|_| nic.reclaim());
        if let Err(error) = checked {
            // The garbage may have been met serving a request: name it, not what follows.
            let error = nic.failure().unwrap_or(error);
            nic.abandon();
            self.nic = None;
            if let Some(waiting) = self.waiting.take() {
                let failed = Err::<Frames<'_>, NetError>(NetError::DeviceError);
                if let Handled::Answered(length) = encoded(&failed, &mut reply) {
                    answer(waiting.token, &reply[..length], &[]);
                }
            }
            return Polled::GaveUp(error);
        }
        let Some(waiting) = self.waiting else {
            return Polled::Running;
        };
        if nic.held() == 0 && now < waiting.deadline {
            return Polled::Running;
        }
        self.waiting = None;
        let lent = cut(lent);
        let room = waiting.lent.unwrap_or(0).min(lent.len());
        let mut serving = Serving::new(Some(nic), reply.len(), &mut lent[..room]);
        if waiting.lent.is_some() {
            let frames = net::Server::receive_lent(&mut serving, 0);
            if let Handled::Answered(length) = encoded(&frames, &mut reply) {
                let written = frames.map_or(0, |frames| frames.bytes as usize);
                answer(waiting.token, &reply[..length], &lent[..written]);
            }
        } else {
            let frames = net::Server::receive(&mut serving, 0);
            if let Handled::Answered(length) = encoded(&frames, &mut reply) {
                answer(waiting.token, &reply[..length], &[]);
            }
        }
        Polled::Running
    }
}

/// The part of a lent buffer's bytes an answer fills: at most [`MAX_LENT_BYTES`].
fn cut(lent: &mut [u8]) -> &mut [u8] {
    let length = lent.len().min(MAX_LENT_BYTES);
    &mut lent[..length]
}

/// Whether `request` is a `receive_lent`, whose frames go into the buffer
/// lent with it.
pub fn is_lent_receive(request: &[u8]) -> bool {
    split_request(request).0 == b"receive_lent"
}

/// The bytes of frames an answered `receive_lent` packed into its `lent`
/// bytes, from its answer `reply`; 0 for any other answer.
pub fn lent_bytes(reply: &[u8]) -> usize {
    match net::receive_lent::reply(reply) {
        Ok(Ok(lent)) => lent.bytes as usize,
        _ => 0,
    }
}

/// The wait of a `receive` or `receive_lent` that may be held (and whether
/// it is the lent one): one that decodes, with a wait above zero and within
/// the limit (any other is answered at once).
fn waiting_receive(request: &[u8]) -> Option<(u32, bool)> {
    let (name, mut arguments) = split_request(request);
    let lending = match name {
        b"receive" => false,
        b"receive_lent" => true,
        _ => return None,
    };
    let wait_ms = u32::decode(&mut arguments).ok()?;
    arguments.finish().ok()?;
    (1..=MAX_WAIT_MS)
        .contains(&wait_ms)
        .then_some((wait_ms, lending))
}

fn encoded<'a, V: Wire<'a>>(value: &V, reply: &mut [u8]) -> Handled {
    match wire::encode(value, reply) {
        Ok(length) => Handled::Answered(length),
        Err(error) => Handled::Malformed(error),
    }
}

/// The interface's operations on the device, for one request.
struct Serving<'n, 'l, W, B> {
    nic: Option<&'n mut Nic<W, B>>,
    packed: [u8; MAX_REPLY_BYTES],
    /// The bytes of frames an answer may carry.
    room: usize,
    /// Where a `receive_lent` packs its frames (empty: nothing lent).
    lent: &'l mut [u8],
}

impl<'n, 'l, W: RegisterWindow, B: DmaRegion> Serving<'n, 'l, W, B> {
    fn new(nic: Option<&'n mut Nic<W, B>>, reply_bytes: usize, lent: &'l mut [u8]) -> Self {
        Serving {
            nic,
            packed: [0; MAX_REPLY_BYTES],
            room: reply_bytes
                .min(MAX_REPLY_BYTES)
                .saturating_sub(FRAMES_OVERHEAD),
            lent,
        }
    }

    fn nic(&mut self) -> Result<&mut Nic<W, B>, NetError> {
        self.nic.as_deref_mut().ok_or(NetError::DeviceError)
    }
}

impl<W: RegisterWindow, B: DmaRegion> net::Server for Serving<'_, '_, W, B> {
    fn info(&mut self) -> Result<Info, NetError> {
        let nic = self.nic()?;
        Ok(Info {
            mac: nic.mac(),
            mtu: MTU,
            link_up: nic.link_up().map_err(|_| NetError::DeviceError)?,
        })
    }

    fn send(&mut self, frame: &[u8]) -> Result<Sent, NetError> {
        let nic = self.nic()?;
        if !nic.link_up().map_err(|_| NetError::DeviceError)? {
            return Err(NetError::LinkDown);
        }
        match nic.send(frame) {
            Ok(()) => Ok(Sent {
                length: frame.len() as u16,
            }),
            Err(SendRefusal::BadLength) => Err(NetError::BadLength),
            Err(SendRefusal::Busy) => Err(NetError::Busy),
            Err(SendRefusal::Device(_)) => Err(NetError::DeviceError),
        }
    }

    fn receive(&mut self, wait_ms: u32) -> Result<Frames<'_>, NetError> {
        if wait_ms > MAX_WAIT_MS {
            return Err(NetError::BadArgument);
        }
        let room = self.room;
        let nic = self.nic.as_deref_mut().ok_or(NetError::DeviceError)?;
        nic.receive().map_err(|_| NetError::DeviceError)?;
        let taken = nic
            .take(&mut self.packed[..room])
            .map_err(|_| NetError::DeviceError)?;
        Ok(Frames {
            count: taken.count,
            dropped: taken.dropped,
            frames: &self.packed[..taken.bytes],
        })
    }

    fn receive_lent(&mut self, wait_ms: u32) -> Result<Lent, NetError> {
        if wait_ms > MAX_WAIT_MS {
            return Err(NetError::BadArgument);
        }
        if self.lent.is_empty() {
            return Err(NetError::NoLoan);
        }
        let nic = self.nic.as_deref_mut().ok_or(NetError::DeviceError)?;
        nic.receive().map_err(|_| NetError::DeviceError)?;
        let taken = nic.take(self.lent).map_err(|_| NetError::DeviceError)?;
        Ok(Lent {
            count: taken.count,
            dropped: taken.dropped,
            bytes: taken.bytes as u32,
        })
    }
}
