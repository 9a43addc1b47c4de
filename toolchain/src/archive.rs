//! The boot archive: a plain POSIX ustar file (what `tar tf` lists) built from (name, bytes) entries.
//!
//! The kernel receives it as PVH module 0 (`qemu -initrd`). Only regular files are written;
//! a nested name such as `modules/net/e1000.wasm` is stored as is, without directory entries.
//! Names up to 100 bytes go in the `name` field; longer ones are split at a `/` into the
//! ustar `prefix` (up to 155 bytes) and `name` fields.

use crate::{Error, Result};

/// Size of a tar block: headers are one block, file data is padded to a whole number of blocks.
pub const BLOCK_SIZE: usize = 512;

/// Largest file size the 11-digit octal size field can hold (8 GiB - 1).
const MAX_ENTRY_SIZE: u64 = 0o77777777777;

/// One file in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Relative path inside the archive, `/`-separated, e.g. `build-info.txt`.
    pub name: String,
    /// The file's contents.
    pub bytes: Vec<u8>,
}

impl ArchiveEntry {
    /// An entry named `name` holding `bytes`.
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        ArchiveEntry {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

/// Writes `entries` as a ustar archive, in the given order, each with modification time
/// `modified_unix_seconds`. Fails on empty, absolute, `..`-containing, duplicate or too long
/// names and on entries too large for ustar.
pub fn write_ustar(entries: &[ArchiveEntry], modified_unix_seconds: u64) -> Result<Vec<u8>> {
    let mut archive = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        check_name(&entry.name)?;
        if !seen.insert(entry.name.as_str()) {
            return Err(Error::new(format!(
                "boot archive: entry `{}` appears twice",
                entry.name
            )));
        }
        let header = header_block(entry, modified_unix_seconds)?;
        archive.extend_from_slice(&header);
        archive.extend_from_slice(&entry.bytes);
        archive.resize(archive.len().next_multiple_of(BLOCK_SIZE), 0);
    }
    // End of archive: two zero blocks.
    archive.resize(archive.len() + 2 * BLOCK_SIZE, 0);
    Ok(archive)
}

fn check_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.starts_with('/') {
        Some("is absolute")
    } else if name.ends_with('/') {
        Some("ends with `/`")
    } else if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        Some("has an empty, `.` or `..` component")
    } else if name.bytes().any(|byte| byte == 0) {
        Some("contains a NUL byte")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::new(format!(
            "boot archive: entry name `{name}` {problem}"
        ))),
        None => Ok(()),
    }
}

/// Splits `name` into the ustar (prefix, name) fields.
fn split_name(name: &str) -> Result<(&str, &str)> {
    if name.len() <= 100 {
        return Ok(("", name));
    }
    // Split at the last `/` that leaves at most 155 bytes of prefix and 100 of name.
    for (index, _) in name.match_indices('/').rev() {
        let (prefix, rest) = (&name[..index], &name[index + 1..]);
        if prefix.len() <= 155 && rest.len() <= 100 {
            return Ok((prefix, rest));
        }
    }
    Err(Error::new(format!(
        "boot archive: entry name `{name}` is too long for ustar (at most 155 + 100 bytes split at a `/`)"
    )))
}

fn header_block(entry: &ArchiveEntry, modified_unix_seconds: u64) -> Result<[u8; BLOCK_SIZE]> {
    let size = entry.bytes.len() as u64;
    if size > MAX_ENTRY_SIZE {
        return Err(Error::new(format!(
            "boot archive: entry `{}` is {size} bytes, more than ustar allows",
            entry.name
        )));
    }
    let (prefix, name) = split_name(&entry.name)?;
    let mut header = [0u8; BLOCK_SIZE];
    put_text(&mut header[0..100], name);
    put_octal(&mut header[100..108], 0o644); // mode
    put_octal(&mut header[108..116], 0); // uid
    put_octal(&mut header[116..124], 0); // gid
    put_octal(&mut header[124..136], size);
    put_octal(
        &mut header[136..148],
        modified_unix_seconds.min(0o77777777777),
    );
    header[156] = b'0'; // typeflag: regular file
    put_text(&mut header[257..263], "ustar\0"); // magic
    put_text(&mut header[263..265], "00"); // version
    put_text(&mut header[265..297], "root"); // uname
    put_text(&mut header[297..329], "root"); // gname
    put_text(&mut header[345..500], prefix);
    // The checksum is computed with its own field read as eight spaces.
    header[148..156].fill(b' ');
    let checksum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    let digits = format!("{checksum:06o}\0 ");
    header[148..156].copy_from_slice(digits.as_bytes());
    Ok(header)
}

fn put_text(field: &mut [u8], text: &str) {
    field[..text.len()].copy_from_slice(text.as_bytes());
}

/// Writes `value` as zero-padded octal digits followed by a NUL, filling the field.
fn put_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    field[..width].copy_from_slice(digits.as_bytes());
    field[width] = 0;
}

