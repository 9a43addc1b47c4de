//! The module's disk: [`Sectors`] over the `block` endpoint, each read,
//! write and flush a call the handler waits for (`Endpoint::call_and_wait`).

use crate::disk::{DiskFailure, SECTOR_BYTES, Sectors};
use cella_sdk::interfaces::block::{self, BlockError};
use cella_sdk::{Endpoint, ErrorCode, MAX_MESSAGE_BYTES};
use core::cell::Cell;

/// How long one block request may take.
const DEADLINE_MILLISECONDS: u32 = 5000;
/// How often a request the driver answers `Busy` is asked again.
const BUSY_TRIES: usize = 16;

/// The `block` endpoint as a disk.
pub struct BlockDisk {
    endpoint: Endpoint,
    sectors: Cell<u64>,
    next_id: u32,
}

fn from_block(error: BlockError) -> DiskFailure {
    match error {
        BlockError::OutOfRange => DiskFailure::OutOfRange,
        BlockError::ReadOnly => DiskFailure::ReadOnly,
        _ => DiskFailure::Device,
    }
}

fn from_call(error: ErrorCode) -> DiskFailure {
    match error {
        ErrorCode::TimedOut => DiskFailure::TimedOut,
        _ => DiskFailure::Device,
    }
}

impl BlockDisk {
    /// The disk behind `endpoint`; its size is asked at the first use.
    pub fn new(endpoint: Endpoint) -> BlockDisk {
        BlockDisk {
            endpoint,
            sectors: Cell::new(0),
            next_id: 1,
        }
    }

    fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    /// Sends `request` and hands its answer to `decode`, asking again while
    /// the driver is busy.
    fn call<T>(
        &self,
        request: &[u8],
        mut decode: impl FnMut(&[u8]) -> Option<Result<T, BlockError>>,
    ) -> Result<T, DiskFailure> {
        let mut reply = [0u8; MAX_MESSAGE_BYTES as usize];
        for _ in 0..BUSY_TRIES {
            let answer = self
                .endpoint
                .call_and_wait(request, DEADLINE_MILLISECONDS, &mut reply)
                .map_err(from_call)?;
            match decode(answer).ok_or(DiskFailure::Device)? {
                Err(BlockError::Busy) => continue,
                outcome => return outcome.map_err(from_block),
            }
        }
        Err(DiskFailure::Device)
    }
}

impl Sectors for BlockDisk {
    fn read(&mut self, sector: u64, buffer: &mut [u8]) -> Result<(), DiskFailure> {
        let id = self.id();
        let count = u16::try_from(buffer.len() / SECTOR_BYTES).map_err(|_| DiskFailure::Device)?;
        let mut request = [0u8; 64];
        let length = block::read::request(&mut request, id, sector, count)
            .map_err(|_| DiskFailure::Device)?;
        self.call(&request[..length], |answer| {
            Some(match block::read::reply(answer).ok()? {
                Ok(data) if data.id == id && data.bytes.len() == buffer.len() => {
                    buffer.copy_from_slice(data.bytes);
                    Ok(())
                }
                Ok(_) => Err(BlockError::DeviceError),
                Err(failed) => Err(failed.error),
            })
        })
    }

    fn write(&mut self, sector: u64, bytes: &[u8]) -> Result<(), DiskFailure> {
        let id = self.id();
        let mut request = [0u8; MAX_MESSAGE_BYTES as usize];
        let length = block::write::request(&mut request, id, sector, bytes)
            .map_err(|_| DiskFailure::Device)?;
        self.call(&request[..length], |answer| {
            Some(match block::write::reply(answer).ok()? {
                Ok(done) if done.id == id => Ok(()),
                Ok(_) => Err(BlockError::DeviceError),
                Err(failed) => Err(failed.error),
            })
        })
    }

    fn flush(&mut self) -> Result<(), DiskFailure> {
        let id = self.id();
        let mut request = [0u8; 32];
        let length = block::flush::request(&mut request, id).map_err(|_| DiskFailure::Device)?;
        self.call(&request[..length], |answer| {
            Some(match block::flush::reply(answer).ok()? {
                Ok(done) if done.id == id => Ok(()),
                Ok(_) => Err(BlockError::DeviceError),
                // A device without a flush command writes through: each
                // answered write is down already.
                Err(failed) if failed.error == BlockError::Unsupported => Ok(()),
                Err(failed) => Err(failed.error),
            })
        })
    }

    fn count(&self) -> u64 {
        if self.sectors.get() == 0 {
            let mut request = [0u8; 16];
            if let Ok(length) = block::capacity::request(&mut request) {
                let sectors = self.call(&request[..length], |answer| {
                    Some(
                        block::capacity::reply(answer)
                            .ok()?
                            .map(|capacity| capacity.sectors),
                    )
                });
                self.sectors.set(sectors.unwrap_or(0));
            }
        }
        self.sectors.get()
    }
}
