//! What the boot loader tells the kernel: the PVH `hvm_start_info` structure.
//!
//! QEMU's `-kernel` PVH boot passes the physical address of `hvm_start_info`
//! in `%ebx`. Version 1 of the structure points at the command line, the
//! module list (`-initrd` arrives as module 0) and the memory map. Everything
//! the kernel needs is copied out into a [`BootInfo`] before the first frame is
//! allocated, so the loader's tables may be overwritten afterwards. Reading
//! goes through [`PhysicalReader`], so this parser is tested on the host.
#![forbid(unsafe_code)]

use crate::mm::regions::{PhysRange, RegionList, TooManyRegions};
use core::fmt;

/// `hvm_start_info.magic`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Memory map entry type for usable RAM.
const MEMORY_TYPE_RAM: u32 = 1;
/// Longest command line kept; longer ones are truncated (and say so).
pub const COMMAND_LINE_CAPACITY: usize = 1024;
/// Most memory-map ranges kept.
pub const MAX_REGIONS: usize = 64;
/// Most memory-map entries read (QEMU gives a handful).
const MAX_MEMORY_MAP_ENTRIES: u32 = 256;

/// Reads physical memory during early boot.
pub trait PhysicalReader {
    /// Fills `buffer` from physical address `address`; `false` if unreachable.
    fn read(&self, address: u64, buffer: &mut [u8]) -> bool;
}

/// Why the start info cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootInfoError {
    BadMagic(u32),
    /// Version 0 has no memory map, which this kernel requires.
    UnsupportedVersion(u32),
    Unreadable {
        what: &'static str,
        address: u64,
    },
    NoMemoryMap,
    TooFragmented(TooManyRegions),
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic(magic) => write!(
                formatter,
                "PVH start info magic is {magic:#x}, expected {START_INFO_MAGIC:#x}"
            ),
            Self::UnsupportedVersion(version) => write!(
                formatter,
                "PVH start info version {version} has no memory map (need version 1)"
            ),
            Self::Unreadable { what, address } => {
                write!(formatter, "cannot read the {what} at physical {address:#x}")
            }
            Self::NoMemoryMap => write!(formatter, "the PVH memory map lists no RAM"),
            Self::TooFragmented(_) => write!(
                formatter,
                "the memory map has more than {MAX_REGIONS} separate RAM ranges"
            ),
        }
    }
}

/// Everything the kernel keeps from the start info.
#[derive(Clone, Debug)]
pub struct BootInfo {
    command_line: [u8; COMMAND_LINE_CAPACITY],
    command_line_len: usize,
    /// The command line was longer than [`COMMAND_LINE_CAPACITY`].
    pub command_line_truncated: bool,
    /// All RAM in the memory map (type 1), before anything is reserved.
    pub ram: RegionList<MAX_REGIONS>,
    /// The boot archive (module 0), if the loader passed one.
    pub archive: Option<PhysRange>,
    /// How many modules the loader passed (only the first is used).
    pub module_count: u32,
    /// The ACPI RSDP, if given.
    pub rsdp: Option<u64>,
}

