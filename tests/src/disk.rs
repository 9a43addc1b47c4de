//! A boot's own disk: a copy of the environment's disk image (or of the FAT32 file-system
//! image, [`Disk::file_system_for`]) in a directory of its own, which the test can read after
//! QEMU exited and which is removed when the `Disk` is dropped. No two QEMUs ever share one:
//! every boot without a `Disk` from its test gets a fresh one.

use crate::environment::{environment, file_system_image};
use cella::disk_image::{self, SECTOR_SIZE};
use cella::fs_image::{self, access};
use cella::shell::Shell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A disk image private to one boot.
#[derive(Debug)]
pub struct Disk {
    path: PathBuf,
}

impl Disk {
    /// A copy of the environment's disk image, named after `label` in the reports.
    pub fn copy_for(label: &str) -> Disk {
        Disk::copy_of(&environment().disk, disk_image::FILE_NAME, label)
    }

    /// A copy of the FAT32 file-system image (`target/cella/fs.img`: `README.TXT` and the
    /// production modules under `modules/`), named after `label` in the reports.
    pub fn file_system_for(label: &str) -> Disk {
        Disk::copy_of(file_system_image(), fs_image::FILE_NAME, label)
    }

    fn copy_of(image: &Path, file_name: &str, label: &str) -> Disk {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let directory = std::env::temp_dir().join(format!(
            "cella-disk-{}-{label}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let path = directory.join(file_name);
        disk_image::copy(image, &path)
            .unwrap_or_else(|error| panic!("cannot give {label} a disk: {error}"));
        Disk { path }
    }

    /// `fsck.vfat -n` on the image (it changes nothing): its verdict and report. Panics if
    /// `fsck.vfat` cannot check it at all (not a FAT volume, tool missing).
    pub fn check_file_system(&self) -> access::Verdict {
        access::check(&Shell::new(false), &self.path).unwrap_or_else(|error| panic!("{error}"))
    }

    /// The bytes of file `path` of the image's FAT volume (`mcopy -i IMAGE ::/PATH -`).
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, String> {
        access::read(&Shell::new(false), &self.path, path).map_err(|error| error.to_string())
    }

    /// Writes file `path` into the image's FAT volume before a boot (its directory must
    /// exist), replacing a file of that name.
    pub fn write_file(&self, path: &str, bytes: &[u8]) {
        access::write(&Shell::new(false), &self.path, path, bytes)
            .unwrap_or_else(|error| panic!("{error}"));
    }

    /// The listing of directory `path` of the image's FAT volume (mtools' `mdir`).
    pub fn list_directory(&self, path: &str) -> Result<String, String> {
        access::list(&Shell::new(false), &self.path, path).map_err(|error| error.to_string())
    }

    /// The image's path, as QEMU gets it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sector `sector` (512 bytes, the virtio-blk sector) as the image holds it.
    pub fn read_block(&self, sector: u64) -> [u8; SECTOR_SIZE] {
        disk_image::read_sector(&self.path, sector).unwrap_or_else(|error| panic!("{error}"))
    }

    /// Writes sector `sector` before a boot (a test preparing what the guest reads).
    pub fn write_block(&self, sector: u64, bytes: &[u8; SECTOR_SIZE]) {
        disk_image::write_sector(&self.path, sector, bytes)
            .unwrap_or_else(|error| panic!("{error}"));
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        if let Some(directory) = self.path.parent() {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}
