//! The FAT library's view of the disk: a seekable byte stream over the
//! [`Store`], shared with the server, which commits its transactions.

use crate::disk::{DiskFailure, SECTOR_BYTES, Sectors};
use crate::store::Store;
use alloc::sync::Arc;
use spin::Mutex;

/// The store, shared by the server and the FAT library's stream (a module's
/// state must be `Send`; one event runs at a time, so the lock is never
/// contended).
pub type Shared<S> = Arc<Mutex<Store<S>>>;

/// Why the stream did not read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeError {
    /// The disk failed.
    Disk(DiskFailure),
    /// A read reached the end of the disk.
    EndOfDisk,
    /// A write reached the end of the disk.
    WriteZero,
}

impl fatfs::IoError for VolumeError {
    fn is_interrupted(&self) -> bool {
        false
    }

    fn new_unexpected_eof_error() -> Self {
        VolumeError::EndOfDisk
    }

    fn new_write_zero_error() -> Self {
        VolumeError::WriteZero
    }
}

/// A position on the shared store.
pub struct Volume<S: Sectors> {
    store: Shared<S>,
    position: u64,
}

impl<S: Sectors> Volume<S> {
    /// A stream at the start of the volume.
    pub fn new(store: Shared<S>) -> Volume<S> {
        Volume { store, position: 0 }
    }

    fn size(&self) -> u64 {
        self.store.lock().count() * SECTOR_BYTES as u64
    }

    fn fail(&self, failure: DiskFailure) -> VolumeError {
        self.store.lock().note_failure(failure);
        VolumeError::Disk(failure)
    }
}

impl<S: Sectors> fatfs::IoBase for Volume<S> {
    type Error = VolumeError;
}

impl<S: Sectors> fatfs::Read for Volume<S> {
    fn read(&mut self, buffer: &mut [u8]) -> Result<usize, VolumeError> {
        let left = self.size().saturating_sub(self.position);
        let length = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let outcome = self
            .store
            .lock()
            .read_at(self.position, &mut buffer[..length]);
        outcome.map_err(|failure| self.fail(failure))?;
        self.position += length as u64;
        Ok(length)
    }
}

impl<S: Sectors> fatfs::Write for Volume<S> {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, VolumeError> {
        let left = self.size().saturating_sub(self.position);
        let length = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let outcome = self.store.lock().write_at(self.position, &bytes[..length]);
        outcome.map_err(|failure| self.fail(failure))?;
        self.position += length as u64;
        Ok(length)
    }

    fn flush(&mut self) -> Result<(), VolumeError> {
        // Transactions reach the disk when the server commits them.
        Ok(())
    }
}

impl<S: Sectors> fatfs::Seek for Volume<S> {
    fn seek(&mut self, from: fatfs::SeekFrom) -> Result<u64, VolumeError> {
        let target = match from {
            fatfs::SeekFrom::Start(offset) => Some(offset),
            fatfs::SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            fatfs::SeekFrom::End(delta) => self.size().checked_add_signed(delta),
        };
        match target {
            Some(position) if position <= self.size() => {
                self.position = position;
                Ok(position)
            }
            _ => Err(VolumeError::EndOfDisk),
        }
    }
}
