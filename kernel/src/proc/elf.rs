//! ELF64 executables for native processes: validation and the load plan.
//! The `elf` crate reads the headers; the rules below are the kernel's.
//! Hardware-free and tested on the host; malformed input is an error, never a
//! panic.
//!
//! Accepted: little-endian ELF64, `ET_EXEC`, machine x86-64, `PT_LOAD`
//! segments that lie wholly inside the user window, with file bytes inside the
//! file and `filesz <= memsz`, not overlapping each other, and an entry point
//! inside an executable segment. Writable+executable segments are refused.

use alloc::vec::Vec;
use elf::ElfBytes;
use elf::endian::LittleEndian;
use elf::file::Class;
use elf::parse::ParseError;

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
    /// No program header table, no loadable segment, or too many.
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

const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const ET_EXEC: u16 = 2;
const EM_X86_64: u16 = 0x3e;
/// Most loadable segments an executable may have.
const MAX_SEGMENTS: usize = 16;

/// The `elf` crate's error as one of ours: a read past the end is
/// [`ElfError::Truncated`], everything else a file this loader does not take.
fn refused(error: ParseError) -> ElfError {
    match error {
        ParseError::SliceReadError(_)
        | ParseError::TryFromSliceError(_)
        | ParseError::BadOffset(_)
        | ParseError::IntegerOverflow
        | ParseError::TryFromIntError(_) => ElfError::Truncated,
        _ => ElfError::NotAnExecutable,
    }
}

