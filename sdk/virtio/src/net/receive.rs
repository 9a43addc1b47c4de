//! Receiving: frames the device filled taken off the used ring into the held frames
//! (the oldest dropped and counted past [`HELD_FRAMES`]), and packed into an answer, their
//! buffers posted again.

use super::{BUFFER_BYTES, HEADER_BYTES, HELD_FRAMES, Nic, RECEIVE_BUFFERS};
use crate::error::Error;
use crate::platform::{DmaRegion, RegisterWindow};
use cella_interfaces::net::{MAX_FRAME_BYTES, MIN_FRAME_BYTES};
use cella_interfaces::wire::{Wire, Writer};

/// What [`Nic::take`] packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Taken {
    /// Frames packed.
    pub count: u16,
    /// Bytes of the packing (each frame's length, then its bytes).
    pub bytes: usize,
    /// Frames dropped since the last take.
    pub dropped: u32,
}

/// A received frame waiting to be taken: its buffer and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Held {
    pub(super) buffer: u16,
    pub(super) length: u16,
}

impl<W: RegisterWindow, B: DmaRegion> Nic<W, B> {
    /// Takes every frame the device has received off the used ring into
    /// the held frames (dropping the oldest past [`HELD_FRAMES`], and any
    /// frame shorter than an Ethernet header); returns how many arrived.
    ///
    /// # Errors
    /// The queue's checks of what the device wrote,
    /// [`Error::UsedLengthTooShort`] for less than the header (each gives
    /// the device up), or a refused call.
    pub fn receive(&mut self) -> Result<usize, Error> {
        self.check()?;
        let mut arrived = 0;
        let mut reposted = false;
        for _ in 0..RECEIVE_BUFFERS {
            let used = match self.receive.next_used() {
                Ok(Some(used)) => used,
                Ok(None) => break,
                Err(error) => return Err(self.give_up(error)),
            };
            let id = u32::from(used.head);
            let Some(buffer) = self
                .posted
                .get_mut(usize::from(used.head))
                .and_then(Option::take)
            else {
                return Err(self.give_up(Error::UsedIdNotOutstanding { id }));
            };
            if used.written < HEADER_BYTES {
                return Err(self.give_up(Error::UsedLengthTooShort {
                    id,
                    written: used.written,
                    least: HEADER_BYTES,
                }));
            }
            let length = used.written - HEADER_BYTES;
            // Shorter than an Ethernet header, or longer than Ethernet
            // allows (the buffer has room for a few bytes more): dropped
            // and counted, never cut to size.
            if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&(length as usize)) {
                self.dropped = self.dropped.saturating_add(1);
                self.post(buffer)?;
                reposted = true;
                continue;
            }
            if self.held_count == HELD_FRAMES {
                let oldest = self.held[self.held_start];
                self.held_start = (self.held_start + 1) % HELD_FRAMES;
                self.held_count -= 1;
                self.dropped = self.dropped.saturating_add(1);
                self.post(oldest.buffer)?;
                reposted = true;
            }
            let at = (self.held_start + self.held_count) % HELD_FRAMES;
            self.held[at] = Held {
                buffer,
                // The queue checked it against the buffer's size.
                length: length as u16,
            };
            self.held_count += 1;
            arrived += 1;
        }
        if reposted {
            self.transport.notify(&self.receive)?;
        }
        Ok(arrived)
    }

    /// Packs the waiting frames, oldest first, each as its length (16 bits)
    /// and its bytes, into `out`, as many whole ones as fit; their buffers
    /// go back to the device. The dropped count is handed over and starts
    /// again from zero.
    ///
    /// # Errors
    /// [`Error::QueueBroken`], or a refused call.
    pub fn take(&mut self, out: &mut [u8]) -> Result<Taken, Error> {
        self.check()?;
        let room = out.len();
        let mut writer = Writer::new(out);
        let mut frame = [0u8; MAX_FRAME_BYTES];
        let mut count = 0u16;
        while self.held_count > 0 {
            let held = self.held[self.held_start];
            let length = usize::from(held.length).min(MAX_FRAME_BYTES);
            let offset = BUFFER_BYTES * u32::from(held.buffer) + HEADER_BYTES;
            self.receive_buffers.read(offset, &mut frame[..length])?;
            // Its length (16 bits), then its bytes.
            if writer.length() + 2 + length > room {
                break;
            }
            Wire::encode(&&frame[..length], &mut writer).map_err(|_| Error::BufferTooSmall)?;
            self.held_start = (self.held_start + 1) % HELD_FRAMES;
            self.held_count -= 1;
            count += 1;
            self.post(held.buffer)?;
        }
        if count > 0 {
            self.transport.notify(&self.receive)?;
        }
        Ok(Taken {
            count,
            bytes: writer.length(),
            dropped: core::mem::take(&mut self.dropped),
        })
    }
}
