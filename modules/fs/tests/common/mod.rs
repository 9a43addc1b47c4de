//! What the fs tests share: a disk over an image file made by `mkfs.fat`
//! (reads fall through to the file, writes stay in memory so a test can
//! stop the disk after any number of sector writes, as if the server died
//! there), `fsck.vfat` on the result, and shorthands for requests.
#![allow(dead_code)]

use cella_fs::FileServer;
use cella_fs::disk::{DiskFailure, SECTOR_BYTES, Sectors};
use cella_sdk::interfaces::fs::{self, FsError, Handle, Kind, Mode, Server};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

/// The production format: a whole-disk FAT32 volume of 128 MiB, 1 KiB
/// clusters, 96 reserved sectors.
pub const FORMAT: &[&str] = &["-F", "32", "-s", "2", "-R", "96", "-n", "CELLA"];
pub const IMAGE_KIB: u64 = 128 * 1024;
/// The module's cache size.
pub const CACHE_SECTORS: usize = 512;

/// A path for a test's file under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cella-fs");
    std::fs::create_dir_all(&directory).unwrap();
    directory.join(format!("{name}-{}", std::process::id()))
}

/// Runs a command; panics with its output if it fails.
pub fn run(program: &str, arguments: &[&str]) -> String {
    let output = Command::new(program)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| {
            panic!("{program} did not run ({error}): install dosfstools and mtools")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{program} {arguments:?} failed: {text}"
    );
    text
}

/// A fresh image made with `mkfs.fat` and the given options.
pub fn make_image(name: &str, options: &[&str], kib: u64) -> PathBuf {
    let path = scratch(name);
    let _ = std::fs::remove_file(&path);
    let size = kib.to_string();
    let mut arguments: Vec<&str> = options.to_vec();
    arguments.extend(["-C", path.to_str().unwrap(), &size]);
    run("mkfs.fat", &arguments);
    path
}

/// A fresh production-format image.
pub fn fresh_image(name: &str) -> PathBuf {
    make_image(name, FORMAT, IMAGE_KIB)
}

