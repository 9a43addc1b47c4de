//! Where a FAT volume keeps what, read from its boot sector (the BIOS
//! parameter block) before the FAT library mounts it: enough to tell a FAT
//! volume from a blank disk, to find the journal's room in the reserved
//! sectors, and to tell metadata sectors from file data.

use crate::disk::{SECTOR_BYTES, Sector};

/// The first reserved sector the journal may use: mkfs.fat puts the boot
/// sector, FSInfo and their backups in sectors 0 to 12.
pub const JOURNAL_START: u64 = 32;
/// The most sectors the journal takes (its header and its copies).
pub const JOURNAL_MOST_SECTORS: u64 = 64;
/// The fewest sectors worth a journal: the header and two copies.
const JOURNAL_FEWEST_SECTORS: u64 = 3;

/// Offset of the FAT32 status byte in the boot sector; bit 0 is the
/// "volume dirty" flag.
pub const STATUS_OFFSET: usize = 0x41;
/// The "volume dirty" bit of the status byte.
pub const DIRTY_BIT: u8 = 0x01;

/// Offset of the free-cluster count in the FSInfo sector.
pub const FSINFO_FREE_OFFSET: usize = 488;
/// The FSInfo free-cluster count that means "unknown" (the count must be
/// made by reading the whole FAT).
pub const FREE_UNKNOWN: u32 = 0xffff_ffff;

/// A FAT volume's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Sectors before the first FAT (boot sector, FSInfo, backups, free room).
    pub reserved: u64,
    /// The first sector of the data region (clusters), after the FATs.
    pub data_start: u64,
    /// The FSInfo sector (FAT32 only).
    pub fs_info: Option<u64>,
    /// The backup boot sector (FAT32 only; 0 if none).
    pub backup_boot: u64,
    /// The volume's size in sectors.
    pub total: u64,
    /// Whether the volume is FAT32 (the status byte's place depends on it).
    pub fat32: bool,
    /// How many copies of the FAT it keeps.
    pub fats: u64,
    /// How many clusters the data region holds.
    pub clusters: u64,
}

/// Why a boot sector is not one the server mounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotFat {
    /// No boot signature, or fields no FAT volume has.
    NoFileSystem,
    /// A FAT volume with sectors of another size than 512 bytes.
    SectorSize,
}

fn u16_at(sector: &Sector, offset: usize) -> u16 {
    u16::from_le_bytes([sector[offset], sector[offset + 1]])
}

fn u32_at(sector: &Sector, offset: usize) -> u32 {
    u32::from_le_bytes([
        sector[offset],
        sector[offset + 1],
        sector[offset + 2],
        sector[offset + 3],
    ])
}

impl Layout {
    /// Reads the boot sector.
    ///
    /// # Errors
    /// [`NotFat`] when it does not describe a FAT volume of 512-byte
    /// sectors that fits a disk of `disk_sectors`.
    pub fn read(boot: &Sector, disk_sectors: u64) -> Result<Layout, NotFat> {
        if boot[510] != 0x55 || boot[511] != 0xaa {
            return Err(NotFat::NoFileSystem);
        }
        let bytes_per_sector = u16_at(boot, 11);
        let sectors_per_cluster = boot[13];
        let reserved = u64::from(u16_at(boot, 14));
        let fats = u64::from(boot[16]);
        let root_entries = u64::from(u16_at(boot, 17));
        let total16 = u64::from(u16_at(boot, 19));
        let fat16_size = u64::from(u16_at(boot, 22));
        let total32 = u64::from(u32_at(boot, 32));
        if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
            || sectors_per_cluster == 0
            || !sectors_per_cluster.is_power_of_two()
            || reserved == 0
            || fats == 0
        {
            return Err(NotFat::NoFileSystem);
        }
        if usize::from(bytes_per_sector) != SECTOR_BYTES {
            return Err(NotFat::SectorSize);
        }
        let fat32 = fat16_size == 0;
        let fat_size = if fat32 {
            u64::from(u32_at(boot, 36))
        } else {
            fat16_size
        };
        let total = if total16 != 0 { total16 } else { total32 };
        let root_sectors = (root_entries * 32).div_ceil(SECTOR_BYTES as u64);
        let data_start = reserved + fats * fat_size + root_sectors;
        if fat_size == 0 || total == 0 || total > disk_sectors || data_start >= total {
            return Err(NotFat::NoFileSystem);
        }
        let (fs_info, backup_boot) = if fat32 {
            (
                Some(u64::from(u16_at(boot, 48))).filter(|&sector| sector != 0),
                u64::from(u16_at(boot, 50)),
            )
        } else {
            (None, 0)
        };
        Ok(Layout {
            reserved,
            data_start,
            fs_info,
            backup_boot,
            total,
            fat32,
            fats,
            clusters: (total - data_start) / u64::from(sectors_per_cluster),
        })
    }

