//! The `fs` interface's operations, each one transaction on the mounted
//! volume (see `server.rs`).

use crate::disk::Sectors;
use crate::errors::from_fat;
use crate::handles::{Opening, writable};
use crate::paths::{self, components};
use crate::server::{
    FatFile, FileServer, MOST_ENTRIES, Target, directory, file_for, find, keep, target,
};
use crate::shrink::{shrink, size_of};
use cella_sdk::interfaces::fs::{
    self, Data, Done, Entry, FsError, Handle, Kind, Listing, MAX_LISTING_BYTES, MAX_NAME_BYTES,
    MAX_TRANSFER_BYTES, Mode, Opened, Space, Status, Written,
};
use cella_sdk::interfaces::wire::{Wire, Writer};
use fatfs::{Read, Seek, SeekFrom, Write};

/// The largest FAT file.
const LARGEST_FILE: u64 = u32::MAX as u64;

/// Moves the file's position to `offset` (nothing to do where it is
/// already: a kept file's next read or write).
fn seek_to(file: &mut FatFile<'_>, offset: u64) -> Result<(), FsError> {
    file.seek(SeekFrom::Start(offset)).map_err(from_fat)?;
    Ok(())
}

impl<S: Sectors> FileServer<S> {
    fn read_into_buffer(
        &mut self,
        handle: Handle,
        offset: u64,
        length: u32,
    ) -> Result<usize, FsError> {
        let length = length as usize;
        if length == 0 {
            return Err(FsError::BadArgument);
        }
        if length > MAX_TRANSFER_BYTES {
            return Err(FsError::TooLong);
        }
        self.transaction_with_file(|state, _, fs, kept| {
            let (file, _) = file_for(state, fs, kept, handle)?;
            let size = size_of(file);
            if offset >= size {
                return Ok(0);
            }
            let wanted = length.min(usize::try_from(size - offset).unwrap_or(length));
            seek_to(file, offset)?;
            let mut done = 0;
            while done < wanted {
                match file
                    .read(&mut state.buffer[done..wanted])
                    .map_err(from_fat)?
                {
                    0 => return Err(FsError::Corrupt),
                    count => done += count,
                }
            }
            Ok(done)
        })
    }

    fn write_at(&mut self, handle: Handle, offset: u64, bytes: &[u8]) -> Result<Written, FsError> {
        if bytes.is_empty() {
            return Err(FsError::BadArgument);
        }
        if bytes.len() > MAX_TRANSFER_BYTES {
            return Err(FsError::TooLong);
        }
        self.transaction_with_file(|state, store, fs, kept| {
            let (file, may_write) = file_for(state, fs, kept, handle)?;
            if !may_write {
                return Err(FsError::ReadOnly);
            }
            if offset > size_of(file) {
                return Err(FsError::BadArgument);
            }
            if offset + bytes.len() as u64 > LARGEST_FILE {
                return Err(FsError::TooLong);
            }
            seek_to(file, offset)?;
            store.borrow_mut().set_data_mode(true);
            let written = file.write_all(bytes).map_err(from_fat);
            store.borrow_mut().set_data_mode(false);
            written?;
            file.flush().map_err(from_fat)?;
            Ok(Written {
                length: bytes.len() as u32,
                size: size_of(file),
            })
        })
    }

    fn open_path(&mut self, path: &str, mode: Mode) -> Result<Opened, FsError> {
        let parts = components(path)?;
        let Some((name, parents)) = parts.split_last() else {
            return Err(FsError::IsDirectory);
        };
        if !self.state.handles.has_room() {
            return Err(FsError::TooManyOpen);
        }
        self.transaction_with_file(|state, store, fs, kept| {
            *kept = None;
            let cluster = u64::from(fs.cluster_size());
            let parent = directory(fs, parents)?;
            let mut file = match find(&parent, name)? {
                Some(entry) if entry.is_dir() => return Err(FsError::IsDirectory),
                Some(entry) => entry.to_file(),
                None if matches!(mode, Mode::Create | Mode::Truncate) => {
                    parent.create_file(name).map_err(from_fat)?
                }
                None => return Err(FsError::NotFound),
            };
            if mode == Mode::Truncate && size_of(&file) > 0 {
                shrink(store, fs, &mut file, 0, cluster, false)?;
            }
            let size = size_of(&file);
            let handle = state.handles.open(Opening {
                path: path.into(),
                writable: writable(mode),
            })?;
            // Its reads or writes come next.
            keep(kept, path, file);
            Ok(Opened { handle, size })
        })
    }

    fn truncate_to(&mut self, handle: Handle, size: u64) -> Result<Done, FsError> {
        self.transaction_with_file(|state, store, fs, kept| {
            let cluster = u64::from(fs.cluster_size());
            let (file, may_write) = file_for(state, fs, kept, handle)?;
            if !may_write {
                return Err(FsError::ReadOnly);
            }
            if size > size_of(file) {
                return Err(FsError::BadArgument);
            }
            if size < size_of(file) {
                shrink(store, fs, file, size, cluster, false)?;
            }
            Ok(Done { done: true })
        })
    }

