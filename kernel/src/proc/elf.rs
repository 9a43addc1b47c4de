//! ELF64 executables for native processes: validation and the load plan.
//! Hardware-free and tested on the host; malformed input is an error, never a
//! panic.
//!
//! Accepted: little-endian ELF64, `ET_EXEC`, machine x86-64, `PT_LOAD`
//! segments that lie wholly inside the user window, with file bytes inside the
//! file and `filesz <= memsz`, not overlapping each other, and an entry point
//! inside an executable segment. Writable+executable segments are refused.

use alloc::vec::Vec;

/// Lowest address a user segment may use (the first 4 MiB stay unmapped, so
/// null pointers and small offsets from them fault).
pub const USER_MIN: u64 = 0x40_0000;
/// One past the highest address a user segment may use.
pub const USER_MAX: u64 = 0x0000_7000_0000_0000;

/// Why an executable was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than its headers say.
    Truncated,
    /// Not `\x7fELF`, not 64-bit little-endian, not x86-64 or not `ET_EXEC`.
    NotAnExecutable,
    /// A segment lies outside the user window or wraps.
    OutOfRange,
    /// A segment is both writable and executable.
    WritableAndExecutable,
    /// Segments overlap.
    Overlap,
    /// The entry point is not in an executable segment.
    BadEntry,
    /// No loadable segment, or too many.
    BadSegmentCount,
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Self::Truncated => "truncated",
            Self::NotAnExecutable => "not an x86-64 ELF64 executable",
            Self::OutOfRange => "a segment lies outside the user window",
            Self::WritableAndExecutable => "a segment is writable and executable",
            Self::Overlap => "segments overlap",
            Self::BadEntry => "the entry point is not in an executable segment",
            Self::BadSegmentCount => "no loadable segment, or more than 16",
        };
        formatter.write_str(text)
    }
}

/// One segment to map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address of the first byte.
    pub address: u64,
    /// Bytes in memory (the tail past `file_size` is zero).
    pub memory_size: u64,
    /// Offset of the file bytes.
    pub file_offset: u64,
    /// Bytes taken from the file.
    pub file_size: u64,
    /// Writable.
    pub writable: bool,
    /// Executable.
    pub executable: bool,
}

/// A validated executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executable {
    /// Entry point.
    pub entry: u64,
    /// Loadable segments, by address.
    pub segments: Vec<Segment>,
}

fn read<const N: usize>(bytes: &[u8], offset: u64) -> Result<[u8; N], ElfError> {
    let start = usize::try_from(offset).map_err(|_| ElfError::Truncated)?;
    let end = start.checked_add(N).ok_or(ElfError::Truncated)?;
    bytes
        .get(start..end)
        .and_then(|slice| slice.try_into().ok())
        .ok_or(ElfError::Truncated)
}

fn u16_at(bytes: &[u8], offset: u64) -> Result<u16, ElfError> {
    read::<2>(bytes, offset).map(u16::from_le_bytes)
}

fn u32_at(bytes: &[u8], offset: u64) -> Result<u32, ElfError> {
    read::<4>(bytes, offset).map(u32::from_le_bytes)
}

fn u64_at(bytes: &[u8], offset: u64) -> Result<u64, ElfError> {
    read::<8>(bytes, offset).map(u64::from_le_bytes)
}

const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;