    /// The journal's sectors (`first..end`): from [`JOURNAL_START`] to the
    /// end of the reserved sectors, at most [`JOURNAL_MOST_SECTORS`]; `None`
    /// when the reserved sectors leave too little room, or the volume keeps
    /// its FSInfo or backup boot sector there.
    pub fn journal(&self) -> Option<(u64, u64)> {
        let end = self.reserved.min(JOURNAL_START + JOURNAL_MOST_SECTORS);
        if end < JOURNAL_START + JOURNAL_FEWEST_SECTORS {
            return None;
        }
        let inside = |sector: u64| (JOURNAL_START..end).contains(&sector);
        if self.fs_info.is_some_and(inside) || inside(self.backup_boot) {
            return None;
        }
        Some((JOURNAL_START, end))
    }

    /// The boot sector's status byte offset.
    pub fn status_offset(&self) -> usize {
        if self.fat32 { STATUS_OFFSET } else { 0x25 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boot sector of `mkfs.fat -F 32 -s 2 -R 96` on 128 MiB, as far as it is read.
    fn boot(reserved: u16) -> Sector {
        let mut boot = [0u8; SECTOR_BYTES];
        boot[11..13].copy_from_slice(&512u16.to_le_bytes());
        boot[13] = 2;
        boot[14..16].copy_from_slice(&reserved.to_le_bytes());
        boot[16] = 2;
        boot[32..36].copy_from_slice(&262_144u32.to_le_bytes());
        boot[36..40].copy_from_slice(&1_016u32.to_le_bytes());
        boot[48..50].copy_from_slice(&1u16.to_le_bytes());
        boot[50..52].copy_from_slice(&6u16.to_le_bytes());
        boot[510] = 0x55;
        boot[511] = 0xaa;
        boot
    }

    #[test]
    fn a_fat32_boot_sector_is_read_and_its_journal_placed() {
        let layout = Layout::read(&boot(96), 262_144).unwrap();
        assert!(layout.fat32);
        assert_eq!(layout.data_start, 96 + 2 * 1_016);
        assert_eq!(layout.fs_info, Some(1));
        assert_eq!(layout.journal(), Some((32, 96)));
    }

    #[test]
    fn too_few_reserved_sectors_leave_no_journal() {
        assert_eq!(Layout::read(&boot(32), 262_144).unwrap().journal(), None);
        assert_eq!(Layout::read(&boot(34), 262_144).unwrap().journal(), None);
        assert_eq!(
            Layout::read(&boot(35), 262_144).unwrap().journal(),
            Some((32, 35))
        );
        let mut backup_inside = boot(96);
        backup_inside[50..52].copy_from_slice(&40u16.to_le_bytes());
        assert_eq!(
            Layout::read(&backup_inside, 262_144).unwrap().journal(),
            None
        );
    }

    #[test]
    fn blank_and_foreign_sectors_are_no_file_system() {
        assert_eq!(
            Layout::read(&[0; SECTOR_BYTES], 262_144),
            Err(NotFat::NoFileSystem)
        );
        let mut big_sectors = boot(96);
        big_sectors[11..13].copy_from_slice(&4096u16.to_le_bytes());
        assert_eq!(Layout::read(&big_sectors, 262_144), Err(NotFat::SectorSize));
        assert_eq!(
            Layout::read(&boot(96), 1_000),
            Err(NotFat::NoFileSystem),
            "bigger than the disk"
        );
        let mut no_fats = boot(96);
        no_fats[16] = 0;
        assert_eq!(Layout::read(&no_fats, 262_144), Err(NotFat::NoFileSystem));
    }
}
