//! Cutting a file short in transactions that each fit the journal: the
//! clusters to free are split into groups whose FAT entries lie in at most
//! as many FAT sectors as the journal holds (both FAT copies, the entry
//! that becomes the chain's end, the directory entry and the boot sector
//! counted), and the groups are freed last first, one transaction each.
//! Every step leaves a consistent volume: a shorter file.

use crate::disk::{SECTOR_BYTES, Sectors};
use crate::errors::from_fat;
use crate::server::{Fat, FatFile, commit_step, keep_free_count};
use crate::volume::Shared;
use alloc::vec::Vec;
use cella_sdk::interfaces::fs::FsError;
use fatfs::{Seek, SeekFrom, Write};

/// Sectors a step changes besides the freed entries' FAT sectors: the new
/// chain end's FAT sector in each copy, the directory entry (a long name may
/// take three sectors), the boot sector, FSInfo.
const OTHER_SECTORS: usize = 7;

/// The file's size.
pub fn size_of(file: &FatFile<'_>) -> u64 {
    u64::from(file.size().unwrap_or(0))
}

/// The offsets (cluster-aligned, ascending, all past `size`) where a
/// group of clusters to free starts, after the first group, which starts
/// at `size`.
fn cuts<S: Sectors>(
    store: &Shared<S>,
    file: &mut FatFile<'_>,
    size: u64,
    cluster_bytes: u64,
) -> Result<Vec<u64>, FsError> {
    let (layout, capacity) = {
        let store = store.borrow();
        match (store.layout(), store.journal()) {
            (Some(layout), Some(journal)) => (layout, journal.capacity()),
            _ => return Ok(Vec::new()),
        }
    };
    let fats = usize::try_from(layout.fats.max(1)).unwrap_or(1);
    let limit = (capacity.saturating_sub(OTHER_SECTORS) / fats).max(1);
    let sectors_per_cluster = cluster_bytes / SECTOR_BYTES as u64;
    let first_freed = size.div_ceil(cluster_bytes) * cluster_bytes;
    let mut cuts = Vec::new();
    let mut group: Vec<u64> = Vec::new();
    for (index, extent) in file.extents().enumerate() {
        // A chain longer than the volume's clusters loops.
        if index as u64 > layout.clusters {
            return Err(FsError::Corrupt);
        }
        let extent = extent.map_err(from_fat)?;
        let position = index as u64 * cluster_bytes;
        if position < first_freed {
            continue;
        }
        let sector = extent.offset / SECTOR_BYTES as u64;
        let cluster = (sector.saturating_sub(layout.data_start)) / sectors_per_cluster + 2;
        let fat_sector = layout.reserved + cluster * 4 / SECTOR_BYTES as u64;
        if !group.contains(&fat_sector) {
            if group.len() == limit {
                cuts.push(position);
                group.clear();
            }
            group.push(fat_sector);
        }
    }
    Ok(cuts)
}

/// Cuts `file` to `size` bytes (at most its size). With `keep_first`, the
/// last group (the one that starts at `size`) is left for the caller's
/// own transaction (a remove frees it with the entry).
///
/// # Errors
/// The FAT library's or the disk's.
pub fn shrink<S: Sectors>(
    store: &Shared<S>,
    fs: &Fat,
    file: &mut FatFile<'_>,
    size: u64,
    cluster_bytes: u64,
    keep_first: bool,
) -> Result<(), FsError> {
    let cuts = cuts(store, file, size, cluster_bytes)?;
    for &cut in cuts.iter().rev() {
        file.seek(SeekFrom::Start(cut)).map_err(from_fat)?;
        file.truncate().map_err(from_fat)?;
        file.flush().map_err(from_fat)?;
        keep_free_count(store, fs);
        commit_step(store)?;
    }
    if !keep_first {
        file.seek(SeekFrom::Start(size)).map_err(from_fat)?;
        file.truncate().map_err(from_fat)?;
        file.flush().map_err(from_fat)?;
    }
    Ok(())
}
