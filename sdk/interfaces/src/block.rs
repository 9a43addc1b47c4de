//! `block`: a disk of 512-byte sectors, served by the `virtio-blk` driver.
//!
//! Reads, writes and flushes carry a request id the caller chooses, which
//! the answer repeats, so a caller with several requests out can tell the
//! answers apart. One request moves at most [`MAX_SECTORS`] sectors: a
//! write of that many, with its name and arguments, still fits one
//! message (4,096 bytes), and eight would not.

use crate::split_request;
use crate::wire::{Reader, Wire, WireError};
use core::fmt;

/// The size of a sector, the unit of every position and count.
pub const SECTOR_BYTES: u32 = 512;
/// The most sectors one read or write moves.
pub const MAX_SECTORS: u16 = 7;
/// The most bytes one read or write moves.
pub const MAX_TRANSFER_BYTES: usize = MAX_SECTORS as usize * SECTOR_BYTES as usize;
/// The most sectors one `read_lent` or `write_lent` moves (64 KiB): the
/// bytes travel in a DMA buffer the caller lends, not in the message.
pub const MAX_LENT_SECTORS: u16 = 128;

crate::wire_record! {
    /// How big the disk is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Capacity {
        /// Its size in sectors.
        pub sectors: u64,
        /// The bytes of a sector ([`SECTOR_BYTES`]).
        pub sector_size: u32,
    }
}

impl fmt::Display for Capacity {
    /// `2048 sectors of 512 bytes`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} sectors of {} bytes",
            self.sectors, self.sector_size
        )
    }
}

crate::wire_enum! {
    /// Why a request was not done.
    pub enum BlockError {
        /// The sectors lie past the end of the disk.
        OutOfRange = 1 => "the sectors lie past the end of the disk",
        /// More than [`MAX_SECTORS`] sectors in one request.
        TooLong = 2 => "more than 7 sectors in one request",
        /// No sectors, or data that is not a whole number of sectors.
        BadLength = 3 => "not a whole number of sectors, or none",
        /// A write to a read-only disk.
        ReadOnly = 4 => "the disk is read-only",
        /// The device reported an error, or its answer made no sense.
        DeviceError = 5 => "the device reported an error",
        /// The device does not do this request.
        Unsupported = 6 => "the device does not support this request",
        /// The driver has as many requests in flight as it takes.
        Busy = 7 => "too many requests in flight; ask again later",
        /// A `read_lent` or `write_lent` came with no buffer lent, or (a
        /// read) with one lent read-only.
        NoLoan = 8 => "no buffer lent with the request fits it",
    }
}

crate::wire_record! {
    /// A request that was not done, and why.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Failed {
        /// The request's id.
        pub id: u32,
        pub error: BlockError,
    }
}

impl fmt::Display for Failed {
    /// `request 7: the disk is read-only`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "request {}: {}", self.id, self.error)
    }
}

crate::wire_record! {
    /// The sectors a read returned.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Data<'a> {
        /// The request's id.
        pub id: u32,
        /// The sectors' bytes.
        pub bytes: &'a [u8],
    }
}

impl fmt::Display for Data<'_> {
    /// `request 7: 1024 bytes, FNV-1a 0x811c9dc5`: the checksum lets a
    /// person compare what was read with what was written.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "request {}: {} bytes, FNV-1a {:#010x}",
            self.id,
            self.bytes.len(),
            checksum(self.bytes)
        )
    }
}

crate::wire_record! {
    /// A write or flush that was done.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Done {
        /// The request's id.
        pub id: u32,
    }
}

impl fmt::Display for Done {
    /// `request 7: done`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "request {}: done", self.id)
    }
}

/// The 32-bit FNV-1a checksum of `bytes`, as [`Data`] shows it.
pub fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash: u32, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

crate::interface! {
    endpoint "block";
    /// The disk's size.
    idempotent fn capacity() -> Result<Capacity, BlockError>;
    /// `count` sectors (1 to [`MAX_SECTORS`]) from `sector`.
    idempotent fn read(id: u32, sector: u64, count: u16) -> Result<Data<'_>, Failed>;
    /// Writes `bytes` (whole sectors, at most [`MAX_SECTORS`]) at `sector`.
    once fn write(id: u32, sector: u64, bytes: &[u8]) -> Result<Done, Failed>;
    /// Makes every write answered before it durable.
    once fn flush(id: u32) -> Result<Done, Failed>;
    /// `count` sectors (1 to [`MAX_LENT_SECTORS`]) from `sector` into the
    /// buffer lent read-write with the request.
    idempotent fn read_lent(id: u32, sector: u64, count: u16) -> Result<Done, Failed>;
    /// Writes `count` sectors (1 to [`MAX_LENT_SECTORS`]) at `sector` from
    /// the buffer lent with the request.
    once fn write_lent(id: u32, sector: u64, count: u16) -> Result<Done, Failed>;
}

/// A request, decoded, for a server that answers it in a later event (the
/// device finishes it after the message's event): the same decoding
/// [`serve`] does, without the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `capacity`.
    Capacity,
    /// `read`.
    Read {
        /// The request's id.
        id: u32,
        /// The first sector.
        sector: u64,
        /// How many sectors.
        count: u16,
    },
    /// `write`.
    Write {
        /// The request's id.
        id: u32,
        /// The first sector.
        sector: u64,
        /// The data.
        bytes: &'a [u8],
    },
    /// `flush`.
    Flush {
        /// The request's id.
        id: u32,
    },
    /// `read_lent`.
    ReadLent {
        /// The request's id.
        id: u32,
        /// The first sector.
        sector: u64,
        /// How many sectors.
        count: u16,
    },
    /// `write_lent`.
    WriteLent {
        /// The request's id.
        id: u32,
        /// The first sector.
        sector: u64,
        /// How many sectors.
        count: u16,
    },
}

impl<'a> Request<'a> {
    /// Decodes a request of the `block` interface.
    ///
    /// # Errors
    /// [`WireError::UnknownOperation`], or arguments that do not decode (cut
    /// short, padded, or of another type).
    pub fn decode(request: &'a [u8]) -> Result<Request<'a>, WireError> {
        let (name, mut arguments) = split_request(request);
        let decoded = match name {
            b"capacity" => Request::Capacity,
            b"read" => Request::Read {
                id: u32::decode(&mut arguments)?,
                sector: u64::decode(&mut arguments)?,
                count: u16::decode(&mut arguments)?,
            },
            b"write" => Request::Write {
                id: u32::decode(&mut arguments)?,
                sector: u64::decode(&mut arguments)?,
                bytes: <&[u8]>::decode(&mut arguments)?,
            },
            b"flush" => Request::Flush {
                id: u32::decode(&mut arguments)?,
            },
            b"read_lent" => Request::ReadLent {
                id: u32::decode(&mut arguments)?,
                sector: u64::decode(&mut arguments)?,
                count: u16::decode(&mut arguments)?,
            },
            b"write_lent" => Request::WriteLent {
                id: u32::decode(&mut arguments)?,
                sector: u64::decode(&mut arguments)?,
                count: u16::decode(&mut arguments)?,
            },
            _ => return Err(WireError::UnknownOperation),
        };
        Reader::finish(arguments)?;
        Ok(decoded)
    }

    /// The id the answer repeats (none for `capacity`).
    pub fn id(&self) -> Option<u32> {
        match *self {
            Request::Capacity => None,
            Request::Read { id, .. }
            | Request::Write { id, .. }
            | Request::Flush { id }
            | Request::ReadLent { id, .. }
            | Request::WriteLent { id, .. } => Some(id),
        }
    }
}

#[cfg(test)]
mod tests;
