//! The boot archive: a plain ustar tar file that arrives as PVH module 0.
//!
//! A tar is a sequence of 512-byte headers, each followed by the entry's data
//! padded to a multiple of 512 bytes, and ends with two zero blocks. People can
//! inspect the same file with `tar tf`. This reader borrows the archive's bytes,
//! never allocates, and turns every malformed header into an [`ArchiveError`]
//! rather than a panic: the archive is input, not trusted code.
//!
//! Supported: ustar and GNU headers, the ustar `prefix` field, GNU long names
//! (`L` entries) and the `path` record of pax extended headers (`x`).
#![forbid(unsafe_code)]

use core::fmt;

const BLOCK: usize = 512;

/// What went wrong while reading the archive, with the byte offset of the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveError {
    /// A header or an entry's data runs past the end of the archive.
    Truncated { offset: usize },
    /// A header's checksum does not match its bytes.
    BadChecksum { offset: usize },
    /// A numeric field is not octal (base-256 sizes are not supported).
    BadNumber { offset: usize },
    /// An extended header (GNU `L` or pax `x`) that is not followed by an entry.
    DanglingExtendedHeader { offset: usize },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { offset } => write!(formatter, "truncated at byte {offset}"),
            Self::BadChecksum { offset } => {
                write!(formatter, "bad header checksum at byte {offset}")
            }
            Self::BadNumber { offset } => {
                write!(formatter, "bad numeric field in header at byte {offset}")
            }
            Self::DanglingExtendedHeader { offset } => {
                write!(formatter, "extended header at byte {offset} has no entry")
            }
        }
    }
}

/// The kind of an entry, from the header's type flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// Links, devices, FIFOs: listed, never interpreted.
    Other(u8),
}

/// An entry's path: the ustar prefix (possibly empty) and the name proper.
#[derive(Clone, Copy, Debug)]
pub struct EntryName<'a> {
    prefix: &'a [u8],
    name: &'a [u8],
}

impl EntryName<'_> {
    /// Whether the full path equals `path`.
    pub fn matches(&self, path: &str) -> bool {
        let path = path.as_bytes();
        if self.prefix.is_empty() {
            return self.name == path;
        }
        path.len() == self.prefix.len() + 1 + self.name.len()
            && path.starts_with(self.prefix)
            && path[self.prefix.len()] == b'/'
            && path.ends_with(self.name)
    }

    /// The full path's length in bytes.
    pub fn len(&self) -> usize {
        if self.prefix.is_empty() {
            self.name.len()
        } else {
            self.prefix.len() + 1 + self.name.len()
        }
    }

    /// Whether the path is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for EntryName<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.prefix.is_empty() {
            write_lossy(formatter, self.prefix)?;
            formatter.write_str("/")?;
        }
        write_lossy(formatter, self.name)
    }
}

fn write_lossy(formatter: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        formatter.write_str(chunk.valid())?;
        if !chunk.invalid().is_empty() {
            formatter.write_str("\u{fffd}")?;
        }
    }
    Ok(())
}

/// One entry of the archive: its path, kind and data.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub name: EntryName<'a>,
    pub kind: EntryKind,
    pub data: &'a [u8],
}

/// A borrowed ustar archive.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    bytes: &'a [u8],
}

impl<'a> Archive<'a> {
    /// Wraps the archive's bytes; nothing is read until iteration.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The entries in order. Iteration stops after the first error.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            bytes: self.bytes,
            offset: 0,
            failed: false,
        }
    }

    /// The first file entry whose path is `path`.
    ///
    /// # Errors
    /// Any [`ArchiveError`] met before the entry is found.
    pub fn find(&self, path: &str) -> Result<Option<Entry<'a>>, ArchiveError> {
        for entry in self.entries() {
            let entry = entry?;
            if entry.kind == EntryKind::File && entry.name.matches(path) {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }
}

/// Iterator over an archive's entries.
pub struct Entries<'a> {
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.read_entry();
        if matches!(result, Some(Err(_))) {
            self.failed = true;
        }
        result
    }
}