/// Validates `bytes` as an executable and returns its load plan.
///
/// # Errors
/// [`ElfError`] naming the first problem found.
pub fn parse(bytes: &[u8]) -> Result<Executable, ElfError> {
    let ident: [u8; 8] = read(bytes, 0)?;
    if ident[..4] != *b"\x7fELF" || ident[4] != 2 || ident[5] != 1 {
        return Err(ElfError::NotAnExecutable);
    }
    if u16_at(bytes, 16)? != 2 || u16_at(bytes, 18)? != 0x3e {
        return Err(ElfError::NotAnExecutable);
    }
    let entry = u64_at(bytes, 24)?;
    let header_offset = u64_at(bytes, 32)?;
    let header_size = u64::from(u16_at(bytes, 54)?);
    let header_count = u64::from(u16_at(bytes, 56)?);
    if header_size < 56 {
        return Err(ElfError::NotAnExecutable);
    }
    let mut segments = Vec::new();
    for index in 0..header_count {
        let base = header_offset
            .checked_add(index * header_size)
            .ok_or(ElfError::Truncated)?;
        if u32_at(bytes, base)? != PT_LOAD {
            continue;
        }
        let flags = u32_at(bytes, base + 4)?;
        let segment = Segment {
            file_offset: u64_at(bytes, base + 8)?,
            address: u64_at(bytes, base + 16)?,
            file_size: u64_at(bytes, base + 32)?,
            memory_size: u64_at(bytes, base + 40)?,
            writable: flags & PF_W != 0,
            executable: flags & PF_X != 0,
        };
        if segment.memory_size == 0 {
            continue;
        }
        let end = segment
            .address
            .checked_add(segment.memory_size)
            .ok_or(ElfError::OutOfRange)?;
        if segment.address < USER_MIN || end > USER_MAX {
            return Err(ElfError::OutOfRange);
        }
        let file_end = segment
            .file_offset
            .checked_add(segment.file_size)
            .ok_or(ElfError::Truncated)?;
        if segment.file_size > segment.memory_size || file_end > bytes.len() as u64 {
            return Err(ElfError::Truncated);
        }
        if segment.writable && segment.executable {
            return Err(ElfError::WritableAndExecutable);
        }
        segments.push(segment);
        if segments.len() > 16 {
            return Err(ElfError::BadSegmentCount);
        }
    }
    if segments.is_empty() {
        return Err(ElfError::BadSegmentCount);
    }
    segments.sort_by_key(|segment| segment.address);
    for pair in segments.windows(2) {
        // Page granularity: two segments may not share a page.
        let first_end_page = (pair[0].address + pair[0].memory_size + 0xfff) & !0xfff;
        if first_end_page > (pair[1].address & !0xfff) {
            return Err(ElfError::Overlap);
        }
    }
    if !segments.iter().any(|segment| {
        segment.executable
            && (segment.address..segment.address + segment.memory_size).contains(&entry)
    }) {
        return Err(ElfError::BadEntry);
    }
    Ok(Executable { entry, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF with the given segments `(address, memsz, filesz, flags)`.
    fn elf(entry: u64, segments: &[(u64, u64, u64, u32)]) -> Vec<u8> {
        let mut bytes = vec![0u8; 64 + 56 * segments.len()];
        bytes[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
        bytes[16..18].copy_from_slice(&2u16.to_le_bytes());
        bytes[18..20].copy_from_slice(&0x3eu16.to_le_bytes());
        bytes[24..32].copy_from_slice(&entry.to_le_bytes());
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes());
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
        bytes[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let data_offset = bytes.len() as u64;
        for (index, &(address, memory, file, flags)) in segments.iter().enumerate() {
            let base = 64 + 56 * index;
            bytes[base..base + 4].copy_from_slice(&1u32.to_le_bytes());
            bytes[base + 4..base + 8].copy_from_slice(&flags.to_le_bytes());
            bytes[base + 8..base + 16].copy_from_slice(&data_offset.to_le_bytes());
            bytes[base + 16..base + 24].copy_from_slice(&address.to_le_bytes());
            bytes[base + 32..base + 40].copy_from_slice(&file.to_le_bytes());
            bytes[base + 40..base + 48].copy_from_slice(&memory.to_le_bytes());
        }
        bytes.resize(bytes.len() + 0x2000, 0xcc);
        bytes
    }

    #[test]
    fn accepts_a_text_and_data_executable() {
        let bytes = elf(
            0x40_0010,
            &[(0x40_0000, 0x100, 0x100, 5), (0x40_1000, 0x2000, 0x10, 6)],
        );
        let executable = parse(&bytes).expect("valid");
        assert_eq!(executable.entry, 0x40_0010);
        assert_eq!(executable.segments.len(), 2);
        assert!(executable.segments[0].executable);
        assert!(executable.segments[1].writable);
    }

    #[test]
    fn refuses_kernel_addresses_and_null_page() {
        let kernel = elf(
            0xffff_ffff_8000_0000,
            &[(0xffff_ffff_8000_0000, 0x100, 0, 5)],
        );
        assert_eq!(parse(&kernel), Err(ElfError::OutOfRange));
        let low = elf(0x1000, &[(0x1000, 0x100, 0, 5)]);
        assert_eq!(parse(&low), Err(ElfError::OutOfRange));
        let wraps = elf(0x40_0000, &[(0x40_0000, u64::MAX, 0, 5)]);
        assert_eq!(parse(&wraps), Err(ElfError::OutOfRange));
    }

    #[test]
    fn refuses_writable_executable_overlap_and_bad_entry() {
        assert_eq!(
            parse(&elf(0x40_0000, &[(0x40_0000, 0x100, 0, 7)])),
            Err(ElfError::WritableAndExecutable)
        );
        assert_eq!(
            parse(&elf(
                0x40_0000,
                &[(0x40_0000, 0x1800, 0, 5), (0x40_1000, 0x100, 0, 6)]
            )),
            Err(ElfError::Overlap)
        );
        assert_eq!(
            parse(&elf(
                0x40_1000,
                &[(0x40_0000, 0x100, 0, 5), (0x40_1000, 0x100, 0, 6)]
            )),
            Err(ElfError::BadEntry)
        );
    }

    #[test]
    fn refuses_truncated_and_foreign_files() {
        assert_eq!(parse(b"\x7fELF"), Err(ElfError::Truncated));
        assert_eq!(parse(&[0u8; 64]), Err(ElfError::NotAnExecutable));
        let mut bytes = elf(0x40_0000, &[(0x40_0000, 0x100, 0x100, 5)]);
        bytes[18] = 0x28; // ARM
        assert_eq!(parse(&bytes), Err(ElfError::NotAnExecutable));
        let too_much_file = elf(0x40_0000, &[(0x40_0000, 0x100, 0x10_0000, 5)]);
        assert_eq!(parse(&too_much_file), Err(ElfError::Truncated));
        for length in 0..200 {
            let bytes = elf(0x40_0000, &[(0x40_0000, 0x100, 0x100, 5)]);
            let _ = parse(&bytes[..length]);
        }
    }
}
