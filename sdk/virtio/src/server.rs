//! The `block` interface served from a [`Disk`]: requests decoded and
//! checked, given to the device, and answered when it finishes them. The
//! caller keeps the transport of messages: it hands each request in with a
//! token (the SDK's `Message` in the driver) and gets the token back with
//! the answer's bytes, at once or from a later [`BlockServer::poll`].

use crate::block::{Completion, Disk, Kind, Outcome, REQUESTS_IN_FLIGHT, Refusal};
use crate::platform::{DmaRegion, RegisterWindow};
use cella_interfaces::block::{
    BlockError, Capacity, Data, Done, Failed, MAX_TRANSFER_BYTES, Request, SECTOR_BYTES,
};
use cella_interfaces::wire::{self, Wire, WireError};

/// What became of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// Answered at once: the reply is this many bytes of the buffer.
    Answered(usize),
    /// Given to the device; the answer comes from a later poll.
    Pending,
    /// Not a request of the interface (no answer decodes from an empty
    /// reply).
    Malformed(WireError),
}

/// A request the device holds, and who waits for its answer.
#[derive(Clone, Copy)]
struct Waiting<T> {
    token: T,
    id: u32,
    /// Its data is in a buffer the caller lent: a read answers `Done`.
    lent: bool,
}

/// The buffer a caller lent with a request (`read_lent`, `write_lent`):
/// where the device reaches it, its size, and whether the device may
/// write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lent {
    /// The address the device sees it at.
    pub address: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Lent read-write.
    pub writable: bool,
}

/// What the last poll met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// Nothing wrong; this many requests are still in flight.
    InFlight(usize),
    /// The device wrote garbage and was given up on (told `FAILED` and
    /// reset); every request in flight was answered `DeviceError`, and so is
    /// any later one this server is given. [`Next::Restart`]: the driver
    /// ends its instance.
    GaveUp(crate::Error),
}

/// What the driver does after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing is in flight: no need to look at the used ring again.
    Idle,
    /// Requests are in flight: look again (after the next interrupt or the
    /// fallback timer).
    Poll,
    /// The device wrote garbage: every request in flight was answered, and
    /// the instance ends (it faults itself), so that the supervisor starts
    /// a new one, which resets the device and brings it up afresh.
    Restart,
}

impl Polled {
    /// What the driver does next.
    pub fn next(self) -> Next {
        match self {
            Polled::InFlight(0) => Next::Idle,
            Polled::InFlight(_) => Next::Poll,
            Polled::GaveUp(_) => Next::Restart,
        }
    }
}

/// The `block` interface over a disk.
pub struct BlockServer<W, B, T> {
    disk: Option<Disk<W, B>>,
    waiting: [Option<Waiting<T>>; REQUESTS_IN_FLIGHT],
}

impl<W: RegisterWindow, B: DmaRegion, T: Copy> BlockServer<W, B, T> {
    /// Serves `disk`.
    pub fn new(disk: Disk<W, B>) -> Self {
        BlockServer {
            disk: Some(disk),
            waiting: [None; REQUESTS_IN_FLIGHT],
        }
    }

    /// Reads, and so acknowledges, the device's interrupt status (0 once
    /// the device was given up on).
    ///
    /// # Errors
    /// A refused register access.
    pub fn interrupt_status(&self) -> Result<u8, crate::Error> {
        match &self.disk {
            Some(disk) => disk.transport().interrupt_status(),
            None => Ok(0),
        }
    }

    /// Whether the device was given up on.
    pub fn gave_up(&self) -> bool {
        self.disk.is_none()
    }

    /// Requests the device holds.
    pub fn in_flight(&self) -> usize {
        self.waiting
            .iter()
            .filter(|waiting| waiting.is_some())
            .count()
    }

