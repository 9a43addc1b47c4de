//! The write-ahead journal: every request that changes the disk is one
//! transaction, whose changed metadata sectors are first copied into the
//! journal's sectors (in the volume's reserved sectors, which FAT leaves
//! unused), then a header naming them with a checksum is written, then the
//! sectors are written in place and the header is cleared. A mount finds a
//! valid header and writes its copies in place again, so a server that dies
//! at any point leaves a volume that is either before or after the
//! transaction, never in between.
//!
//! Header sector: `CELLAJNL`, format 1 (u32), count (u32), sequence (u64),
//! checksum (u64, FNV-1a over the header's other bytes and the copies), then
//! the count sectors' numbers (u64 each); the copies follow the header in
//! the same order. Each step is flushed before the next.

use crate::disk::{DiskFailure, SECTOR_BYTES, Sector, Sectors, write_runs};
use alloc::vec::Vec;

const MAGIC: &[u8; 8] = b"CELLAJNL";
const FORMAT: u32 = 1;
const LIST_START: usize = 32;
/// The most sectors one header names.
pub const MOST_LISTED: usize = (SECTOR_BYTES - LIST_START) / 8;

/// What a mount found in the journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replayed {
    /// No transaction was under way.
    Nothing,
    /// A committed transaction's sectors were written in place again.
    Applied(usize),
    /// A header that does not check out (cut short by a crash before its
    /// commit point, or damaged): cleared, nothing written.
    Discarded,
}

/// The journal's place on the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Journal {
    header: u64,
    end: u64,
    sequence: u64,
}

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn checksum(header: &Sector, count: usize, copies: &[&Sector]) -> u64 {
    let mut hash = fnv(0xcbf2_9ce4_8422_2325, &header[..24]);
    hash = fnv(hash, &header[LIST_START..LIST_START + count * 8]);
    for copy in copies {
        hash = fnv(hash, &copy[..]);
    }
    hash
}

fn u64_at(sector: &Sector, offset: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&sector[offset..offset + 8]);
    u64::from_le_bytes(bytes)
}

fn u32_at(sector: &Sector, offset: usize) -> u32 {
    let mut bytes = [0; 4];
    bytes.copy_from_slice(&sector[offset..offset + 4]);
    u32::from_le_bytes(bytes)
}

impl Journal {
    /// The journal in sectors `first..end` (its header is `first`).
    pub fn new(first: u64, end: u64) -> Journal {
        Journal {
            header: first,
            end,
            sequence: 0,
        }
    }

    /// The most sectors one transaction may change.
    pub fn capacity(&self) -> usize {
        let room = self.end.saturating_sub(self.header + 1);
        usize::try_from(room).unwrap_or(usize::MAX).min(MOST_LISTED)
    }

    /// Whether `sector` is one of the journal's own.
    pub fn holds(&self, sector: u64) -> bool {
        (self.header..self.end).contains(&sector)
    }

    /// Commits one transaction: `sectors` (in sector order, at most
    /// [`Journal::capacity`]) reach their places on the disk as one.
    ///
    /// # Errors
    /// The disk's failure, at any step; the volume is then as before the
    /// transaction or, once the header is down, as after it (the next
    /// mount finishes it).
    pub fn commit<S: Sectors + ?Sized>(
        &mut self,
        disk: &mut S,
        sectors: &[(u64, &Sector)],
    ) -> Result<(), DiskFailure> {
        let copies: Vec<(u64, &Sector)> = sectors
            .iter()
            .enumerate()
            .map(|(index, &(_, bytes))| (self.header + 1 + index as u64, bytes))
            .collect();
        write_runs(disk, &copies)?;
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = [0u8; SECTOR_BYTES];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        header[12..16].copy_from_slice(&(sectors.len() as u32).to_le_bytes());
        header[16..24].copy_from_slice(&self.sequence.to_le_bytes());
        for (index, &(sector, _)) in sectors.iter().enumerate() {
            let at = LIST_START + index * 8;
            header[at..at + 8].copy_from_slice(&sector.to_le_bytes());
        }
        let bytes: Vec<&Sector> = sectors.iter().map(|&(_, bytes)| bytes).collect();
        let sum = checksum(&header, sectors.len(), &bytes);
        header[24..32].copy_from_slice(&sum.to_le_bytes());
        disk.flush()?;
        disk.write(self.header, &header)?;
        disk.flush()?;
        write_runs(disk, sectors)?;
        disk.flush()?;
        disk.write(self.header, &[0; SECTOR_BYTES])?;
        disk.flush()
    }

    /// Finishes a transaction a dead server committed and did not clear.
    ///
    /// # Errors
    /// The disk's failure.
    pub fn replay<S: Sectors + ?Sized>(&mut self, disk: &mut S) -> Result<Replayed, DiskFailure> {
        let mut header = [0u8; SECTOR_BYTES];
        disk.read(self.header, &mut header)?;
        if header == [0; SECTOR_BYTES] {
            return Ok(Replayed::Nothing);
        }
        let outcome = self.check(disk, &header)?;
        if let Some(copies) = &outcome {
            let sectors: Vec<(u64, &Sector)> = copies
                .iter()
                .map(|(sector, bytes)| (*sector, bytes))
                .collect();
            write_runs(disk, &sectors)?;
            disk.flush()?;
        }
        disk.write(self.header, &[0; SECTOR_BYTES])?;
        disk.flush()?;
        self.sequence = u64_at(&header, 16);
        Ok(match outcome {
            Some(copies) => Replayed::Applied(copies.len()),
            None => Replayed::Discarded,
        })
    }

