//! The file server's state: the disk's store, the mounted volume, the open
//! files and the handle table; mounting (journal replay first), one
//! transaction per request, and finding what a path names. The operations
//! themselves are in `operations.rs`.

use crate::disk::{DiskFailure, Sectors};
use crate::errors::from_fat;
use crate::handles::{BadState, Handles, Opening};
use crate::journal::{Journal, Replayed};
use crate::layout::{DIRTY_BIT, FREE_UNKNOWN, FSINFO_FREE_OFFSET, Layout, NotFat};
use crate::paths::{self, components};
use crate::store::Store;
use crate::volume::{Shared, Volume};
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use cella_sdk::interfaces::fs::{FsError, Handle};
use core::cell::RefCell;

/// The FAT library's types over the store.
pub type Fat<S> = fatfs::FileSystem<Volume<S>, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;
/// An open file of the mounted volume.
pub type FatFile<S> =
    fatfs::File<'static, Volume<S>, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;
/// A directory of the mounted volume.
pub type FatDir<S> =
    fatfs::Dir<'static, Volume<S>, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;
/// A directory entry of the mounted volume.
pub type FatEntry<S> =
    fatfs::DirEntry<'static, Volume<S>, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;

/// A file some handles have open: one per file, whatever its handles.
pub struct OpenFile<S: Sectors + 'static> {
    /// The path, lowercase.
    pub key: String,
    /// The FAT library's file, kept so sequential access does not walk the
    /// cluster chain again.
    pub file: FatFile<S>,
    /// How many handles have it.
    pub users: u32,
}

/// What a path names.
pub enum Target<S: Sectors + 'static> {
    /// The root directory.
    Root,
    /// A file or directory in some directory.
    Entry(FatEntry<S>),
}

/// Something the server noticed that a person should hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A volume was mounted; the journal had this in it.
    Mounted(Replayed),
    /// The volume has no room for the journal: transactions go in place.
    NoJournal,
    /// A mount failed.
    MountFailed(FsError),
    /// The disk failed a transaction; the volume is mounted again on the
    /// next request.
    DiskFailed(DiskFailure),
}

/// The fs server over a disk.
pub struct FileServer<S: Sectors + 'static> {
    pub(crate) store: Shared<S>,
    pub(crate) fs: Option<&'static Fat<S>>,
    pub(crate) handles: Handles,
    pub(crate) files: Vec<Option<OpenFile<S>>>,
    pub(crate) buffer: Vec<u8>,
    notices: Vec<Notice>,
}