/// What `fsck.vfat -n` says of an image, and whether it found nothing to fix.
pub fn fsck(path: &Path) -> (bool, String) {
    let output = Command::new("fsck.vfat")
        .arg("-n")
        .arg(path)
        .output()
        .expect("fsck.vfat did not run: install dosfstools");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

struct Inner {
    base: std::fs::File,
    base_path: PathBuf,
    sectors: u64,
    overlay: BTreeMap<u64, [u8; SECTOR_BYTES]>,
    /// Sector writes left before the disk stops answering (`None`: no limit).
    writes_left: Option<u64>,
    sector_writes: u64,
    read_calls: u64,
    write_calls: u64,
    flushes: u64,
}

/// A disk over an image file; clones share it.
#[derive(Clone)]
pub struct ImageDisk {
    inner: Rc<RefCell<Inner>>,
}

impl ImageDisk {
    pub fn open(path: &Path) -> ImageDisk {
        let base = std::fs::File::open(path).unwrap();
        let sectors = base.metadata().unwrap().len() / SECTOR_BYTES as u64;
        ImageDisk {
            inner: Rc::new(RefCell::new(Inner {
                base,
                base_path: path.to_path_buf(),
                sectors,
                overlay: BTreeMap::new(),
                writes_left: None,
                sector_writes: 0,
                read_calls: 0,
                write_calls: 0,
                flushes: 0,
            })),
        }
    }

    /// A disk of the same image with the same writes (a copy, not shared).
    pub fn copy(&self) -> ImageDisk {
        let inner = self.inner.borrow();
        let disk = ImageDisk::open(&inner.base_path);
        disk.inner.borrow_mut().overlay = inner.overlay.clone();
        disk
    }

    /// Stops the disk after `count` more sector writes: the server "dies"
    /// there (every later read, write and flush fails).
    pub fn stop_after(&self, count: u64) {
        self.inner.borrow_mut().writes_left = Some(count);
    }

    pub fn sector_writes(&self) -> u64 {
        self.inner.borrow().sector_writes
    }

    pub fn read_calls(&self) -> u64 {
        self.inner.borrow().read_calls
    }

    pub fn write_calls(&self) -> u64 {
        self.inner.borrow().write_calls
    }

    /// The sector as the disk holds it.
    pub fn sector(&self, sector: u64) -> [u8; SECTOR_BYTES] {
        let inner = self.inner.borrow();
        let mut bytes = [0u8; SECTOR_BYTES];
        match inner.overlay.get(&sector) {
            Some(written) => bytes = *written,
            None => inner
                .base
                .read_exact_at(&mut bytes, sector * SECTOR_BYTES as u64)
                .unwrap(),
        }
        bytes
    }

    /// Writes the image as the disk holds it to `path` (for fsck and mtools).
    pub fn save(&self, path: &Path) {
        let inner = self.inner.borrow();
        run(
            "cp",
            &[
                "--sparse=always",
                inner.base_path.to_str().unwrap(),
                path.to_str().unwrap(),
            ],
        );
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        for (sector, bytes) in &inner.overlay {
            file.write_all_at(bytes, sector * SECTOR_BYTES as u64)
                .unwrap();
        }
    }

    /// `fsck.vfat -n` on the image as the disk holds it.
    pub fn fsck(&self, name: &str) -> (bool, String) {
        let path = scratch(name);
        self.save(&path);
        let outcome = fsck(&path);
        let _ = std::fs::remove_file(&path);
        outcome
    }

    fn dead(inner: &Inner) -> bool {
        inner.writes_left == Some(0)
    }
}

impl Sectors for ImageDisk {
    fn read(&mut self, sector: u64, buffer: &mut [u8]) -> Result<(), DiskFailure> {
        let count = (buffer.len() / SECTOR_BYTES) as u64;
        {
            let mut inner = self.inner.borrow_mut();
            if ImageDisk::dead(&inner) {
                return Err(DiskFailure::Device);
            }
            if sector + count > inner.sectors {
                return Err(DiskFailure::OutOfRange);
            }
            inner.read_calls += 1;
        }
        for index in 0..count {
            let at = index as usize * SECTOR_BYTES;
            buffer[at..at + SECTOR_BYTES].copy_from_slice(&self.sector(sector + index));
        }
        Ok(())
    }

    fn write(&mut self, sector: u64, bytes: &[u8]) -> Result<(), DiskFailure> {
        let mut inner = self.inner.borrow_mut();
        let count = (bytes.len() / SECTOR_BYTES) as u64;
        if sector + count > inner.sectors {
            return Err(DiskFailure::OutOfRange);
        }
        inner.write_calls += 1;
        for index in 0..count {
            if let Some(left) = inner.writes_left.as_mut() {
                if *left == 0 {
                    return Err(DiskFailure::Device);
                }
                *left -= 1;
            }
            let at = index as usize * SECTOR_BYTES;
            let mut copy = [0u8; SECTOR_BYTES];
            copy.copy_from_slice(&bytes[at..at + SECTOR_BYTES]);
            inner.overlay.insert(sector + index, copy);
            inner.sector_writes += 1;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DiskFailure> {
        let mut inner = self.inner.borrow_mut();
        if ImageDisk::dead(&inner) {
            return Err(DiskFailure::Device);
        }
        inner.flushes += 1;
        Ok(())
    }

    fn count(&self) -> u64 {
        self.inner.borrow().sectors
    }
}

/// A server over `disk` (epoch 7).
pub fn server(disk: &ImageDisk) -> FileServer<ImageDisk> {
    FileServer::new(disk.clone(), 7, CACHE_SECTORS)
}

/// Opens `path`; panics if refused.
pub fn open(server: &mut FileServer<ImageDisk>, path: &str, mode: Mode) -> Handle {
    server
        .open(path, mode)
        .unwrap_or_else(|error| panic!("open {path}: {error}"))
        .handle
}

/// Writes all of `bytes` at `offset` in requests of at most 3584 bytes.
pub fn write_all(server: &mut FileServer<ImageDisk>, handle: Handle, offset: u64, bytes: &[u8]) {
    for (index, chunk) in bytes.chunks(fs::MAX_TRANSFER_BYTES).enumerate() {
        let at = offset + (index * fs::MAX_TRANSFER_BYTES) as u64;
        let written = server
            .write(handle, at, chunk)
            .unwrap_or_else(|error| panic!("write at {at}: {error}"));
        assert_eq!(written.length as usize, chunk.len());
    }
}

/// Reads the whole file behind `handle`.
pub fn read_all(server: &mut FileServer<ImageDisk>, handle: Handle) -> Result<Vec<u8>, FsError> {
    let mut bytes = Vec::new();
    loop {
        let data = server.read(handle, bytes.len() as u64, fs::MAX_TRANSFER_BYTES as u32)?;
        if data.bytes.is_empty() {
            return Ok(bytes);
        }
        bytes.extend_from_slice(data.bytes);
    }
}

/// Creates `path` with `bytes` in it and closes it.
pub fn put(server: &mut FileServer<ImageDisk>, path: &str, bytes: &[u8]) {
    let handle = open(server, path, Mode::Truncate);
    write_all(server, handle, 0, bytes);
    server.close(handle).unwrap();
}

/// The whole file at `path`.
pub fn get(server: &mut FileServer<ImageDisk>, path: &str) -> Result<Vec<u8>, FsError> {
    let handle = server.open(path, Mode::Read)?.handle;
    let bytes = read_all(server, handle);
    server.close(handle)?;
    bytes
}

/// Every entry of the directory at `path`: (name, kind, size).
pub fn list(
    server: &mut FileServer<ImageDisk>,
    path: &str,
) -> Result<Vec<(String, Kind, u64)>, FsError> {
    let mut entries = Vec::new();
    let mut start = 0;
    loop {
        let listing = server.list(path, start)?;
        for entry in listing.entries() {
            let entry = entry.expect("an entry decodes");
            entries.push((entry.name.to_string(), entry.kind, entry.size));
        }
        if listing.next == 0 {
            return Ok(entries);
        }
        start = listing.next;
    }
}

/// Deterministic bytes for a test file.
pub fn pattern(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}