    /// The header's sectors and their copies, if the header checks out.
    fn check<S: Sectors + ?Sized>(
        &self,
        disk: &mut S,
        header: &Sector,
    ) -> Result<Option<Vec<(u64, Sector)>>, DiskFailure> {
        let count = u32_at(header, 12) as usize;
        if &header[..8] != MAGIC || u32_at(header, 8) != FORMAT || count > self.capacity() {
            return Ok(None);
        }
        let mut copies = Vec::with_capacity(count);
        for index in 0..count {
            let sector = u64_at(header, LIST_START + index * 8);
            if sector >= disk.count() || self.holds(sector) {
                return Ok(None);
            }
            let mut bytes = [0u8; SECTOR_BYTES];
            disk.read(self.header + 1 + index as u64, &mut bytes)?;
            copies.push((sector, bytes));
        }
        let bytes: Vec<&Sector> = copies.iter().map(|(_, bytes)| bytes).collect();
        if checksum(header, count, &bytes) != u64_at(header, 24) {
            return Ok(None);
        }
        Ok(Some(copies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::MAX_SECTORS_PER_CALL;
    use alloc::vec;

    /// A disk in memory that counts writes and can stop after some.
    struct Memory {
        sectors: Vec<Sector>,
        writes_left: usize,
    }

    impl Memory {
        fn new() -> Memory {
            Memory {
                sectors: vec![[0; SECTOR_BYTES]; 200],
                writes_left: usize::MAX,
            }
        }
    }

    impl Sectors for Memory {
        fn read(&mut self, sector: u64, buffer: &mut [u8]) -> Result<(), DiskFailure> {
            for (index, chunk) in buffer.chunks_mut(SECTOR_BYTES).enumerate() {
                chunk.copy_from_slice(&self.sectors[sector as usize + index]);
            }
            Ok(())
        }

        fn write(&mut self, sector: u64, bytes: &[u8]) -> Result<(), DiskFailure> {
            assert!(bytes.len() <= SECTOR_BYTES * MAX_SECTORS_PER_CALL);
            for (index, chunk) in bytes.chunks(SECTOR_BYTES).enumerate() {
                if self.writes_left == 0 {
                    return Err(DiskFailure::Device);
                }
                self.writes_left -= 1;
                self.sectors[sector as usize + index].copy_from_slice(chunk);
            }
            Ok(())
        }

        fn flush(&mut self) -> Result<(), DiskFailure> {
            Ok(())
        }

        fn count(&self) -> u64 {
            self.sectors.len() as u64
        }
    }

    const A: Sector = [0xaa; SECTOR_BYTES];
    const B: Sector = [0xbb; SECTOR_BYTES];

    #[test]
    fn a_commit_writes_in_place_and_leaves_no_header() {
        let mut disk = Memory::new();
        let mut journal = Journal::new(32, 96);
        assert_eq!(journal.capacity(), MOST_LISTED);
        journal.commit(&mut disk, &[(100, &A), (150, &B)]).unwrap();
        assert_eq!(disk.sectors[100], A);
        assert_eq!(disk.sectors[150], B);
        assert_eq!(disk.sectors[32], [0; SECTOR_BYTES]);
        assert_eq!(journal.replay(&mut disk), Ok(Replayed::Nothing));
    }

    #[test]
    fn a_commit_stopped_anywhere_replays_to_before_or_after() {
        // Copies (2 sectors), header, in place (2), cleared header: 6 sector writes.
        for stop in 0..6 {
            let mut disk = Memory::new();
            disk.writes_left = stop;
            let mut journal = Journal::new(32, 96);
            assert!(journal.commit(&mut disk, &[(100, &A), (101, &B)]).is_err());
            disk.writes_left = usize::MAX;
            let replayed = Journal::new(32, 96).replay(&mut disk).unwrap();
            let after = disk.sectors[100] == A && disk.sectors[101] == B;
            let before =
                disk.sectors[100] == [0; SECTOR_BYTES] && disk.sectors[101] == [0; SECTOR_BYTES];
            assert!(after || before, "stopped after {stop} writes: {replayed:?}");
            // Past the header (3 writes), the transaction is committed.
            assert_eq!(
                after,
                stop >= 3,
                "stopped after {stop} writes: {replayed:?}"
            );
            assert_eq!(disk.sectors[32], [0; SECTOR_BYTES], "the header is cleared");
        }
    }

    #[test]
    fn a_damaged_header_or_copy_is_discarded() {
        let mut disk = Memory::new();
        let mut journal = Journal::new(32, 96);
        disk.writes_left = 3;
        assert!(journal.commit(&mut disk, &[(100, &A), (101, &B)]).is_err());
        disk.writes_left = usize::MAX;
        disk.sectors[34][7] ^= 1;
        assert_eq!(
            Journal::new(32, 96).replay(&mut disk),
            Ok(Replayed::Discarded)
        );
        assert_eq!(disk.sectors[101], [0; SECTOR_BYTES]);
        // A header naming the journal's own sectors is refused too.
        let mut header = [0u8; SECTOR_BYTES];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        header[12..16].copy_from_slice(&1u32.to_le_bytes());
        header[LIST_START..LIST_START + 8].copy_from_slice(&40u64.to_le_bytes());
        disk.sectors[32] = header;
        assert_eq!(
            Journal::new(32, 96).replay(&mut disk),
            Ok(Replayed::Discarded)
        );
    }
}
