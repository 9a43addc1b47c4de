//! The file server's state: the disk's store, the mounted volume and the
//! handle table; mounting (journal replay first), one transaction per
//! request, and finding what a path names. The operations themselves are
//! in `operations.rs`.
//!
//! The file last opened, read or written stays open between requests,
//! beside the file system it borrows ([`Mounted`]): a run of reads or
//! writes through one file neither finds it again by path nor walks its
//! cluster chain from the start to reach its offset. Every other request
//! closes it first, and so does a failed one.

use crate::disk::{DiskFailure, SECTOR_BYTES, Sectors};
use crate::errors::from_fat;
use crate::handles::{BadState, Handles};
use crate::journal::{Journal, Replayed};
use crate::layout::{DIRTY_BIT, FREE_UNKNOWN, FSINFO_FREE_OFFSET, Layout};
use crate::paths::{self, components};
use crate::store::Store;
use crate::volume::{Shared, Volume};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use cella_sdk::interfaces::fs::{FsError, Handle, MAX_LISTING_BYTES, MAX_TRANSFER_BYTES};
use core::cell::RefCell;

/// The FAT library's file system over the store.
pub type Fat = fatfs::FileSystem<Volume, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;
/// A file of the mounted volume.
pub type FatFile<'a> = fatfs::File<'a, Volume, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;
/// A directory of the mounted volume.
pub type FatDir<'a> = fatfs::Dir<'a, Volume, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;
/// A directory entry of the mounted volume.
pub type FatEntry<'a> =
    fatfs::DirEntry<'a, Volume, fatfs::NullTimeProvider, fatfs::LossyOemCpConverter>;

/// The file kept open between requests, with its path's key.
pub struct KeptFile<'a> {
    key: String,
    file: FatFile<'a>,
}

/// The file kept open, if any.
pub type Kept<'a> = Option<KeptFile<'a>>;

self_cell::self_cell!(
    /// The mounted volume and the file kept open on it.
    pub struct Mounted {
        owner: Fat,
        #[covariant]
        dependent: Kept,
    }
);

/// What a path names.
pub enum Target<'a> {
    /// The root directory.
    Root,
    /// A file or directory in some directory.
    Entry(FatEntry<'a>),
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

/// What the operations change besides the volume.
pub struct State {
    /// The open handles.
    pub handles: Handles,
    /// A read's or a listing's answer.
    pub buffer: Vec<u8>,
    /// What happened, for the log.
    pub notices: Vec<Notice>,
}

/// The fs server over a disk.
pub struct FileServer<S: Sectors> {
    pub(crate) store: Shared<S>,
    pub(crate) mounted: Option<Mounted>,
    pub(crate) state: State,
    /// Whether the FAT library knows the free-cluster count without reading
    /// the whole FAT: then each transaction writes it into FSInfo.
    pub(crate) free_known: bool,
}

impl<S: Sectors> Drop for FileServer<S> {
    fn drop(&mut self) {
        self.unmount();
    }
}

impl<S: Sectors> FileServer<S> {
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
            mounted: None,
            free_known: false,
            state: State {
                handles,
                buffer: alloc::vec![0; MAX_TRANSFER_BYTES.max(MAX_LISTING_BYTES)],
                notices: Vec::new(),
            },
        }
    }

    /// Writes the handle table for a successor; returns its length.
    ///
    /// # Errors
    /// [`BadState::Length`] if it does not fit `out`.
    pub fn save(&self, out: &mut [u8]) -> Result<usize, BadState> {
        self.state.handles.save(out)
    }

    /// The store (the tests look at the disk through it).
    pub fn store(&self) -> &Shared<S> {
        &self.store
    }

    /// How many handles are open.
    pub fn open_handles(&self) -> usize {
        self.state.handles.count()
    }

    /// Whether a volume is mounted.
    pub fn is_mounted(&self) -> bool {
        self.mounted.is_some()
    }

    /// Takes what happened since the last call, for the log.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        core::mem::take(&mut self.state.notices)
    }

    /// Mounts the volume if it is not: the journal is replayed, then the
    /// FAT library mounts what is left.
    ///
    /// # Errors
    /// [`FsError::NoFileSystem`] for a disk without a FAT volume of 512-byte
    /// sectors, [`FsError::DeviceError`], or the FAT library's refusal.
    pub(crate) fn mount(&mut self) -> Result<(), FsError> {
        if self.mounted.is_some() {
            return Ok(());
        }
        match self.mount_volume() {
            Ok((fs, replayed, free_known)) => {
                self.state.notices.push(Notice::Mounted(replayed));
                self.mounted = Some(Mounted::new(fs, |_| None));
                self.free_known = free_known;
                Ok(())
            }
            Err(error) => {
                self.store.borrow_mut().abandon();
                self.state.notices.push(Notice::MountFailed(error));
                Err(error)
            }
        }
    }

    fn mount_volume(&mut self) -> Result<(Fat, Replayed, bool), FsError> {
        let device = |_| FsError::DeviceError;
        {
            let mut store = self.store.borrow_mut();
            store.forget();
            let boot = store.read_uncached(0).map_err(device)?;
            let layout = Layout::read(&boot, store.count()).map_err(|_| FsError::NoFileSystem)?;
            let mut journal = layout
                .journal()
                .map(|(first, end)| Journal::new(first, end));
            let replayed = match journal.as_mut() {
                Some(journal) => journal.replay(store.disk_mut()).map_err(device)?,
                None => {
                    self.state.notices.push(Notice::NoJournal);
                    Replayed::Nothing
                }
            };
            let boot = store.read_uncached(0).map_err(device)?;
            let clean = boot[layout.status_offset()] & DIRTY_BIT == 0;
            store.attach(layout, journal, clean);
            // The FAT library takes FSInfo's free count when the volume is
            // clean and the count in range; otherwise it counts at the first
            // `space`.
            let mut free_known = false;
            if let Some(info) = layout.fs_info {
                let mut free = [0u8; 4];
                let position = info * SECTOR_BYTES as u64 + FSINFO_FREE_OFFSET as u64;
                store.read_at(position, &mut free).map_err(device)?;
                let free = u32::from_le_bytes(free);
                free_known = clean && free != FREE_UNKNOWN && u64::from(free) <= layout.clusters;
                if !free_known && free != FREE_UNKNOWN {
                    // A count the library does not take would go stale.
                    store
                        .write_at(position, &FREE_UNKNOWN.to_le_bytes())
                        .map_err(device)?;
                    store.commit().map_err(device)?;
                }
            }
            let options = fatfs::FsOptions::new().update_accessed_date(false);
            drop(store);
            let fs = Fat::new(Volume::new(Rc::clone(&self.store)), options).map_err(from_fat)?;
            Ok((fs, replayed, free_known))
        }
    }
}