/// Reads back a ustar archive written by [`write_ustar`] (regular files only): used by tests
/// and by `cella build` to double-check what it wrote.
pub fn read_ustar(archive: &[u8]) -> Result<Vec<ArchiveEntry>> {
    let mut entries = Vec::new();
    let mut offset = 0;
    while offset + BLOCK_SIZE <= archive.len() {
        let header = &archive[offset..offset + BLOCK_SIZE];
        if header.iter().all(|&byte| byte == 0) {
            return Ok(entries);
        }
        let field_text = |range: std::ops::Range<usize>| {
            let field = &header[range];
            let end = field
                .iter()
                .position(|&byte| byte == 0)
                .unwrap_or(field.len());
            String::from_utf8_lossy(&field[..end]).into_owned()
        };
        let size_text = field_text(124..136);
        let size = u64::from_str_radix(size_text.trim(), 8).map_err(|_| {
            Error::new(format!(
                "ustar: bad size field `{size_text}` at offset {offset}"
            ))
        })? as usize;
        let prefix = field_text(345..500);
        let name = field_text(0..100);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let data_start = offset + BLOCK_SIZE;
        let data_end = data_start + size;
        if data_end > archive.len() {
            return Err(Error::new(format!("ustar: entry `{name}` is truncated")));
        }
        entries.push(ArchiveEntry::new(name, &archive[data_start..data_end]));
        offset = data_start + size.next_multiple_of(BLOCK_SIZE);
    }
    Err(Error::new(
        "ustar: archive ends without its two zero blocks",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_entries() -> Vec<ArchiveEntry> {
        let pattern = |length: usize| (0..length).map(|i| (i * 7 + 3) as u8).collect::<Vec<_>>();
        vec![
            ArchiveEntry::new("empty", Vec::new()),
            ArchiveEntry::new("one", pattern(1)),
            ArchiveEntry::new("block-minus-one", pattern(511)),
            ArchiveEntry::new("block", pattern(512)),
            ArchiveEntry::new("block-plus-one", pattern(513)),
            ArchiveEntry::new("modules/nested/big.bin", pattern(100 * 1024 + 5)),
        ]
    }

    #[test]
    fn round_trips_entries_and_pads_to_blocks() {
        let entries = sample_entries();
        let archive = write_ustar(&entries, 1_700_000_000).unwrap();
        assert_eq!(archive.len() % BLOCK_SIZE, 0);
        assert_eq!(read_ustar(&archive).unwrap(), entries);
    }

    #[test]
    fn empty_archive_is_two_zero_blocks() {
        let archive = write_ustar(&[], 0).unwrap();
        assert_eq!(archive, vec![0; 2 * BLOCK_SIZE]);
    }

    #[test]
    fn header_checksum_is_valid() {
        let archive = write_ustar(&[ArchiveEntry::new("a.txt", b"hello".to_vec())], 0).unwrap();
        let header = &archive[..BLOCK_SIZE];
        let stored =
            u32::from_str_radix(std::str::from_utf8(&header[148..154]).unwrap(), 8).unwrap();
        let computed: u32 = header
            .iter()
            .enumerate()
            .map(|(index, &byte)| {
                if (148..156).contains(&index) {
                    u32::from(b' ')
                } else {
                    u32::from(byte)
                }
            })
            .sum();
        assert_eq!(stored, computed);
        assert_eq!(&header[257..263], b"ustar\0");
    }

    #[test]
    fn long_names_use_the_prefix_field() {
        let name = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        let archive = write_ustar(&[ArchiveEntry::new(name.clone(), b"x".to_vec())], 0).unwrap();
        assert_eq!(read_ustar(&archive).unwrap()[0].name, name);
        assert!(write_ustar(&[ArchiveEntry::new("n".repeat(101), Vec::new())], 0).is_err());
    }

    #[test]
    fn rejects_bad_names() {
        for name in ["", "/abs", "dir/", "a/../b", "a//b", "./a"] {
            assert!(
                write_ustar(&[ArchiveEntry::new(name, Vec::new())], 0).is_err(),
                "{name:?} accepted"
            );
        }
        let twice = [
            ArchiveEntry::new("a", Vec::new()),
            ArchiveEntry::new("a", Vec::new()),
        ];
        assert!(write_ustar(&twice, 0).is_err());
    }

    /// The system `tar` must list and extract what we write (skipped only if there is no `tar`).
    #[test]
    fn system_tar_lists_and_extracts_the_archive() {
        let Ok(status) = std::process::Command::new("tar").arg("--version").output() else {
            eprintln!("no `tar` on this machine; skipping the cross-check");
            return;
        };
        assert!(status.status.success());
        let directory =
            std::env::temp_dir().join(format!("cella-archive-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("boot.tar");
        let entries = sample_entries();
        std::fs::write(&path, write_ustar(&entries, 1_700_000_000).unwrap()).unwrap();

        let listing = std::process::Command::new("tar")
            .arg("tf")
            .arg(&path)
            .output()
            .unwrap();
        assert!(listing.status.success(), "{listing:?}");
        let names: Vec<String> = String::from_utf8(listing.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let expected: Vec<String> = entries.iter().map(|entry| entry.name.clone()).collect();
        assert_eq!(names, expected);

        let extracted = directory.join("out");
        std::fs::create_dir_all(&extracted).unwrap();
        let status = std::process::Command::new("tar")
            .arg("xf")
            .arg(&path)
            .arg("-C")
            .arg(&extracted)
            .status()
            .unwrap();
        assert!(status.success());
        for entry in &entries {
            assert_eq!(
                std::fs::read(extracted.join(&entry.name)).unwrap(),
                entry.bytes
            );
        }
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
