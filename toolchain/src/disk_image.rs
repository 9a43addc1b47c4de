//! The disk every QEMU boot of Cella gets (a virtio-blk device, see [`crate::qemu`]): a raw,
//! sparse image in the build directory (`<target>/cella/disk.img`), made when missing or
//! of the wrong size, and left alone otherwise. Its first sectors carry a header a driver
//! can recognise (layout in `docs/storage.md`):
//!
//! - sector 0: `CELLA-DISK` (16 bytes, zero-padded), the layout version (u32), the sector
//!   size (u32), the image size in bytes (u64), the sector count (u64) and the first sector
//!   after the header (u64), all little-endian, then a line of text saying the same;
//! - sectors 1 to 7: each 8-byte word holds its own byte offset in the image (little-endian
//!   u64), so a read of the wrong sector or in the wrong order shows;
//! - the rest reads as zeros.
//!
//! Boots that must not share or change the build image (each QEMU test, the benchmark
//! boots, the Linux yardstick) get a copy of their own ([`copy`]).

use crate::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The image's file name in the build directory.
pub const FILE_NAME: &str = "disk.img";
/// The image size unless asked otherwise: 128 MiB.
pub const DEFAULT_SIZE: u64 = 128 * 1024 * 1024;
/// The sector size of the virtio-blk device and of the header.
pub const SECTOR_SIZE: usize = 512;
/// The header's first 16 bytes: the text `CELLA-DISK`, zero-padded.
pub const MAGIC: [u8; 16] = *b"CELLA-DISK\0\0\0\0\0\0";
/// The layout version in the header.
pub const LAYOUT_VERSION: u32 = 1;
/// Sectors the header takes (sector 0 and the offset sectors 1 to 7): 4 KiB.
pub const HEADER_SECTORS: u64 = 8;
/// The smallest image: the header and one sector after it.
pub const MINIMUM_SIZE: u64 = (HEADER_SECTORS + 1) * SECTOR_SIZE as u64;

/// The image of the build directory `cella_directory` (`<target>/cella`).
pub fn path(cella_directory: &Path) -> PathBuf {
    cella_directory.join(FILE_NAME)
}

/// Where a boot's private copy named `name` goes: `<target>/cella/disks/NAME.img`.
pub fn copy_path(cella_directory: &Path, name: &str) -> PathBuf {
    cella_directory.join("disks").join(format!("{name}.img"))
}

/// The header fields of sector 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The layout version ([`LAYOUT_VERSION`]).
    pub version: u32,
    /// The sector size ([`SECTOR_SIZE`]).
    pub sector_size: u32,
    /// The image size in bytes.
    pub size: u64,
    /// The number of sectors.
    pub sectors: u64,
    /// The first sector after the header.
    pub first_free_sector: u64,
}

impl Header {
    /// The header of an image of `size` bytes.
    pub fn for_size(size: u64) -> Header {
        Header {
            version: LAYOUT_VERSION,
            sector_size: SECTOR_SIZE as u32,
            size,
            sectors: size / SECTOR_SIZE as u64,
            first_free_sector: HEADER_SECTORS,
        }
    }

    /// Sector 0 holding this header.
    pub fn to_sector(&self) -> [u8; SECTOR_SIZE] {
        let mut sector = [0u8; SECTOR_SIZE];
        sector[..16].copy_from_slice(&MAGIC);
        sector[16..20].copy_from_slice(&self.version.to_le_bytes());
        sector[20..24].copy_from_slice(&self.sector_size.to_le_bytes());
        sector[24..32].copy_from_slice(&self.size.to_le_bytes());
        sector[32..40].copy_from_slice(&self.sectors.to_le_bytes());
        sector[40..48].copy_from_slice(&self.first_free_sector.to_le_bytes());
        let text = format!(
            "CELLA-DISK layout {} sector {} size {} bytes\n",
            self.version, self.sector_size, self.size
        );
        let end = (64 + text.len()).min(SECTOR_SIZE);
        sector[64..end].copy_from_slice(&text.as_bytes()[..end - 64]);
        sector
    }