impl<S: Sectors> FileServer<S> {
    /// Forgets the mounted volume after a failed transaction, so what the
    /// FAT library holds in memory is read from the disk again. What the
    /// library writes as it lets go (its free count, its clean flag, a file
    /// it had not finished) is dropped with the transaction's changes.
    pub(crate) fn unmount(&mut self) {
        self.free_known = false;
        self.mounted = None;
        self.store.borrow_mut().abandon();
    }

    /// Runs one request as a transaction that does not use the kept file
    /// (closed first): see [`FileServer::transaction_with_file`].
    pub(crate) fn transaction<T>(
        &mut self,
        body: impl FnOnce(&mut State, &Shared<S>, &Fat) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        self.transaction_with_file(|state, store, fs, kept| {
            *kept = None;
            body(state, store, fs)
        })
    }

    /// Runs one request as a transaction: its changes are committed when
    /// it succeeds and dropped when it fails (the volume is then mounted
    /// again at the next request). The body may keep a file open for the
    /// next request; a failed request closes it.
    pub(crate) fn transaction_with_file<T>(
        &mut self,
        body: impl for<'a> FnOnce(&mut State, &Shared<S>, &'a Fat, &mut Kept<'a>) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        self.mount()?;
        let Some(mounted) = self.mounted.as_mut() else {
            return Err(FsError::NoFileSystem);
        };
        let state = &mut self.state;
        let store = &self.store;
        let free_known = self.free_known;
        let (committed, outcome) = mounted.with_dependent_mut(|fs, kept| {
            let outcome = body(state, store, fs, kept);
            if outcome.is_err() {
                *kept = None;
            }
            if outcome.is_ok() && free_known && store.borrow().is_dirty() {
                keep_free_count(store, fs);
            }
            let mut store = store.borrow_mut();
            let committed = match outcome {
                Ok(_) => store.commit(),
                Err(_) if store.is_dirty() || store.failure().is_some() => {
                    Err(store.failure().unwrap_or(DiskFailure::Device))
                }
                Err(_) => Ok(()),
            };
            (committed, outcome)
        });
        match (committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(_), Err(error)) if error != FsError::DeviceError => {
                // A refused request that had changed something: dropped.
                self.unmount();
                Err(error)
            }
            (Err(failure), _) => {
                self.state.notices.push(Notice::DiskFailed(failure));
                self.unmount();
                Err(FsError::DeviceError)
            }
        }
    }
}