impl<'a> Entries<'a> {
    /// Reads one header (plus any extended headers before it) and its data.
    fn read_entry(&mut self) -> Option<Result<Entry<'a>, ArchiveError>> {
        let mut long_name: Option<&'a [u8]> = None;
        loop {
            let header_offset = self.offset;
            let Some(header) = self.bytes.get(header_offset..header_offset + BLOCK) else {
                // A missing end-of-archive marker is tolerated at a block boundary.
                if header_offset == self.bytes.len() && long_name.is_none() {
                    return None;
                }
                return Some(Err(ArchiveError::Truncated {
                    offset: header_offset,
                }));
            };
            if header.iter().all(|&byte| byte == 0) {
                if long_name.is_some() {
                    return Some(Err(ArchiveError::DanglingExtendedHeader {
                        offset: header_offset,
                    }));
                }
                return None;
            }
            if let Err(error) = verify_checksum(header, header_offset) {
                return Some(Err(error));
            }
            let size = match parse_octal(&header[124..136]) {
                Some(size) => size,
                None => {
                    return Some(Err(ArchiveError::BadNumber {
                        offset: header_offset,
                    }));
                }
            };
            let data_start = header_offset + BLOCK;
            let Some(data) = usize::try_from(size)
                .ok()
                .and_then(|size| data_start.checked_add(size))
                .and_then(|data_end| self.bytes.get(data_start..data_end))
            else {
                return Some(Err(ArchiveError::Truncated {
                    offset: header_offset,
                }));
            };
            // Data is padded to whole blocks; a short final padding is tolerated.
            let padded = data.len().div_ceil(BLOCK) * BLOCK;
            self.offset = (data_start + padded).min(self.bytes.len());

            let type_flag = header[156];
            match type_flag {
                b'L' => long_name = Some(until_nul(data)),
                b'x' => {
                    if let Some(path) = pax_path(data) {
                        long_name = Some(path);
                    }
                }
                b'g' => {}
                _ => {
                    let name = match long_name {
                        Some(name) => EntryName { prefix: &[], name },
                        None => header_name(header),
                    };
                    let kind = match type_flag {
                        b'0' | 0 | b'7' => EntryKind::File,
                        b'5' => EntryKind::Directory,
                        other => EntryKind::Other(other),
                    };
                    return Some(Ok(Entry { name, kind, data }));
                }
            }
        }
    }
}

fn header_name(header: &[u8]) -> EntryName<'_> {
    let name = until_nul(&header[0..100]);
    let is_ustar = &header[257..263] == b"ustar\0";
    let prefix = if is_ustar {
        until_nul(&header[345..500])
    } else {
        &[]
    };
    EntryName { prefix, name }
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(bytes.len());
    &bytes[..end]
}

fn verify_checksum(header: &[u8], offset: usize) -> Result<(), ArchiveError> {
    let stored = parse_octal(&header[148..156]).ok_or(ArchiveError::BadNumber { offset })?;
    let computed: u64 = header
        .iter()
        .enumerate()
        .map(|(index, &byte)| {
            if (148..156).contains(&index) {
                u64::from(b' ')
            } else {
                u64::from(byte)
            }
        })
        .sum();
    if stored == computed {
        Ok(())
    } else {
        Err(ArchiveError::BadChecksum { offset })
    }
}

/// Parses an octal field: optional leading spaces, digits, then NUL or space.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut digits = 0;
    for &byte in field.iter().skip_while(|&&byte| byte == b' ') {
        match byte {
            b'0'..=b'7' => {
                value = value.checked_mul(8)?.checked_add(u64::from(byte - b'0'))?;
                digits += 1;
            }
            0 | b' ' => break,
            _ => return None,
        }
    }
    (digits > 0).then_some(value)
}