impl<S: Sectors + 'static> FileServer<S> {
    /// A server over `disk` for an instance whose epoch is `epoch`, with a
    /// cache of `cache_sectors`; it mounts at the first request.
    pub fn new(disk: S, epoch: u16, cache_sectors: usize) -> FileServer<S> {
        FileServer::with_handles(disk, Handles::new(epoch), cache_sectors)
    }

    /// A server that takes over the handle table a predecessor saved.
    ///
    /// # Errors
    /// [`BadState`] for a table it cannot read.
    pub fn restore(disk: S, saved: &[u8], cache_sectors: usize) -> Result<FileServer<S>, BadState> {
        Ok(FileServer::with_handles(
            disk,
            Handles::restore(saved)?,
            cache_sectors,
        ))
    }

    fn with_handles(disk: S, handles: Handles, cache_sectors: usize) -> FileServer<S> {
        FileServer {
            store: Rc::new(RefCell::new(Store::new(disk, cache_sectors))),
            fs: None,
            handles,
            files: Vec::new(),
            buffer: alloc::vec![0; cella_sdk::interfaces::fs::MAX_TRANSFER_BYTES],
            notices: Vec::new(),
        }
    }

    /// Writes the handle table for a successor; returns its length.
    ///
    /// # Errors
    /// [`BadState::Length`] if it does not fit `out`.
    pub fn save(&self, out: &mut [u8]) -> Result<usize, BadState> {
        self.handles.save(out)
    }

    /// The store (the tests look at the disk through it).
    pub fn store(&self) -> &Shared<S> {
        &self.store
    }

    /// Whether a volume is mounted.
    pub fn is_mounted(&self) -> bool {
        self.fs.is_some()
    }

    /// Takes what happened since the last call, for the log.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        core::mem::take(&mut self.notices)
    }

    /// The mounted volume, mounting it first if needed: the journal is
    /// replayed, the FSInfo free count set to "unknown" (the server does not
    /// keep it on the disk), and the FAT library mounts what is left.
    ///
    /// # Errors
    /// [`FsError::NoFileSystem`] for a disk without a FAT volume of 512-byte
    /// sectors, [`FsError::DeviceError`], or the FAT library's refusal.
    pub(crate) fn mount(&mut self) -> Result<&'static Fat<S>, FsError> {
        if let Some(fs) = self.fs {
            return Ok(fs);
        }
        let outcome = self.mount_volume();
        match outcome {
            Ok((fs, replayed)) => {
                self.notices.push(Notice::Mounted(replayed));
                self.fs = Some(fs);
                Ok(fs)
            }
            Err(error) => {
                self.store.borrow_mut().abandon();
                self.notices.push(Notice::MountFailed(error));
                Err(error)
            }
        }
    }

    fn mount_volume(&mut self) -> Result<(&'static Fat<S>, Replayed), FsError> {
        let device = |_| FsError::DeviceError;
        let mut store = self.store.borrow_mut();
        store.forget();
        let boot = store.read_uncached(0).map_err(device)?;
        let layout = Layout::read(&boot, store.count()).map_err(|error| match error {
            NotFat::NoFileSystem | NotFat::SectorSize => FsError::NoFileSystem,
        })?;
        let mut journal = layout
            .journal()
            .map(|(first, end)| Journal::new(first, end));
        let replayed = match journal.as_mut() {
            Some(journal) => journal.replay(store.disk_mut()).map_err(device)?,
            None => {
                self.notices.push(Notice::NoJournal);
                Replayed::Nothing
            }
        };
        let boot = store.read_uncached(0).map_err(device)?;
        let clean = boot[layout.status_offset()] & DIRTY_BIT == 0;
        store.attach(layout, journal, clean);
        if let Some(info) = layout.fs_info {
            let position = info * crate::disk::SECTOR_BYTES as u64 + FSINFO_FREE_OFFSET as u64;
            let mut free = [0u8; 4];
            store.read_at(position, &mut free).map_err(device)?;
            if u32::from_le_bytes(free) != FREE_UNKNOWN {
                store
                    .write_at(position, &FREE_UNKNOWN.to_le_bytes())
                    .map_err(device)?;
                store.commit().map_err(device)?;
            }
        }
        drop(store);
        let options = fatfs::FsOptions::new().update_accessed_date(false);
        let fs = Fat::new(Volume::new(Rc::clone(&self.store)), options).map_err(from_fat)?;
        Ok((Box::leak(Box::new(fs)), replayed))
    }

    /// Forgets the mounted volume after a failed transaction: the open files
    /// are reopened by path when their handles are next used.
    pub(crate) fn unmount(&mut self) {
        self.fs = None;
        for opening in self.handles.openings() {
            opening.file = None;
        }
        // The files belong to the forgotten mount: dropping one would write
        // its directory entry through it.
        for file in self.files.drain(..).flatten() {
            core::mem::forget(file);
        }
    }

    /// Runs one request that may change the disk as a transaction: its
    /// changes are committed when it succeeds and dropped when it fails (the
    /// volume is then mounted again at the next request, so what the FAT
    /// library holds in memory matches the disk).
    pub(crate) fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut Self, &'static Fat<S>) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        let fs = self.mount()?;
        let outcome = body(self, fs);
        let mut store = self.store.borrow_mut();
        let committed = match outcome {
            Ok(_) => store.commit(),
            Err(_) if store.is_dirty() || store.failure().is_some() => {
                store.abandon();
                drop(store);
                self.unmount();
                return outcome;
            }
            Err(_) => Ok(()),
        };
        drop(store);
        match committed {
            Ok(()) => outcome,
            Err(failure) => {
                self.notices.push(Notice::DiskFailed(failure));
                self.unmount();
                Err(FsError::DeviceError)
            }
        }
    }

    /// Commits what a request changed so far (a request too big for one
    /// transaction, done in steps).
    pub(crate) fn commit_step(store: &Shared<S>) -> Result<(), FsError> {
        store
            .borrow_mut()
            .commit()
            .map_err(|_| FsError::DeviceError)
    }

    /// The index of the open file `handle` names, opening it by path if
    /// this mount has not yet; and whether the handle may write.
    pub(crate) fn file_for(&mut self, handle: Handle) -> Result<(usize, bool), FsError> {
        let opening = self.handles.get(handle)?;
        let writable = opening.writable;
        if let Some(index) = opening.file {
            return Ok((index, writable));
        }
        let path = opening.path.clone();
        let fs = self.mount()?;
        let parts = components(&path)?;
        let entry = match target(fs, &parts)? {
            Target::Root => return Err(FsError::IsDirectory),
            Target::Entry(entry) if entry.is_dir() => return Err(FsError::IsDirectory),
            Target::Entry(entry) => entry,
        };
        let index = self.attach_file(paths::key(&path), || entry.to_file());
        self.handles.get(handle)?.file = Some(index);
        Ok((index, writable))
    }

    /// The open file of `key`, one more user of it.
    pub(crate) fn attach_file(&mut self, key: String, open: impl FnOnce() -> FatFile<S>) -> usize {
        let existing = self
            .files
            .iter()
            .position(|file| file.as_ref().is_some_and(|file| file.key == key));
        if let Some(index) = existing {
            if let Some(file) = self.files[index].as_mut() {
                file.users += 1;
            }
            return index;
        }
        let opened = OpenFile {
            key,
            file: open(),
            users: 1,
        };
        match self.files.iter().position(Option::is_none) {
            Some(index) => {
                self.files[index] = Some(opened);
                index
            }
            None => {
                self.files.push(Some(opened));
                self.files.len() - 1
            }
        }
    }

    /// The open file at `index`.
    pub(crate) fn open_file(&mut self, index: usize) -> Result<&mut FatFile<S>, FsError> {
        self.files
            .get_mut(index)
            .and_then(Option::as_mut)
            .map(|open| &mut open.file)
            .ok_or(FsError::Stale)
    }

    /// One user fewer of the open file at `index`; the last one writes its
    /// directory entry and closes it.
    pub(crate) fn release_file(&mut self, index: usize) -> Result<(), FsError> {
        let Some(open) = self.files.get_mut(index).and_then(Option::as_mut) else {
            return Ok(());
        };
        open.users = open.users.saturating_sub(1);
        if open.users > 0 {
            return Ok(());
        }
        if let Some(mut open) = self.files[index].take() {
            fatfs::Write::flush(&mut open.file).map_err(from_fat)?;
        }
        Ok(())
    }

    /// Ends every handle of the file `key` (it is being removed).
    pub(crate) fn close_all(&mut self, key: &str) -> Result<(), FsError> {
        self.handles
            .close_where(|opening: &Opening| paths::key(&opening.path) == key);
        let index = self
            .files
            .iter()
            .position(|file| file.as_ref().is_some_and(|file| file.key == key));
        if let Some(index) = index
            && let Some(mut open) = self.files[index].take()
        {
            fatfs::Write::flush(&mut open.file).map_err(from_fat)?;
        }
        Ok(())
    }
}

