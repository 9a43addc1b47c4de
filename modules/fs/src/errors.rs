//! What each failure of the FAT library or the disk answers.

use crate::volume::VolumeError;
use cella_sdk::interfaces::fs::FsError;

/// The FAT library's error as the interface's.
pub fn from_fat(error: fatfs::Error<VolumeError>) -> FsError {
    match error {
        fatfs::Error::Io(_) | fatfs::Error::WriteZero => FsError::DeviceError,
        fatfs::Error::NotFound => FsError::NotFound,
        fatfs::Error::AlreadyExists => FsError::Exists,
        fatfs::Error::DirectoryIsNotEmpty => FsError::NotEmpty,
        fatfs::Error::NotEnoughSpace => FsError::NoSpace,
        fatfs::Error::InvalidFileNameLength => FsError::TooLong,
        fatfs::Error::UnsupportedFileNameCharacter => FsError::BadPath,
        fatfs::Error::InvalidInput => FsError::BadArgument,
        // A chain or entry that ends early, or contradicts itself.
        _ => FsError::Corrupt,
    }
}
