//! The sector cache: a bounded set of sectors kept in memory, the least
//! recently used clean ones given up when room is needed, and what each
//! dirty sector is (metadata for the journal, or file data written in
//! place first).

use crate::disk::{SECTOR_BYTES, Sector};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Sectors the module's cache keeps (256 KiB).
pub const DEFAULT_CAPACITY: usize = 512;

/// A full cache gives up this fraction of its capacity at a time (the least
/// recently used clean sectors).
const EVICTED_AT_ONCE: usize = 8;

/// What a cached sector holds compared with the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// The same as on the disk.
    Clean,
    /// Changed file-system structures (boot sector, FAT, directories): go
    /// through the journal.
    Metadata,
    /// Changed file contents: written in place before the transaction's
    /// metadata is committed.
    Data,
}

struct Slot {
    sector: u64,
    bytes: Box<Sector>,
    held: Held,
    used: u64,
}

/// The cache: at most `capacity` clean sectors, plus the dirty ones of the
/// transaction under way.
pub struct Cache {
    slots: Vec<Slot>,
    index: BTreeMap<u64, usize>,
    capacity: usize,
    clock: u64,
    /// The slot last looked up: a run of small reads in one sector (the FAT
    /// library reads a directory entry field by field) skips the index.
    last: Option<usize>,
}

impl Cache {
    /// An empty cache of `capacity` sectors (at least 8).
    pub fn new(capacity: usize) -> Cache {
        let capacity = capacity.max(8);
        Cache {
            slots: Vec::with_capacity(capacity),
            index: BTreeMap::new(),
            capacity,
            clock: 0,
            last: None,
        }
    }

    /// How many sectors it holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether `sector` is cached.
    pub fn contains(&self, sector: u64) -> bool {
        self.last_is(sector) || self.index.contains_key(&sector)
    }

    /// Whether the slot last looked up holds `sector`.
    fn last_is(&self, sector: u64) -> bool {
        self.last
            .and_then(|position| self.slots.get(position))
            .is_some_and(|slot| slot.sector == sector)
    }

    /// Where `sector` is held.
    fn find(&mut self, sector: u64) -> Option<usize> {
        if self.last_is(sector) {
            return self.last;
        }
        let position = *self.index.get(&sector)?;
        self.last = Some(position);
        Some(position)
    }

    /// The cached bytes of `sector`, marked used.
    pub fn get(&mut self, sector: u64) -> Option<&mut Sector> {
        let position = self.find(sector)?;
        self.clock += 1;
        let slot = &mut self.slots[position];
        slot.used = self.clock;
        Some(&mut slot.bytes)
    }

    /// Marks a cached sector changed; metadata stays metadata.
    pub fn mark(&mut self, sector: u64, held: Held) {
        if let Some(&position) = self.index.get(&sector) {
            let slot = &mut self.slots[position];
            slot.held = match (slot.held, held) {
                (Held::Metadata, _) | (_, Held::Metadata) => Held::Metadata,
                (Held::Data, _) | (_, Held::Data) => Held::Data,
                _ => Held::Clean,
            };
        }
    }

    /// Puts `bytes` in as `sector` (replacing a copy), making room by giving
    /// up the least recently used clean sectors when full.
    pub fn insert(&mut self, sector: u64, bytes: &[u8], held: Held) -> &mut Sector {
        self.clock += 1;
        let position = match self.index.get(&sector) {
            Some(&position) => position,
            None => {
                if self.slots.len() >= self.capacity {
                    self.evict_oldest(self.capacity / EVICTED_AT_ONCE);
                }
                self.slots.push(Slot {
                    sector,
                    bytes: Box::new([0; SECTOR_BYTES]),
                    held: Held::Clean,
                    used: 0,
                });
                let position = self.slots.len() - 1;
                self.index.insert(sector, position);
                position
            }
        };
        let slot = &mut self.slots[position];
        slot.bytes.copy_from_slice(&bytes[..SECTOR_BYTES]);
        slot.held = held;
        slot.used = self.clock;
        &mut slot.bytes
    }