/// The entry called `name` in `directory`.
pub(crate) fn find<S: Sectors + 'static>(
    directory: &FatDir<S>,
    name: &str,
) -> Result<Option<FatEntry<S>>, FsError> {
    for entry in directory.iter() {
        let entry = entry.map_err(from_fat)?;
        let dots = entry.file_name() == "." || entry.file_name() == "..";
        if !dots && entry.eq_name(name) {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// The directory `parts` names.
pub(crate) fn directory<S: Sectors + 'static>(
    fs: &'static Fat<S>,
    parts: &[&str],
) -> Result<FatDir<S>, FsError> {
    let mut current = fs.root_dir();
    for part in parts {
        current = match find(&current, part)? {
            None => return Err(FsError::NotFound),
            Some(entry) if entry.is_dir() => entry.to_dir(),
            Some(_) => return Err(FsError::NotDirectory),
        };
    }
    Ok(current)
}

/// What `parts` names.
pub(crate) fn target<S: Sectors + 'static>(
    fs: &'static Fat<S>,
    parts: &[&str],
) -> Result<Target<S>, FsError> {
    let Some((last, parents)) = parts.split_last() else {
        return Ok(Target::Root);
    };
    let parent = directory(fs, parents)?;
    find(&parent, last)?
        .map(Target::Entry)
        .ok_or(FsError::NotFound)
}