/// The `path` record of a pax extended header: records are "LEN key=value\n".
fn pax_path(mut records: &[u8]) -> Option<&[u8]> {
    while !records.is_empty() {
        let space = records.iter().position(|&byte| byte == b' ')?;
        let length: usize = core::str::from_utf8(&records[..space]).ok()?.parse().ok()?;
        let record = records.get(space + 1..length)?;
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(path) = record.strip_prefix(b"path=") {
            return Some(path);
        }
        records = &records[length..];
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    /// A ustar archive of `entries` (also for other modules' host tests).
    pub(crate) fn build(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, data.as_slice())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn lists_entries_with_sizes_and_contents() {
        let sizes = [0usize, 1, 511, 512, 513, 100_000];
        let entries: Vec<(String, Vec<u8>)> = sizes
            .iter()
            .map(|&size| {
                let data = (0..size).map(|index| (index * 7 + size) as u8).collect();
                (std::format!("dir/file-{size}"), data)
            })
            .collect();
        let borrowed: Vec<(&str, Vec<u8>)> = entries
            .iter()
            .map(|(name, data)| (name.as_str(), data.clone()))
            .collect();
        let bytes = build(&borrowed);
        let archive = Archive::new(&bytes);
        let listed: Vec<Entry<'_>> = archive.entries().map(Result::unwrap).collect();
        assert_eq!(listed.len(), sizes.len());
        for (entry, (name, data)) in listed.iter().zip(&entries) {
            assert_eq!(entry.name.to_string(), *name);
            assert_eq!(entry.kind, EntryKind::File);
            assert_eq!(entry.data, data.as_slice());
        }
        let found = archive.find("dir/file-513").unwrap().unwrap();
        assert_eq!(found.data.len(), 513);
        assert!(archive.find("dir/nope").unwrap().is_none());
    }

    #[test]
    fn long_names_survive() {
        let long = "a/".repeat(80) + "leaf.wasm";
        let bytes = build(&[(long.as_str(), b"xyz".to_vec())]);
        let entry = Archive::new(&bytes).entries().next().unwrap().unwrap();
        assert_eq!(entry.name.to_string(), long);
        assert!(entry.name.matches(&long));
        assert_eq!(entry.data, b"xyz");
    }

    #[test]
    fn ustar_prefix_is_joined() {
        let mut header = [0u8; 512];
        header[..4].copy_from_slice(b"leaf");
        header[100..107].copy_from_slice(b"000644\0");
        header[124..136].copy_from_slice(b"00000000003\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[345..351].copy_from_slice(b"prefix");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum::<u32>() + 8 * u32::from(b' ');
        header[148..156].copy_from_slice(std::format!("{sum:06o}\0 ").as_bytes());
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(b"abc");
        bytes.resize(512 * 4, 0);
        let entry = Archive::new(&bytes).entries().next().unwrap().unwrap();
        assert_eq!(entry.name.to_string(), "prefix/leaf");
        assert!(entry.name.matches("prefix/leaf"));
        assert!(!entry.name.matches("prefixleaf"));
        assert_eq!(entry.data, b"abc");
    }

    #[test]
    fn corrupt_archives_give_errors_not_panics() {
        let good = build(&[("one", vec![1; 700]), ("two", vec![2; 10])]);
        let mut bad_checksum = good.clone();
        bad_checksum[3] ^= 0x40;
        assert_eq!(
            Archive::new(&bad_checksum)
                .entries()
                .next()
                .unwrap()
                .unwrap_err(),
            ArchiveError::BadChecksum { offset: 0 }
        );
        let truncated = &good[..600];
        assert_eq!(
            Archive::new(truncated)
                .entries()
                .next()
                .unwrap()
                .unwrap_err(),
            ArchiveError::Truncated { offset: 0 }
        );
        let half_header = &good[..100];
        assert!(Archive::new(half_header).entries().next().unwrap().is_err());
        assert_eq!(Archive::new(&[]).entries().count(), 0);
        // Every prefix and every single-byte corruption terminates without panicking.
        for length in 0..good.len().min(3000) {
            let _ = Archive::new(&good[..length]).entries().count();
        }
        for index in (0..1536).step_by(7) {
            let mut mutated = good.clone();
            mutated[index] = mutated[index].wrapping_add(0x55);
            let _ = Archive::new(&mutated).entries().count();
        }
    }

    #[test]
    fn octal_fields() {
        assert_eq!(parse_octal(b"00000000017\0"), Some(15));
        assert_eq!(parse_octal(b"   17 "), Some(15));
        assert_eq!(parse_octal(b"\0\0\0"), None);
        assert_eq!(parse_octal(b"0009"), None);
        assert_eq!(parse_octal(&[0x80, 0, 0, 1]), None);
    }
}