    /// Gives up the `count` least recently used clean sectors (fewer if
    /// fewer are clean: a cache full of dirty sectors grows until the
    /// transaction commits). One pass over the cache finds them all, so a
    /// run of insertions into a full cache pays for a pass only once in
    /// [`EVICTED_AT_ONCE`]th of its capacity.
    fn evict_oldest(&mut self, count: usize) {
        let mut clean: Vec<(u64, u64)> = self
            .slots
            .iter()
            .filter(|slot| slot.held == Held::Clean)
            .map(|slot| (slot.used, slot.sector))
            .collect();
        let count = count.max(1).min(clean.len());
        if count == 0 {
            return;
        }
        if count < clean.len() {
            clean.select_nth_unstable(count - 1);
        }
        for &(_, sector) in &clean[..count] {
            if let Some(&position) = self.index.get(&sector) {
                self.remove_at(position);
            }
        }
    }

    fn remove_at(&mut self, position: usize) {
        let removed = self.slots.swap_remove(position);
        self.index.remove(&removed.sector);
        if let Some(moved) = self.slots.get(position) {
            self.index.insert(moved.sector, position);
        }
    }

    /// Whether any sector is changed, as file data or metadata.
    pub fn has_dirty(&self) -> bool {
        self.slots.iter().any(|slot| slot.held != Held::Clean)
    }

    /// The dirty sectors held as `held`, in sector order.
    pub fn dirty(&self, held: Held) -> Vec<u64> {
        let mut sectors: Vec<u64> = self
            .slots
            .iter()
            .filter(|slot| slot.held == held)
            .map(|slot| slot.sector)
            .collect();
        sectors.sort_unstable();
        sectors
    }

    /// Marks every sector of `sectors` clean (written out).
    pub fn mark_clean(&mut self, sectors: &[u64]) {
        for sector in sectors {
            if let Some(&position) = self.index.get(sector) {
                self.slots[position].held = Held::Clean;
            }
        }
    }

    /// Drops every dirty sector (a transaction that could not be written),
    /// then clean ones past the capacity.
    pub fn discard_dirty(&mut self) {
        let mut position = 0;
        while position < self.slots.len() {
            if self.slots[position].held == Held::Clean {
                position += 1;
            } else {
                self.remove_at(position);
            }
        }
        self.trim();
    }

    /// Gives up clean sectors until it holds at most its capacity.
    pub fn trim(&mut self) {
        if self.slots.len() > self.capacity {
            self.evict_oldest(self.slots.len() - self.capacity);
        }
    }

    /// Forgets everything (after the disk changed under it).
    pub fn clear(&mut self) {
        self.slots.clear();
        self.index.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_clean_sector_goes_first() {
        let mut cache = Cache::new(8);
        for sector in 0..8 {
            cache.insert(sector, &[sector as u8; SECTOR_BYTES], Held::Clean);
        }
        cache.get(0);
        cache.insert(100, &[9; SECTOR_BYTES], Held::Clean);
        assert!(cache.contains(0));
        assert!(!cache.contains(1));
        assert_eq!(cache.len(), 8);
    }

    #[test]
    fn dirty_sectors_are_never_given_up() {
        let mut cache = Cache::new(8);
        for sector in 0..8 {
            cache.insert(sector, &[0; SECTOR_BYTES], Held::Metadata);
        }
        cache.insert(8, &[0; SECTOR_BYTES], Held::Clean);
        assert_eq!(cache.len(), 9);
        assert_eq!(cache.dirty(Held::Metadata), (0..8).collect::<Vec<_>>());
        cache.mark_clean(&[0, 1, 2]);
        cache.trim();
        assert_eq!(cache.len(), 8);
        cache.discard_dirty();
        assert_eq!(cache.dirty(Held::Metadata), Vec::<u64>::new());
        assert!(cache.contains(0) || cache.contains(1) || cache.contains(2));
    }

    #[test]
    fn metadata_stays_metadata() {
        let mut cache = Cache::new(8);
        cache.insert(5, &[0; SECTOR_BYTES], Held::Metadata);
        cache.mark(5, Held::Data);
        assert_eq!(cache.dirty(Held::Metadata), [5]);
        assert!(cache.dirty(Held::Data).is_empty());
    }
}