    /// Reads the header from sector 0, or says why it is not one.
    ///
    /// # Errors
    /// `sector` is shorter than 48 bytes or does not start with [`MAGIC`].
    pub fn read(sector: &[u8]) -> std::result::Result<Header, String> {
        if sector.len() < 48 {
            return Err(format!(
                "{} bytes are too few for a header (48)",
                sector.len()
            ));
        }
        if sector[..16] != MAGIC {
            return Err(String::from("sector 0 does not start with `CELLA-DISK`"));
        }
        let word = |at: usize| u32::from_le_bytes(sector[at..at + 4].try_into().unwrap_or([0; 4]));
        let long = |at: usize| u64::from_le_bytes(sector[at..at + 8].try_into().unwrap_or([0; 8]));
        Ok(Header {
            version: word(16),
            sector_size: word(20),
            size: long(24),
            sectors: long(32),
            first_free_sector: long(40),
        })
    }
}

/// Sector `sector` (1 to 7) of the header: each 8-byte word holds its own byte offset.
pub fn offset_sector(sector: u64) -> [u8; SECTOR_SIZE] {
    let mut bytes = [0u8; SECTOR_SIZE];
    let base = sector * SECTOR_SIZE as u64;
    for (index, word) in bytes.chunks_exact_mut(8).enumerate() {
        word.copy_from_slice(&(base + 8 * index as u64).to_le_bytes());
    }
    bytes
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// The image was there with the right size and is untouched.
    Kept,
    /// There was no image; one was made.
    Created,
    /// The image had another size (given here); it was made again.
    Recreated {
        /// The size it had.
        old_size: u64,
    },
}

fn failed(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::new(format!("{what} the disk image {}: {error}", path.display()))
}

fn check_size(size: u64) -> Result<()> {
    if size < MINIMUM_SIZE || !size.is_multiple_of(SECTOR_SIZE as u64) {
        return Err(Error::new(format!(
            "a disk image of {size} bytes is not possible: it must be a multiple of \
             {SECTOR_SIZE} bytes and at least {MINIMUM_SIZE}"
        )));
    }
    Ok(())
}

/// Makes a fresh image of `size` bytes at `path` (replacing any file there): sparse, with
/// the header in its first 4 KiB.
///
/// # Errors
/// `size` is not a whole number of sectors above the header, or the file cannot be written.
pub fn create(path: &Path, size: u64) -> Result<()> {
    check_size(size)?;
    if let Some(directory) = path.parent() {
        std::fs::create_dir_all(directory).map_err(|error| failed("creating", path, error))?;
    }
    let mut file = File::create(path).map_err(|error| failed("creating", path, error))?;
    file.set_len(size)
        .and_then(|()| file.write_all(&Header::for_size(size).to_sector()))
        .and_then(|()| {
            (1..HEADER_SECTORS).try_for_each(|sector| file.write_all(&offset_sector(sector)))
        })
        .and_then(|()| file.sync_all())
        .map_err(|error| failed("writing", path, error))
}

/// Makes the image at `path` if it is missing or not `size` bytes long; an image of the
/// right size is left as it is, whatever a boot wrote to it.
///
/// # Errors
/// As [`create`], or `path` exists but is not a file.
pub fn ensure(path: &Path, size: u64) -> Result<Ensured> {
    check_size(size)?;
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(Error::new(format!(
            "the disk image {} is not a file; move it away",
            path.display()
        ))),
        Ok(metadata) if metadata.len() == size => Ok(Ensured::Kept),
        Ok(metadata) => {
            create(path, size)?;
            Ok(Ensured::Recreated {
                old_size: metadata.len(),
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            create(path, size)?;
            Ok(Ensured::Created)
        }
        Err(error) => Err(failed("reading", path, error)),
    }
}

/// Copies the image `from` to `to` (replacing it), leaving holes where `from` reads as zeros,
/// so a copy of a fresh 128 MiB image takes 4 KiB of disk.
///
/// # Errors
/// Either file cannot be read or written.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    let mut source = File::open(from).map_err(|error| failed("reading", from, error))?;
    let size = source
        .metadata()
        .map_err(|error| failed("reading", from, error))?
        .len();
    if let Some(directory) = to.parent() {
        std::fs::create_dir_all(directory).map_err(|error| failed("creating", to, error))?;
    }
    let mut target = File::create(to).map_err(|error| failed("creating", to, error))?;
    target
        .set_len(size)
        .map_err(|error| failed("writing", to, error))?;
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut offset = 0u64;
    loop {
        let count = source
            .read(&mut buffer)
            .map_err(|error| failed("reading", from, error))?;
        if count == 0 {
            break;
        }
        let chunk = &buffer[..count];
        if chunk.iter().any(|&byte| byte != 0) {
            target
                .seek(SeekFrom::Start(offset))
                .and_then(|_| target.write_all(chunk))
                .map_err(|error| failed("writing", to, error))?;
        }
        offset += count as u64;
    }
    Ok(())
}

