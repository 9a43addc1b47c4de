//! The Linux yardstick's initramfs: a newc ("SVR4 new ASCII") cpio archive, the format the
//! Linux kernel unpacks into its root file system at boot. Written with the `cpio` crate;
//! this file only says what goes in: directories, regular files, symbolic links and device
//! nodes, each with its permissions, owned by root.

use std::io::Cursor;

/// The file-type bits of a cpio (and `stat`) mode.
const DIRECTORY: u32 = 0o040_000;
const REGULAR_FILE: u32 = 0o100_000;
const SYMBOLIC_LINK: u32 = 0o120_000;
const CHARACTER_DEVICE: u32 = 0o020_000;

/// One entry of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive, without a leading `/` (`bin/busybox`).
    pub name: String,
    /// Type and permission bits.
    pub mode: u32,
    /// File contents, or a symbolic link's target.
    pub data: Vec<u8>,
    /// A device node's major and minor number.
    pub device: (u32, u32),
}

/// An initramfs under construction.
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    entries: Vec<Entry>,
}

impl Initramfs {
    /// The base of both Linux yardsticks: `/bin/busybox` (and `/bin/sh` linked to it),
    /// `/dev/console`, the mount points `/dev`, `/proc` and `/sys`, and each of `modules`
    /// (name, contents) as `/modules/NAME.ko`; `/init` and the rest come after.
    pub fn busybox_system(busybox: &[u8], modules: &[(&str, Vec<u8>)]) -> Initramfs {
        let mut archive = Initramfs::new();
        archive
            .directory("bin", 0o755)
            .directory("dev", 0o755)
            .directory("proc", 0o755)
            .directory("sys", 0o755)
            .directory("modules", 0o755)
            .character_device("dev/console", 0o600, 5, 1)
            .file("bin/busybox", 0o755, busybox.to_vec())
            .symbolic_link("bin/sh", "busybox");
        for (name, contents) in modules {
            archive.file(&format!("modules/{name}.ko"), 0o644, contents.clone());
        }
        archive
    }

    /// An empty archive.
    pub fn new() -> Self {
        Initramfs::default()
    }

    fn push(&mut self, name: &str, mode: u32, data: Vec<u8>, device: (u32, u32)) -> &mut Self {
        self.entries.push(Entry {
            name: name.trim_start_matches('/').to_owned(),
            mode,
            data,
            device,
        });
        self
    }

    /// A directory with `permissions` (e.g. 0o755).
    pub fn directory(&mut self, name: &str, permissions: u32) -> &mut Self {
        self.push(name, DIRECTORY | permissions, Vec::new(), (0, 0))
    }

    /// A regular file.
    pub fn file(&mut self, name: &str, permissions: u32, contents: Vec<u8>) -> &mut Self {
        self.push(name, REGULAR_FILE | permissions, contents, (0, 0))
    }

    /// A symbolic link `name` -> `target`.
    pub fn symbolic_link(&mut self, name: &str, target: &str) -> &mut Self {
        self.push(
            name,
            SYMBOLIC_LINK | 0o777,
            target.as_bytes().to_vec(),
            (0, 0),
        )
    }

    /// A character device node (e.g. `dev/console`, 5:1).
    pub fn character_device(
        &mut self,
        name: &str,
        permissions: u32,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        self.push(
            name,
            CHARACTER_DEVICE | permissions,
            Vec::new(),
            (major, minor),
        )
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The archive's bytes: every entry (inode numbers from 1, link count 1, owner root,
    /// time 0), then the `TRAILER!!!` entry.
    ///
    /// # Errors
    /// An entry is larger than the format's 4 GiB limit.
    pub fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        let mut output = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let size = u32::try_from(entry.data.len()).map_err(|_| {
                std::io::Error::other(format!("{} is larger than 4 GiB", entry.name))
            })?;
            let inode = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let mut writer = cpio::NewcBuilder::new(&entry.name)
                .ino(inode)
                .mode(entry.mode)
                .uid(0)
                .gid(0)
                .nlink(if entry.mode & DIRECTORY == DIRECTORY {
                    2
                } else {
                    1
                })
                .rdev_major(entry.device.0)
                .rdev_minor(entry.device.1)
                .write(output, size);
            std::io::copy(&mut Cursor::new(&entry.data), &mut writer)?;
            output = writer.finish()?;
        }
        cpio::newc::trailer(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Every entry read back: (name, mode, data, rdev major, rdev minor), trailer excluded.
    fn read_back(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>, u32, u32)> {
        let mut found = Vec::new();
        let mut input = Cursor::new(bytes);
        loop {
            let mut reader = cpio::NewcReader::new(input).expect("a valid entry header");
            if reader.entry().is_trailer() {
                return found;
            }
            let entry = reader.entry().clone();
            let mut data = Vec::new();
            reader.read_to_end(&mut data).expect("entry data");
            found.push((
                entry.name().to_owned(),
                entry.mode(),
                data,
                entry.rdev_major(),
                entry.rdev_minor(),
            ));
            input = reader.finish().expect("next entry");
        }
    }

    #[test]
    fn entries_read_back_with_their_type_contents_and_device_numbers() {
        let mut archive = Initramfs::new();
        archive
            .directory("/dev", 0o755)
            .character_device("dev/console", 0o600, 5, 1)
            .file("init", 0o755, b"#!/bin/busybox sh\necho hi\n".to_vec())
            .symbolic_link("bin/sh", "busybox")
            .file("odd", 0o644, vec![1, 2, 3]);
        let bytes = archive.to_bytes().unwrap();
        let entries = read_back(&bytes);
        assert_eq!(
            entries,
            vec![
                ("dev".to_owned(), 0o040_755, vec![], 0, 0),
                ("dev/console".to_owned(), 0o020_600, vec![], 5, 1),
                (
                    "init".to_owned(),
                    0o100_755,
                    b"#!/bin/busybox sh\necho hi\n".to_vec(),
                    0,
                    0
                ),
                ("bin/sh".to_owned(), 0o120_777, b"busybox".to_vec(), 0, 0),
                ("odd".to_owned(), 0o100_644, vec![1, 2, 3], 0, 0),
            ]
        );
    }

    #[test]
    fn the_layout_is_newc_with_four_byte_alignment_and_a_trailer() {
        let mut archive = Initramfs::new();
        archive.file("a", 0o644, vec![0xaa; 5]);
        let bytes = archive.to_bytes().unwrap();
        // 110-byte header, "a\0" padded to 4 (header + name = 112), 5 data bytes padded to 8.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[110..112], b"a\0");
        assert_eq!(&bytes[112..117], &[0xaa; 5]);
        assert_eq!(&bytes[117..120], &[0, 0, 0]);
        assert_eq!(&bytes[120..126], b"070701");
        let trailer_name = &bytes[120 + 110..120 + 110 + 11];
        assert_eq!(trailer_name, b"TRAILER!!!\0");
        assert_eq!(bytes.len() % 4, 0);
        // The file-size field (8 hex digits at offset 54) says 5.
        assert_eq!(&bytes[54..62], b"00000005");
    }

    #[test]
    fn an_empty_archive_is_only_the_trailer() {
        let bytes = Initramfs::new().to_bytes().unwrap();
        assert!(read_back(&bytes).is_empty());
        assert!(bytes.windows(10).any(|window| window == b"TRAILER!!!"));
    }
}