impl BootInfo {
    /// The command line as text (invalid UTF-8 is cut at the first bad byte).
    pub fn command_line(&self) -> &str {
        let bytes = &self.command_line[..self.command_line_len];
        match core::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => core::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default(),
        }
    }

    /// Reads and copies the start info at `address`.
    ///
    /// # Errors
    /// [`BootInfoError`] if the structure is missing, of an old version,
    /// unreadable, or describes no RAM.
    pub fn read(reader: &impl PhysicalReader, address: u64) -> Result<Self, BootInfoError> {
        let mut header = [0u8; 56];
        read_or(reader, address, &mut header, "start info")?;
        let magic = u32_at(&header, 0);
        if magic != START_INFO_MAGIC {
            return Err(BootInfoError::BadMagic(magic));
        }
        let version = u32_at(&header, 4);
        if version < 1 {
            return Err(BootInfoError::UnsupportedVersion(version));
        }
        let module_count = u32_at(&header, 12);
        let module_list = u64_at(&header, 16);
        let command_line_address = u64_at(&header, 24);
        let rsdp = u64_at(&header, 32);
        let memory_map = u64_at(&header, 40);
        let memory_map_entries = u32_at(&header, 48);

        let mut info = BootInfo {
            command_line: [0; COMMAND_LINE_CAPACITY],
            command_line_len: 0,
            command_line_truncated: false,
            ram: RegionList::new(),
            archive: None,
            module_count,
            rsdp: (rsdp != 0).then_some(rsdp),
        };
        if command_line_address != 0 {
            info.read_command_line(reader, command_line_address)?;
        }
        if module_count > 0 {
            let mut entry = [0u8; 32];
            read_or(reader, module_list, &mut entry, "module list")?;
            let range = PhysRange::from_start_size(u64_at(&entry, 0), u64_at(&entry, 8));
            info.archive = (!range.is_empty()).then_some(range);
        }
        for index in 0..memory_map_entries.min(MAX_MEMORY_MAP_ENTRIES) {
            let mut entry = [0u8; 24];
            let entry_address = memory_map.saturating_add(u64::from(index) * 24);
            read_or(reader, entry_address, &mut entry, "memory map")?;
            if u32_at(&entry, 16) == MEMORY_TYPE_RAM {
                let range = PhysRange::from_start_size(u64_at(&entry, 0), u64_at(&entry, 8));
                info.ram.add(range).map_err(BootInfoError::TooFragmented)?;
            }
        }
        if info.ram.total() == 0 {
            return Err(BootInfoError::NoMemoryMap);
        }
        Ok(info)
    }

    fn read_command_line(
        &mut self,
        reader: &impl PhysicalReader,
        address: u64,
    ) -> Result<(), BootInfoError> {
        // Read in small chunks so a command line near the end of RAM still reads.
        let mut chunk = [0u8; 64];
        while self.command_line_len < COMMAND_LINE_CAPACITY {
            let chunk_address = address.saturating_add(self.command_line_len as u64);
            read_or(reader, chunk_address, &mut chunk, "command line")?;
            for &byte in &chunk {
                if byte == 0 {
                    return Ok(());
                }
                if self.command_line_len == COMMAND_LINE_CAPACITY {
                    self.command_line_truncated = true;
                    return Ok(());
                }
                self.command_line[self.command_line_len] = byte;
                self.command_line_len += 1;
            }
        }
        self.command_line_truncated = true;
        Ok(())
    }
}

fn read_or(
    reader: &impl PhysicalReader,
    address: u64,
    buffer: &mut [u8],
    what: &'static str,
) -> Result<(), BootInfoError> {
    if reader.read(address, buffer) {
        Ok(())
    } else {
        Err(BootInfoError::Unreadable { what, address })
    }
}

/// The little-endian `u16` at `offset` of a table the caller read whole.
pub(crate) fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([bytes[offset], bytes[offset + 1]])
}

/// The little-endian `u32` at `offset` of a table the caller read whole
/// (ACPI and PVH tables alike).
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut field = [0u8; 4];
    field.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(field)
}