/// Ensures the build directory's image (default size), then gives a boot named `name` a
/// copy of its own at [`copy_path`]; returns the copy's path.
///
/// # Errors
/// As [`ensure`] and [`copy`].
pub fn private_copy(cella_directory: &Path, name: &str) -> Result<PathBuf> {
    let image = ensured(cella_directory)?;
    let copy_to = copy_path(cella_directory, name);
    copy(&image, &copy_to)?;
    Ok(copy_to)
}

/// Ensures the build directory's image of the default size, telling the user when it was
/// made; returns its path.
///
/// # Errors
/// As [`ensure`].
pub fn ensured(cella_directory: &Path) -> Result<PathBuf> {
    let image = path(cella_directory);
    match ensure(&image, DEFAULT_SIZE)? {
        Ensured::Kept => {}
        Ensured::Created => crate::progress::message(&format!(
            "made the disk image {} ({} MiB, sparse)",
            image.display(),
            DEFAULT_SIZE >> 20
        )),
        Ensured::Recreated { old_size } => crate::progress::message(&format!(
            "made the disk image {} again: it had {old_size} bytes, not {}",
            image.display(),
            DEFAULT_SIZE
        )),
    }
    Ok(image)
}

/// Reads sector `sector` of the image at `path`.
///
/// # Errors
/// The file cannot be read or is shorter than the sector's end.
pub fn read_sector(path: &Path, sector: u64) -> Result<[u8; SECTOR_SIZE]> {
    let mut file = File::open(path).map_err(|error| failed("reading", path, error))?;
    let mut bytes = [0u8; SECTOR_SIZE];
    file.seek(SeekFrom::Start(sector * SECTOR_SIZE as u64))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|error| failed(&format!("reading sector {sector} of"), path, error))?;
    Ok(bytes)
}