/// Validates `bytes` as an executable and returns its load plan.
///
/// The `elf` crate reads the headers (bounds-checked, no allocation); this
/// function decides what the kernel accepts.
///
/// # Errors
/// [`ElfError`] naming the first problem found.
pub fn parse(bytes: &[u8]) -> Result<Executable, ElfError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).map_err(refused)?;
    let header = &file.ehdr;
    if header.class != Class::ELF64 || header.e_type != ET_EXEC || header.e_machine != EM_X86_64 {
        return Err(ElfError::NotAnExecutable);
    }
    let entry = header.e_entry;
    let table = file.segments().ok_or(ElfError::BadSegmentCount)?;
    let mut segments = Vec::new();
    for program_header in table.iter() {
        if program_header.p_type != PT_LOAD || program_header.p_memsz == 0 {
            continue;
        }
        let segment = Segment {
            file_offset: program_header.p_offset,
            address: program_header.p_vaddr,
            file_size: program_header.p_filesz,
            memory_size: program_header.p_memsz,
            writable: program_header.p_flags & PF_W != 0,
            executable: program_header.p_flags & PF_X != 0,
        };
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
        if segments.len() == MAX_SEGMENTS {
            return Err(ElfError::BadSegmentCount);
        }
        segments.push(segment);
    }
    if segments.is_empty() {
        return Err(ElfError::BadSegmentCount);
    }
    segments.sort_by_key(|segment| segment.address);
    for pair in segments.windows(2) {
        // Page granularity: two segments may not share a page (both lie below
        // USER_MAX, so rounding up cannot overflow).
        let first_end_page = (pair[0].address + pair[0].memory_size).div_ceil(0x1000) * 0x1000;
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

    /// Writes `value`'s little-endian bytes at `offset`.
    fn put<const N: usize>(bytes: &mut [u8], offset: usize, value: [u8; N]) {
        bytes[offset..offset + N].copy_from_slice(&value);
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        let valid = elf(0x40_0000, &[(0x40_0000, 0x100, 0x100, 5)]);
        let hostile = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut bytes = valid.clone();
            edit(&mut bytes);
            parse(&bytes)
        };
        // The program header table starts or ends past the file.
        assert_eq!(
            hostile(&|bytes| {
                let length = bytes.len() as u64;
                put(bytes, 32, length.to_le_bytes());
            }),
            Err(ElfError::Truncated)
        );
        assert_eq!(
            hostile(&|bytes| put(bytes, 32, (u64::MAX - 8).to_le_bytes())),
            Err(ElfError::Truncated)
        );
        // Huge header counts: 0xfffe entries, and PN_XNUM (0xffff), which
        // sends the reader to a section header 0 that is not there.
        assert_eq!(
            hostile(&|bytes| put(bytes, 56, 0xfffe_u16.to_le_bytes())),
            Err(ElfError::Truncated)
        );
        assert!(hostile(&|bytes| put(bytes, 56, 0xffff_u16.to_le_bytes())).is_err());
        assert!(
            hostile(&|bytes| {
                put(bytes, 56, 0xffff_u16.to_le_bytes());
                put(bytes, 40, 64u64.to_le_bytes()); // e_shoff: section 0 over the segment
                put(bytes, 58, 64u16.to_le_bytes()); // e_shentsize
            })
            .is_err()
        );
        // An entry size that is not a program header's.
        assert_eq!(
            hostile(&|bytes| put(bytes, 54, 57u16.to_le_bytes())),
            Err(ElfError::NotAnExecutable)
        );
        // No program header table at all.
        assert_eq!(
            hostile(&|bytes| put(bytes, 32, 0u64.to_le_bytes())),
            Err(ElfError::BadSegmentCount)
        );
        // Segment file bytes past the end, and offset + size overflowing.
        assert_eq!(
            hostile(&|bytes| {
                let length = bytes.len() as u64;
                put(bytes, 64 + 8, length.to_le_bytes());
            }),
            Err(ElfError::Truncated)
        );
        assert_eq!(
            hostile(&|bytes| put(bytes, 64 + 8, u64::MAX.to_le_bytes())),
            Err(ElfError::Truncated)
        );
        // Address + memory size overflowing.
        assert_eq!(
            hostile(&|bytes| put(bytes, 64 + 16, (u64::MAX - 0x10).to_le_bytes())),
            Err(ElfError::OutOfRange)
        );
        // A section header table past the end (the loader does not need it,
        // but a file that lies about it is refused).
        assert_eq!(
            hostile(&|bytes| {
                put(bytes, 40, u64::MAX.to_le_bytes());
                put(bytes, 58, 64u16.to_le_bytes());
            }),
            Err(ElfError::Truncated)
        );
        // Big-endian and 32-bit idents.
        assert_eq!(
            hostile(&|bytes| bytes[5] = 2),
            Err(ElfError::NotAnExecutable)
        );
        assert_eq!(
            hostile(&|bytes| bytes[4] = 1),
            Err(ElfError::NotAnExecutable)
        );
    }

    #[test]
    fn seventeen_loadable_segments_are_too_many() {
        let segments: Vec<_> = (0..17)
            .map(|index| (0x40_0000 + index * 0x1000, 0x100, 0, 4))
            .collect();
        let mut sixteen = segments[..16].to_vec();
        sixteen[0].3 = 5;
        assert!(parse(&elf(0x40_0000, &sixteen)).is_ok());
        let mut seventeen = segments;
        seventeen[0].3 = 5;
        assert_eq!(
            parse(&elf(0x40_0000, &seventeen)),
            Err(ElfError::BadSegmentCount)
        );
    }

    #[test]
    fn ten_thousand_mutated_files_never_panic() {
        let valid = elf(
            0x40_0010,
            &[(0x40_0000, 0x100, 0x100, 5), (0x40_1000, 0x2000, 0x10, 6)],
        );
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut refused = 0;
        for _ in 0..10_000 {
            let mut bytes = valid.clone();
            for _ in 0..1 + next() % 8 {
                // Mostly the headers (the first 176 bytes), sometimes whole words.
                let offset = (next() % 176) as usize;
                if next() % 4 == 0 && offset + 8 <= bytes.len() {
                    put(&mut bytes, offset, next().to_le_bytes());
                } else {
                    bytes[offset] = next() as u8;
                }
            }
            let cut = if next() % 8 == 0 {
                (next() as usize) % bytes.len()
            } else {
                bytes.len()
            };
            if parse(&bytes[..cut]).is_err() {
                refused += 1;
            }
        }
        assert!(
            refused > 1_000,
            "only {refused} of 10000 mutated files refused"
        );
    }
}