    /// The requests the device holds: each one's token and request id, in
    /// slot order (what a hot swap hands to the next version, which answers
    /// them).
    pub fn waiting(&self) -> impl Iterator<Item = (T, u32)> + '_ {
        self.waiting
            .iter()
            .flatten()
            .map(|waiting| (waiting.token, waiting.id))
    }

    /// Handles one request: answers `capacity` and every request it
    /// refuses into `reply` at once, and gives reads, writes and flushes
    /// to the device, to be answered from [`BlockServer::poll`] with
    /// `token`. `loan` is the buffer lent with the request, which
    /// `read_lent` and `write_lent` need.
    pub fn request(
        &mut self,
        token: T,
        request: &[u8],
        loan: Option<Lent>,
        reply: &mut [u8],
    ) -> Handled {
        let request = match Request::decode(request) {
            Ok(request) => request,
            Err(error) => return Handled::Malformed(error),
        };
        let id = request.id().unwrap_or(0);
        let Some(disk) = self.disk.as_mut() else {
            return match request {
                Request::Capacity => {
                    encoded(&Err::<Capacity, BlockError>(BlockError::DeviceError), reply)
                }
                _ => failed(id, BlockError::DeviceError, reply),
            };
        };
        let Some(slot) = disk.free_slot() else {
            return match request {
                Request::Capacity => encoded(&Ok::<Capacity, BlockError>(capacity_of(disk)), reply),
                _ => failed(id, BlockError::Busy, reply),
            };
        };
        let lent = matches!(
            request,
            Request::ReadLent { .. } | Request::WriteLent { .. }
        );
        let submitted = match (request, loan) {
            (Request::Capacity, _) => {
                return encoded(&Ok::<Capacity, BlockError>(capacity_of(disk)), reply);
            }
            (Request::Read { sector, count, .. }, _) => {
                disk.submit_read(slot, sector, u32::from(count))
            }
            (Request::Write { sector, bytes, .. }, _) => disk.submit_write(slot, sector, bytes),
            (Request::Flush { .. }, _) => disk.submit_flush(slot),
            (Request::ReadLent { sector, count, .. }, Some(loan)) if loan.writable => {
                disk.submit_read_into(slot, sector, u32::from(count), loan.address, loan.size)
            }
            (Request::WriteLent { sector, count, .. }, Some(loan)) => {
                disk.submit_write_from(slot, sector, u32::from(count), loan.address, loan.size)
            }
            (Request::ReadLent { .. } | Request::WriteLent { .. }, _) => {
                return failed(id, BlockError::NoLoan, reply);
            }
        };
        match submitted {
            Ok(()) => {
                self.waiting[slot] = Some(Waiting { token, id, lent });
                Handled::Pending
            }
            Err(refusal) => failed(id, block_error(refusal), reply),
        }
    }

    /// Teaching only (feature `escape`): asks the device to read sector 0
    /// into the memory it reaches at `address` (see
    /// [`Disk::submit_read_to`]); `token` gets an answer if the device ever
    /// finishes it.
    ///
    /// # Errors
    /// The disk's refusal (no free slot, a given-up device).
    #[cfg(feature = "escape")]
    pub fn escape(&mut self, token: T, address: u64) -> Result<(), Refusal> {
        let disk = self.disk.as_mut().ok_or(Refusal::Busy)?;
        let slot = disk.free_slot().ok_or(Refusal::Busy)?;
        disk.submit_read_to(slot, 0, address)?;
        if let Some(place) = self.waiting.get_mut(slot) {
            *place = Some(Waiting {
                token,
                id: 0,
                lent: false,
            });
        }
        Ok(())
    }

    /// Answers, through `answer`, every request the device finished (after
    /// an interrupt or a timer). Device garbage gives the device up (see
    /// [`Polled::GaveUp`]).
    pub fn poll(&mut self, mut answer: impl FnMut(T, &[u8])) -> Polled {
        let mut reply = [0u8; MAX_TRANSFER_BYTES + 16];
        loop {
            let Some(disk) = self.disk.as_mut() else {
                return Polled::InFlight(0);
            };
            match disk.complete() {
                Ok(Some(completion)) => {
                    if let Some((token, length)) = self.finish(completion, &mut reply) {
                        answer(token, &reply[..length]);
                    }
                }
                Ok(None) => return Polled::InFlight(self.in_flight()),
                Err(error) => {
                    disk.abandon();
                    self.disk = None;
                    for waiting in self.waiting.iter_mut().filter_map(Option::take) {
                        if let Handled::Answered(length) =
                            failed(waiting.id, BlockError::DeviceError, &mut reply)
                        {
                            answer(waiting.token, &reply[..length]);
                        }
                    }
                    return Polled::GaveUp(error);
                }
            }
        }
    }

    /// Encodes the answer to a finished request; `None` if nobody waits
    /// for that slot (the disk hands back only slots it was given, so this
    /// does not happen).
    fn finish(&mut self, completion: Completion, reply: &mut [u8]) -> Option<(T, usize)> {
        let Waiting { token, id, lent } = self.waiting.get_mut(completion.slot)?.take()?;
        let handled = match (completion.outcome, completion.kind) {
            // The data is in the caller's buffer already.
            (Outcome::Done, Kind::Read) if lent => encoded(&Ok::<Done, Failed>(Done { id }), reply),
            (Outcome::Done, Kind::Read) => {
                let mut bytes = [0u8; MAX_TRANSFER_BYTES];
                let length = (completion.bytes as usize).min(MAX_TRANSFER_BYTES);
                let copied = match &self.disk {
                    Some(disk) => disk
                        .read_data(completion.slot, &mut bytes[..length])
                        .is_ok(),
                    None => false,
                };
                if copied {
                    encoded(
                        &Ok::<Data<'_>, Failed>(Data {
                            id,
                            bytes: &bytes[..length],
                        }),
                        reply,
                    )
                } else {
                    failed(id, BlockError::DeviceError, reply)
                }
            }
            (Outcome::Done, Kind::Write | Kind::Flush) => {
                encoded(&Ok::<Done, Failed>(Done { id }), reply)
            }
            (Outcome::DeviceError, _) => failed(id, BlockError::DeviceError, reply),
            (Outcome::Unsupported, _) => failed(id, BlockError::Unsupported, reply),
        };
        match handled {
            Handled::Answered(length) => Some((token, length)),
            _ => Some((token, 0)),
        }
    }
}

/// The answer to `capacity`.
fn capacity_of<W: RegisterWindow, B: DmaRegion>(disk: &Disk<W, B>) -> Capacity {
    Capacity {
        sectors: disk.capacity(),
        sector_size: SECTOR_BYTES,
    }
}

/// The interface's error for a refusal.
fn block_error(refusal: Refusal) -> BlockError {
    match refusal {
        Refusal::OutOfRange => BlockError::OutOfRange,
        Refusal::TooLong => BlockError::TooLong,
        Refusal::BadLength => BlockError::BadLength,
        Refusal::ReadOnly => BlockError::ReadOnly,
        Refusal::Unsupported => BlockError::Unsupported,
        Refusal::Busy => BlockError::Busy,
        Refusal::Device(_) => BlockError::DeviceError,
    }
}

/// Encodes into `reply` the answer that request `id` (a read, write or
/// flush) failed with `error`.
pub fn failed(id: u32, error: BlockError, reply: &mut [u8]) -> Handled {
    encoded(&Err::<Done, Failed>(Failed { id, error }), reply)
}

fn encoded<'a, V: Wire<'a>>(value: &V, reply: &mut [u8]) -> Handled {
    match wire::encode(value, reply) {
        Ok(length) => Handled::Answered(length),
        Err(error) => Handled::Malformed(error),
    }
}