/// Writes `bytes` at sector `sector` of the image at `path` (for tests that prepare a disk).
///
/// # Errors
/// The file cannot be opened or written.
pub fn write_sector(path: &Path, sector: u64, bytes: &[u8; SECTOR_SIZE]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| failed("opening", path, error))?;
    file.seek(SeekFrom::Start(sector * SECTOR_SIZE as u64))
        .and_then(|_| file.write_all(bytes))
        .map_err(|error| failed(&format!("writing sector {sector} of"), path, error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A directory of this test's own, removed first if a run before left it.
    fn scratch(name: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("cella-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    #[test]
    fn a_new_image_is_sparse_with_the_header_and_offset_sectors() {
        let directory = scratch("new");
        let image = path(&directory);
        assert_eq!(ensure(&image, DEFAULT_SIZE).unwrap(), Ensured::Created);
        let metadata = std::fs::metadata(&image).unwrap();
        assert_eq!(metadata.len(), 128 * 1024 * 1024);
        // Sparse: far less than the image's size is allocated (512-byte blocks).
        assert!(
            metadata.blocks() * 512 < 1024 * 1024,
            "{} blocks",
            metadata.blocks()
        );
        let sector = read_sector(&image, 0).unwrap();
        assert_eq!(&sector[..10], b"CELLA-DISK");
        assert_eq!(
            Header::read(&sector),
            Ok(Header {
                version: 1,
                sector_size: 512,
                size: DEFAULT_SIZE,
                sectors: 262_144,
                first_free_sector: 8,
            })
        );
        let text = String::from_utf8_lossy(&sector[64..]);
        assert!(
            text.starts_with("CELLA-DISK layout 1 sector 512 size 134217728 bytes\n"),
            "{text}"
        );
        // Sector 3's words hold their offsets: 1536, 1544, ...
        let third = read_sector(&image, 3).unwrap();
        assert_eq!(u64::from_le_bytes(third[..8].try_into().unwrap()), 1536);
        assert_eq!(u64::from_le_bytes(third[504..].try_into().unwrap()), 2040);
        assert_eq!(read_sector(&image, 8).unwrap(), [0u8; SECTOR_SIZE]);
        let last = DEFAULT_SIZE / SECTOR_SIZE as u64 - 1;
        assert_eq!(read_sector(&image, last).unwrap(), [0u8; SECTOR_SIZE]);
        assert!(read_sector(&image, last + 1).is_err());
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn an_image_of_the_right_size_is_never_overwritten() {
        let directory = scratch("kept");
        let image = path(&directory);
        create(&image, MINIMUM_SIZE * 4).unwrap();
        // What a boot wrote: a sector of data and a damaged header.
        write_sector(&image, 9, &[0xa5; SECTOR_SIZE]).unwrap();
        write_sector(&image, 0, &[0x11; SECTOR_SIZE]).unwrap();
        for _ in 0..20 {
            assert_eq!(ensure(&image, MINIMUM_SIZE * 4).unwrap(), Ensured::Kept);
        }
        assert_eq!(read_sector(&image, 9).unwrap(), [0xa5; SECTOR_SIZE]);
        assert_eq!(read_sector(&image, 0).unwrap(), [0x11; SECTOR_SIZE]);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn an_image_of_another_size_is_made_again() {
        let directory = scratch("resized");
        let image = path(&directory);
        create(&image, MINIMUM_SIZE).unwrap();
        write_sector(&image, 8, &[0xa5; SECTOR_SIZE]).unwrap();
        let size = MINIMUM_SIZE * 2;
        assert_eq!(
            ensure(&image, size).unwrap(),
            Ensured::Recreated {
                old_size: MINIMUM_SIZE
            }
        );
        assert_eq!(std::fs::metadata(&image).unwrap().len(), size);
        assert_eq!(read_sector(&image, 8).unwrap(), [0u8; SECTOR_SIZE]);
        let header = Header::read(&read_sector(&image, 0).unwrap()).unwrap();
        assert_eq!((header.size, header.sectors), (size, size / 512));
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn impossible_sizes_and_a_directory_in_the_way_are_clear_errors() {
        let directory = scratch("errors");
        let image = path(&directory);
        for size in [0, MINIMUM_SIZE - 512, MINIMUM_SIZE + 1] {
            let error = ensure(&image, size).unwrap_err().to_string();
            assert!(error.contains("multiple of 512 bytes"), "{error}");
        }
        assert!(!image.exists());
        std::fs::create_dir_all(&image).unwrap();
        let error = ensure(&image, DEFAULT_SIZE).unwrap_err().to_string();
        assert!(error.contains("is not a file"), "{error}");
        assert!(image.is_dir());
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_copy_has_the_same_bytes_and_stays_sparse() {
        let directory = scratch("copy");
        let image = path(&directory);
        create(&image, DEFAULT_SIZE).unwrap();
        let far = DEFAULT_SIZE / SECTOR_SIZE as u64 - 3;
        write_sector(&image, far, &[0x5a; SECTOR_SIZE]).unwrap();
        let copied = copy_path(&directory, "boot");
        // Copied again and again over the last copy, as each boot does.
        for _ in 0..5 {
            copy(&image, &copied).unwrap();
            write_sector(&copied, 9, &[0x77; SECTOR_SIZE]).unwrap();
        }
        let metadata = std::fs::metadata(&copied).unwrap();
        assert_eq!(metadata.len(), DEFAULT_SIZE);
        assert!(
            metadata.blocks() * 512 < 4 * 1024 * 1024,
            "{} blocks",
            metadata.blocks()
        );
        for sector in [0, 1, 7, 8, far] {
            assert_eq!(
                read_sector(&copied, sector).unwrap(),
                read_sector(&image, sector).unwrap(),
                "sector {sector}"
            );
        }
        // Writing to a copy leaves the image alone.
        assert_eq!(read_sector(&image, 9).unwrap(), [0u8; SECTOR_SIZE]);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_header_is_read_back_and_anything_else_is_refused() {
        let header = Header::for_size(MINIMUM_SIZE);
        assert_eq!(Header::read(&header.to_sector()), Ok(header));
        assert!(
            Header::read(&[0u8; SECTOR_SIZE])
                .unwrap_err()
                .contains("CELLA-DISK")
        );
        assert!(Header::read(&MAGIC).unwrap_err().contains("too few"));
    }
}
