//! Sending: a frame copied into a free transmit slot behind a zero header and put on the
//! transmit queue; slots come back when the device has used them.

use super::{BUFFER_BYTES, HEADER_BYTES, Nic, TRANSMIT_IN_FLIGHT};
use crate::error::Error;
use crate::platform::{DmaRegion, RegisterWindow};
use crate::queue::Segment;
use cella_interfaces::net::{MAX_FRAME_BYTES, MIN_FRAME_BYTES};

/// Why a frame was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendRefusal {
    /// Shorter than the Ethernet header or longer than the longest frame.
    BadLength,
    /// [`TRANSMIT_IN_FLIGHT`] frames are in flight.
    Busy,
    /// The queue or the platform failed.
    Device(Error),
}

impl From<Error> for SendRefusal {
    fn from(error: Error) -> SendRefusal {
        SendRefusal::Device(error)
    }
}

impl<W: RegisterWindow, B: DmaRegion> Nic<W, B> {
    /// Frees the transmit slots of the frames the device has sent; returns
    /// how many.
    ///
    /// # Errors
    /// The queue's checks of what the device wrote (each gives the device
    /// up), or a refused call.
    pub fn reclaim(&mut self) -> Result<usize, Error> {
        self.check()?;
        let mut freed = 0;
        for _ in 0..TRANSMIT_IN_FLIGHT {
            let used = match self.transmit.next_used() {
                Ok(Some(used)) => used,
                Ok(None) => break,
                Err(error) => return Err(self.give_up(error)),
            };
            let Some(slot) = self
                .sending
                .iter()
                .position(|head| *head == Some(used.head))
            else {
                return Err(self.give_up(Error::UsedIdNotOutstanding {
                    id: u32::from(used.head),
                }));
            };
            self.sending[slot] = None;
            freed += 1;
        }
        Ok(freed)
    }

    /// Sends `frame` (the header is the driver's: no offloads).
    ///
    /// # Errors
    /// A [`SendRefusal`]; nothing reached the device then.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), SendRefusal> {
        if frame.len() < MIN_FRAME_BYTES || frame.len() > MAX_FRAME_BYTES {
            return Err(SendRefusal::BadLength);
        }
        self.reclaim()?;
        let slot = self
            .sending
            .iter()
            .position(Option::is_none)
            .ok_or(SendRefusal::Busy)?;
        let offset = BUFFER_BYTES * slot as u32;
        self.transmit_buffers
            .write(offset, &[0u8; HEADER_BYTES as usize])
            .map_err(Error::from)?;
        self.transmit_buffers
            .write(offset + HEADER_BYTES, frame)
            .map_err(Error::from)?;
        let address = self
            .transmit_buffers
            .device_address()
            .map_err(Error::from)?;
        let head = self.transmit.submit(&[Segment {
            address: address + u64::from(offset),
            length: HEADER_BYTES + frame.len() as u32,
            device_writes: false,
        }])?;
        self.sending[slot] = Some(head);
        self.transport.notify(&self.transmit)?;
        Ok(())
    }
}