    fn create_path(&mut self, path: &str, kind: Kind) -> Result<Done, FsError> {
        let parts = components(path)?;
        let Some((name, parents)) = parts.split_last() else {
            return Err(FsError::Exists);
        };
        self.transaction(|_, _, fs| {
            let parent = directory(fs, parents)?;
            if find(&parent, name)?.is_some() {
                return Err(FsError::Exists);
            }
            match kind {
                Kind::File => drop(parent.create_file(name).map_err(from_fat)?),
                Kind::Directory => drop(parent.create_dir(name).map_err(from_fat)?),
            }
            Ok(Done { done: true })
        })
    }

    fn remove_path(&mut self, path: &str) -> Result<Done, FsError> {
        let parts = components(path)?;
        let Some((name, parents)) = parts.split_last() else {
            return Err(FsError::BadPath);
        };
        self.transaction(|state, store, fs| {
            let cluster = u64::from(fs.cluster_size());
            let parent = directory(fs, parents)?;
            let entry = find(&parent, name)?.ok_or(FsError::NotFound)?;
            if entry.is_file() {
                let mut file = entry.to_file();
                shrink(store, fs, &mut file, 0, cluster, true)?;
            }
            parent.remove(name).map_err(from_fat)?;
            // The removed file's handles end with it.
            let key = paths::key(path);
            state
                .handles
                .close_where(|opening| paths::key(&opening.path) == key);
            Ok(Done { done: true })
        })
    }

    fn list_into_buffer(&mut self, path: &str, start: u32) -> Result<(u32, u32, usize), FsError> {
        let parts = components(path)?;
        self.transaction(|state, _, fs| {
            let listed = match target(fs, &parts)? {
                Target::Root => fs.root_dir(),
                Target::Entry(entry) if entry.is_dir() => entry.to_dir(),
                Target::Entry(_) => return Err(FsError::NotDirectory),
            };
            let mut length = 0usize;
            let mut count = 0u32;
            let mut index = 0u32;
            let mut one = [0u8; 2 + MAX_NAME_BYTES * 3 + 9];
            for (seen, entry) in listed.iter().enumerate() {
                if seen >= MOST_ENTRIES {
                    return Err(FsError::Corrupt);
                }
                let entry = entry.map_err(from_fat)?;
                let name = entry.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                if index >= start {
                    let described = Entry {
                        name: &name,
                        kind: if entry.is_dir() {
                            Kind::Directory
                        } else {
                            Kind::File
                        },
                        size: if entry.is_dir() { 0 } else { entry.len() },
                    };
                    let mut writer = Writer::new(&mut one);
                    described
                        .encode(&mut writer)
                        .map_err(|_| FsError::Corrupt)?;
                    let encoded = writer.length();
                    if length + encoded > MAX_LISTING_BYTES {
                        return Ok((count, index, length));
                    }
                    state.buffer[length..length + encoded].copy_from_slice(&one[..encoded]);
                    length += encoded;
                    count += 1;
                }
                index += 1;
            }
            Ok((count, 0, length))
        })
    }
}

impl<S: Sectors> fs::Server for FileServer<S> {
    fn open(&mut self, path: &str, mode: Mode) -> Result<Opened, FsError> {
        self.open_path(path, mode)
    }

    fn read(&mut self, handle: Handle, offset: u64, length: u32) -> Result<Data<'_>, FsError> {
        let length = self.read_into_buffer(handle, offset, length)?;
        Ok(Data {
            bytes: &self.state.buffer[..length],
        })
    }

    fn write(&mut self, handle: Handle, offset: u64, bytes: &[u8]) -> Result<Written, FsError> {
        self.write_at(handle, offset, bytes)
    }

    fn truncate(&mut self, handle: Handle, size: u64) -> Result<Done, FsError> {
        self.truncate_to(handle, size)
    }

    fn close(&mut self, handle: Handle) -> Result<Done, FsError> {
        self.state.handles.close(handle)?;
        Ok(Done { done: true })
    }

    fn create(&mut self, path: &str, kind: Kind) -> Result<Done, FsError> {
        self.create_path(path, kind)
    }

    fn remove(&mut self, path: &str) -> Result<Done, FsError> {
        self.remove_path(path)
    }

    fn list(&mut self, path: &str, start: u32) -> Result<Listing<'_>, FsError> {
        let (count, next, length) = self.list_into_buffer(path, start)?;
        Ok(Listing {
            start,
            count,
            next,
            entries: &self.state.buffer[..length],
        })
    }

    fn stat(&mut self, path: &str) -> Result<Status, FsError> {
        let parts = components(path)?;
        self.transaction(|_, _, fs| {
            Ok(match target(fs, &parts)? {
                Target::Entry(entry) if entry.is_file() => Status {
                    kind: Kind::File,
                    size: entry.len(),
                },
                _ => Status {
                    kind: Kind::Directory,
                    size: 0,
                },
            })
        })
    }

    fn space(&mut self) -> Result<Space, FsError> {
        let space = self.transaction(|_, _, fs| {
            let stats = fs.stats().map_err(from_fat)?;
            let cluster = stats.cluster_size();
            Ok(Space {
                total: u64::from(stats.total_clusters()) * u64::from(cluster),
                free: u64::from(stats.free_clusters()) * u64::from(cluster),
                cluster,
            })
        })?;
        // Counted now: kept in FSInfo from the next change on.
        self.free_known = true;
        Ok(space)
    }

    fn sync(&mut self) -> Result<Done, FsError> {
        self.mount()?;
        let flushed = self.store.borrow_mut().disk_mut().flush();
        flushed.map_err(|_| FsError::DeviceError)?;
        Ok(Done { done: true })
    }
}