/// Writes the FAT library's free-cluster count into FSInfo (part of the
/// transaction under way), so the next mount need not count.
pub(crate) fn keep_free_count<S: Sectors>(store: &Shared<S>, fs: &Fat) {
    let Ok(stats) = fs.stats() else {
        return;
    };
    let mut store = store.borrow_mut();
    let Some(info) = store.layout().and_then(|layout| layout.fs_info) else {
        return;
    };
    let position = info * SECTOR_BYTES as u64 + FSINFO_FREE_OFFSET as u64;
    let mut free = [0u8; 4];
    if store.read_at(position, &mut free).is_ok()
        && u32::from_le_bytes(free) != stats.free_clusters()
        && let Err(failure) = store.write_at(position, &stats.free_clusters().to_le_bytes())
    {
        store.note_failure(failure);
    }
}

/// Commits what a request changed so far (a request too big for one
/// transaction, done in steps).
pub(crate) fn commit_step<S: Sectors>(store: &Shared<S>) -> Result<(), FsError> {
    store
        .borrow_mut()
        .commit()
        .map_err(|_| FsError::DeviceError)
}

/// The most entries a FAT directory holds; a directory that yields more has
/// a cluster chain that loops.
pub(crate) const MOST_ENTRIES: usize = 65_536;

/// The entry called `name` in `directory`.
///
/// # Errors
/// [`FsError::Corrupt`] for a directory that yields more entries than FAT
/// allows (its chain loops), or the library's error.
pub(crate) fn find<'a>(
    directory: &FatDir<'a>,
    name: &str,
) -> Result<Option<FatEntry<'a>>, FsError> {
    for (index, entry) in directory.iter().enumerate() {
        if index >= MOST_ENTRIES {
            return Err(FsError::Corrupt);
        }
        let entry = entry.map_err(from_fat)?;
        // The name is compared first: `file_name` makes a string, which
        // only a matching entry pays for (a path never names `.` or `..`).
        if entry.eq_name(name) && !matches!(entry.file_name().as_str(), "." | "..") {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// The directory `parts` names.
pub(crate) fn directory<'a>(fs: &'a Fat, parts: &[&str]) -> Result<FatDir<'a>, FsError> {
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
pub(crate) fn target<'a>(fs: &'a Fat, parts: &[&str]) -> Result<Target<'a>, FsError> {
    let Some((last, parents)) = parts.split_last() else {
        return Ok(Target::Root);
    };
    let parent = directory(fs, parents)?;
    find(&parent, last)?
        .map(Target::Entry)
        .ok_or(FsError::NotFound)
}

/// The file `path` names.
///
/// # Errors
/// [`FsError::IsDirectory`] for a directory, or what finding it says.
pub(crate) fn file_at<'a>(fs: &'a Fat, path: &str) -> Result<FatFile<'a>, FsError> {
    let parts = components(path)?;
    match target(fs, &parts)? {
        Target::Entry(entry) if entry.is_file() => Ok(entry.to_file()),
        _ => Err(FsError::IsDirectory),
    }
}

/// Keeps `file`, opened by `path`, for the next request.
pub(crate) fn keep<'a>(kept: &mut Kept<'a>, path: &str, file: FatFile<'a>) {
    *kept = None;
    *kept = Some(KeptFile {
        key: paths::key(path),
        file,
    });
}

/// The file `handle` names: the kept file if it is that one, otherwise
/// opened again by its path and kept instead; and whether the handle may
/// write.
pub(crate) fn file_for<'k, 'a>(
    state: &mut State,
    fs: &'a Fat,
    kept: &'k mut Kept<'a>,
    handle: Handle,
) -> Result<(&'k mut FatFile<'a>, bool), FsError> {
    let opening = state.handles.get(handle)?;
    let writable = opening.writable;
    let key = paths::key(&opening.path);
    let file = match kept.take() {
        Some(file) if file.key == key => file,
        other => {
            drop(other);
            KeptFile {
                key,
                file: file_at(fs, &opening.path)?,
            }
        }
    };
    Ok((&mut kept.insert(file).file, writable))
}