/// The little-endian `u64` at `offset`, as [`u32_at`].
pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut field = [0u8; 8];
    field.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Physical memory 0..len as a byte vector.
    struct FakeMemory(Vec<u8>);

    impl PhysicalReader for FakeMemory {
        fn read(&self, address: u64, buffer: &mut [u8]) -> bool {
            let Ok(start) = usize::try_from(address) else {
                return false;
            };
            let Some(end) = start.checked_add(buffer.len()) else {
                return false;
            };
            match self.0.get(start..end) {
                Some(bytes) => {
                    buffer.copy_from_slice(bytes);
                    true
                }
                None => false,
            }
        }
    }

    impl FakeMemory {
        fn put(&mut self, address: usize, bytes: &[u8]) {
            self.0[address..address + bytes.len()].copy_from_slice(bytes);
        }
    }

    fn start_info(version: u32, modules: u32, command_line: u64, entries: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&START_INFO_MAGIC.to_le_bytes());
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&modules.to_le_bytes());
        bytes.extend_from_slice(&0x2000u64.to_le_bytes()); // module list
        bytes.extend_from_slice(&command_line.to_le_bytes());
        bytes.extend_from_slice(&0xf0000u64.to_le_bytes()); // rsdp
        bytes.extend_from_slice(&0x3000u64.to_le_bytes()); // memory map
        bytes.extend_from_slice(&entries.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes
    }

    fn memory_entry(address: u64, size: u64, kind: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&address.to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes
    }

    fn machine() -> FakeMemory {
        let mut memory = FakeMemory(vec![0; 0x5000]);
        memory.put(0x1000, &start_info(1, 1, 0x4000, 3));
        let mut module = Vec::new();
        module.extend_from_slice(&0x80_0000u64.to_le_bytes());
        module.extend_from_slice(&0x1234u64.to_le_bytes());
        memory.put(0x2000, &module);
        memory.put(0x3000, &memory_entry(0, 0x9fc00, 1));
        memory.put(0x3018, &memory_entry(0xf0000, 0x10000, 2));
        memory.put(0x3030, &memory_entry(0x10_0000, 0xff0_0000, 1));
        memory.put(0x4000, b"test=heap verbose\0");
        memory
    }

    #[test]
    fn reads_command_line_archive_and_ram() {
        let info = BootInfo::read(&machine(), 0x1000).unwrap();
        assert_eq!(info.command_line(), "test=heap verbose");
        assert!(!info.command_line_truncated);
        assert_eq!(
            info.archive,
            Some(PhysRange {
                start: 0x80_0000,
                end: 0x80_1234
            })
        );
        assert_eq!(info.module_count, 1);
        assert_eq!(info.rsdp, Some(0xf0000));
        assert_eq!(
            info.ram.as_slice(),
            &[
                PhysRange {
                    start: 0,
                    end: 0x9fc00
                },
                PhysRange {
                    start: 0x10_0000,
                    end: 0x1000_0000
                }
            ]
        );
    }

    #[test]
    fn refuses_bad_magic_old_version_and_unreadable_tables() {
        let mut memory = machine();
        memory.put(0x1000, &0xdead_beefu32.to_le_bytes());
        assert_eq!(
            BootInfo::read(&memory, 0x1000).unwrap_err(),
            BootInfoError::BadMagic(0xdead_beef)
        );
        let mut memory = machine();
        memory.put(0x1000, &start_info(0, 0, 0, 0));
        assert_eq!(
            BootInfo::read(&memory, 0x1000).unwrap_err(),
            BootInfoError::UnsupportedVersion(0)
        );
        // A memory map that runs off the end of readable memory.
        let mut memory = FakeMemory(vec![0; 0x3100]);
        memory.put(0x1000, &start_info(1, 0, 0, 20));
        assert!(matches!(
            BootInfo::read(&memory, 0x1000).unwrap_err(),
            BootInfoError::Unreadable {
                what: "memory map",
                ..
            }
        ));
        assert!(matches!(
            BootInfo::read(&memory, 0xffff_ffff_ffff_fff0).unwrap_err(),
            BootInfoError::Unreadable {
                what: "start info",
                ..
            }
        ));
    }

    #[test]
    fn long_command_line_is_truncated_and_flagged() {
        let mut memory = FakeMemory(vec![b'x'; 0x6000]);
        memory.put(0x1000, &start_info(1, 0, 0x4000, 1));
        memory.put(0x3000, &memory_entry(0x10_0000, 0x10_0000, 1));
        let info = BootInfo::read(&memory, 0x1000).unwrap();
        assert_eq!(info.command_line().len(), COMMAND_LINE_CAPACITY);
        assert!(info.command_line_truncated);
        assert_eq!(info.archive, None);
    }
}
