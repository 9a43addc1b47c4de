//! The FAT library's view of the disk: a seekable byte stream over the
//! [`Store`], shared with the server, which commits its transactions.

use crate::disk::{DiskFailure, SECTOR_BYTES, Sector, Sectors};
use crate::store::Store;
use alloc::rc::Rc;
use core::cell::RefCell;

/// The store, shared by the server and the FAT library's stream (a module
/// runs one event at a time on one thread, and neither ever calls the
/// other while it holds the store).
pub type Shared<S> = Rc<RefCell<Store<S>>>;

/// What the stream needs of the store, whatever its disk: the FAT library's
/// types then name one stream type, and a file it opened can be kept
/// beside the file system it borrows (see `server.rs`).
pub trait Bytes {
    /// The disk's size in bytes.
    fn size(&self) -> u64;

    /// Copies bytes at `position` into `out`.
    ///
    /// # Errors
    /// The disk's failure.
    fn read_at(&mut self, position: u64, out: &mut [u8]) -> Result<(), DiskFailure>;

    /// Changes bytes at `position`.
    ///
    /// # Errors
    /// The disk's failure.
    fn write_at(&mut self, position: u64, bytes: &[u8]) -> Result<(), DiskFailure>;

    /// Records the first failure of the transaction under way.
    fn note_failure(&mut self, failure: DiskFailure);

    /// Changes whenever the bytes answered may have changed
    /// ([`Store::generation`]).
    fn generation(&self) -> u64;
}

impl<S: Sectors> Bytes for Store<S> {
    fn size(&self) -> u64 {
        self.count() * SECTOR_BYTES as u64
    }

    fn read_at(&mut self, position: u64, out: &mut [u8]) -> Result<(), DiskFailure> {
        Store::read_at(self, position, out)
    }

    fn write_at(&mut self, position: u64, bytes: &[u8]) -> Result<(), DiskFailure> {
        Store::write_at(self, position, bytes)
    }

    fn note_failure(&mut self, failure: DiskFailure) {
        Store::note_failure(self, failure);
    }

    fn generation(&self) -> u64 {
        Store::generation(self)
    }
}

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
pub struct Volume {
    store: Rc<RefCell<dyn Bytes>>,
    /// The disk's size in bytes (it does not change while mounted).
    size: u64,
    position: u64,
    /// A copy of the sector last read in part, with the store's generation
    /// then: the FAT library reads a directory entry field by field, each
    /// a read of a few bytes, which this answers without the store.
    window: Option<(u64, u64)>,
    window_bytes: Sector,
}

impl Volume {
    /// A stream at the start of the volume.
    pub fn new<S: Sectors>(store: Shared<S>) -> Volume {
        let size = store.borrow().size();
        Volume {
            store,
            size,
            position: 0,
            window: None,
            window_bytes: [0; SECTOR_BYTES],
        }
    }

    /// Copies `out.len()` bytes at the position, all in one sector, through
    /// the window.
    fn read_in_sector(&mut self, out: &mut [u8]) -> Result<(), DiskFailure> {
        let sector = self.position / SECTOR_BYTES as u64;
        let offset = (self.position % SECTOR_BYTES as u64) as usize;
        let generation = self.store.borrow().generation();
        if self.window != Some((sector, generation)) {
            self.window = None;
            self.store
                .borrow_mut()
                .read_at(sector * SECTOR_BYTES as u64, &mut self.window_bytes)?;
            self.window = Some((sector, generation));
        }
        out.copy_from_slice(&self.window_bytes[offset..offset + out.len()]);
        Ok(())
    }

    fn fail(&self, failure: DiskFailure) -> VolumeError {
        self.store.borrow_mut().note_failure(failure);
        VolumeError::Disk(failure)
    }
}

impl fatfs::IoBase for Volume {
    type Error = VolumeError;
}

impl fatfs::Read for Volume {
    fn read(&mut self, buffer: &mut [u8]) -> Result<usize, VolumeError> {
        let left = self.size.saturating_sub(self.position);
        let length = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let in_one_sector = (self.position % SECTOR_BYTES as u64) as usize + length <= SECTOR_BYTES;
        let outcome = if in_one_sector {
            self.read_in_sector(&mut buffer[..length])
        } else {
            self.store
                .borrow_mut()
                .read_at(self.position, &mut buffer[..length])
        };
        outcome.map_err(|failure| self.fail(failure))?;
        self.position += length as u64;
        Ok(length)
    }
}

impl fatfs::Write for Volume {
    fn write(&mut self, bytes: &[u8]) -> Result<usize, VolumeError> {
        let left = self.size.saturating_sub(self.position);
        let length = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let outcome = self
            .store
            .borrow_mut()
            .write_at(self.position, &bytes[..length]);
        outcome.map_err(|failure| self.fail(failure))?;
        self.position += length as u64;
        Ok(length)
    }

    fn flush(&mut self) -> Result<(), VolumeError> {
        // Transactions reach the disk when the server commits them.
        Ok(())
    }
}

impl fatfs::Seek for Volume {
    fn seek(&mut self, from: fatfs::SeekFrom) -> Result<u64, VolumeError> {
        let target = match from {
            fatfs::SeekFrom::Start(offset) => Some(offset),
            fatfs::SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            fatfs::SeekFrom::End(delta) => self.size.checked_add_signed(delta),
        };
        match target {
            Some(position) if position <= self.size => {
                self.position = position;
                Ok(position)
            }
            _ => Err(VolumeError::EndOfDisk),
        }
    }
}
