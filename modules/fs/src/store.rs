//! The disk as the FAT library sees it: a byte stream over the sector
//! cache, whose changes are gathered into transactions and committed
//! through the journal. File data written while the store is in data mode
//! goes in place before its transaction's metadata (ordered mode).

use crate::cache::{Cache, Held};
use crate::disk::{DiskFailure, MAX_SECTORS_PER_CALL, SECTOR_BYTES, Sector, Sectors, write_runs};
use crate::journal::Journal;
use crate::layout::{DIRTY_BIT, Layout};
use alloc::vec::Vec;

/// The disk with its cache and journal.
pub struct Store<S: Sectors> {
    disk: S,
    cache: Cache,
    layout: Option<Layout>,
    journal: Option<Journal>,
    data_mode: bool,
    keep_clean: bool,
    failure: Option<DiskFailure>,
    unjournaled: u64,
    /// Counts changes to what the cache holds (see [`Store::generation`]).
    generation: u64,
    reads: u64,
}

impl<S: Sectors> Store<S> {
    /// The store over `disk` with a cache of `capacity` sectors; no volume
    /// known yet.
    pub fn new(disk: S, capacity: usize) -> Store<S> {
        Store {
            disk,
            cache: Cache::new(capacity),
            layout: None,
            journal: None,
            data_mode: false,
            keep_clean: false,
            failure: None,
            unjournaled: 0,
            generation: 0,
            reads: 0,
        }
    }

    /// The disk (for the tests, which inspect it).
    pub fn disk(&self) -> &S {
        &self.disk
    }

    /// The disk, to change it (the journal's replay at mount).
    pub fn disk_mut(&mut self) -> &mut S {
        &mut self.disk
    }

    /// The disk's size in sectors.
    pub fn count(&self) -> u64 {
        self.disk.count()
    }

    /// Sets the volume's layout and journal, and whether the boot sector's
    /// "dirty" flag is kept clear (the volume was clean at mount: each
    /// committed transaction leaves it consistent).
    pub fn attach(&mut self, layout: Layout, journal: Option<Journal>, keep_clean: bool) {
        self.layout = Some(layout);
        self.journal = journal;
        self.keep_clean = keep_clean;
    }

    /// How many sectors the cache holds.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }

    /// The volume's layout, once known.
    pub fn layout(&self) -> Option<Layout> {
        self.layout
    }

    /// The journal, if the volume has room for one.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Reads answered so far ([`Store::read_at`] calls): what a request
    /// costs in the FAT library's walks of directories and cluster chains.
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Transactions too big for the journal, written in place.
    pub fn unjournaled(&self) -> u64 {
        self.unjournaled
    }

    /// Writes that follow are file data (`true`) or metadata.
    pub fn set_data_mode(&mut self, data: bool) {
        self.data_mode = data;
    }

    /// A number that changes whenever the bytes the store answers with may
    /// have changed (a write, a dropped transaction, a forgotten cache): a
    /// reader that copied a sector may keep reading its copy while it stays
    /// the same.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Forgets the cache (the disk changed under it).
    pub fn forget(&mut self) {
        self.generation += 1;
        self.cache.clear();
        self.failure = None;
    }

    /// The first failure of the transaction under way, if any.
    pub fn failure(&self) -> Option<DiskFailure> {
        self.failure
    }

    /// Reads `sector` straight from the disk, past the cache.
    ///
    /// # Errors
    /// The disk's failure.
    pub fn read_uncached(&mut self, sector: u64) -> Result<Sector, DiskFailure> {
        let mut bytes = [0u8; SECTOR_BYTES];
        self.disk.read(sector, &mut bytes)?;
        Ok(bytes)
    }

    /// Makes sure `sector` is cached, reading it with up to six sectors
    /// after it that are not cached yet.
    fn load(&mut self, sector: u64) -> Result<(), DiskFailure> {
        if self.cache.contains(sector) {
            return Ok(());
        }
        if sector >= self.disk.count() {
            return Err(DiskFailure::OutOfRange);
        }
        let mut count = 1;
        while count < MAX_SECTORS_PER_CALL
            && sector + (count as u64) < self.disk.count()
            && !self.cache.contains(sector + count as u64)
        {
            count += 1;
        }
        let mut buffer = [0u8; SECTOR_BYTES * MAX_SECTORS_PER_CALL];
        self.disk
            .read(sector, &mut buffer[..count * SECTOR_BYTES])?;
        for index in 0..count {
            let at = index * SECTOR_BYTES;
            self.cache.insert(
                sector + index as u64,
                &buffer[at..at + SECTOR_BYTES],
                Held::Clean,
            );
        }
        Ok(())
    }

    /// Copies bytes at `position` (bytes from the volume's start) into `out`.
    ///
    /// # Errors
    /// The disk's failure.
    pub fn read_at(&mut self, position: u64, out: &mut [u8]) -> Result<(), DiskFailure> {
        self.reads += 1;
        let mut done = 0;
        while done < out.len() {
            let at = position + done as u64;
            let sector = at / SECTOR_BYTES as u64;
            let offset = (at % SECTOR_BYTES as u64) as usize;
            let length = (SECTOR_BYTES - offset).min(out.len() - done);
            self.load(sector)?;
            let cached = self.cache.get(sector).ok_or(DiskFailure::Device)?;
            out[done..done + length].copy_from_slice(&cached[offset..offset + length]);
            done += length;
        }
        Ok(())
    }

    /// Changes bytes at `position` in the cache; they reach the disk at the
    /// next [`Store::commit`].
    ///
    /// # Errors
    /// The disk's failure (reading a sector changed in part).
    pub fn write_at(&mut self, position: u64, bytes: &[u8]) -> Result<(), DiskFailure> {
        self.generation += 1;
        let mut done = 0;
        while done < bytes.len() {
            let at = position + done as u64;
            let sector = at / SECTOR_BYTES as u64;
            let offset = (at % SECTOR_BYTES as u64) as usize;
            let length = (SECTOR_BYTES - offset).min(bytes.len() - done);
            if sector >= self.disk.count() {
                return Err(DiskFailure::OutOfRange);
            }
            let held = self.held_for(sector);
            if length == SECTOR_BYTES && !self.cache.contains(sector) {
                self.cache
                    .insert(sector, &bytes[done..done + SECTOR_BYTES], held);
            } else {
                self.load(sector)?;
                let cached = self.cache.get(sector).ok_or(DiskFailure::Device)?;
                cached[offset..offset + length].copy_from_slice(&bytes[done..done + length]);
                self.cache.mark(sector, held);
            }
            done += length;
        }
        Ok(())
    }

    fn held_for(&self, sector: u64) -> Held {
        let data_region = self
            .layout
            .is_some_and(|layout| sector >= layout.data_start);
        if self.data_mode && data_region {
            Held::Data
        } else {
            Held::Metadata
        }
    }

    /// Whether the transaction under way changed anything.
    pub fn is_dirty(&self) -> bool {
        self.cache.has_dirty()
    }

    /// Drops the transaction under way: the disk keeps the volume as the
    /// last commit left it.
    pub fn abandon(&mut self) {
        self.generation += 1;
        self.cache.discard_dirty();
        self.failure = None;
        self.data_mode = false;
    }

    /// Records the first failure of the transaction under way.
    pub fn note_failure(&mut self, failure: DiskFailure) {
        self.failure.get_or_insert(failure);
    }

    /// Writes the transaction out: file data in place, then the metadata
    /// through the journal (in place only when there is no journal, or the
    /// transaction is bigger than it; counted in [`Store::unjournaled`]).
    ///
    /// # Errors
    /// A failure during the transaction or now; the transaction's changes
    /// are dropped from the cache, and what is on the disk is the volume as
    /// before it or (if the journal's header got down) after it.
    pub fn commit(&mut self) -> Result<(), DiskFailure> {
        self.data_mode = false;
        let outcome = match self.failure.take() {
            Some(failure) => Err(failure),
            None => self.write_out(),
        };
        if outcome.is_err() {
            self.generation += 1;
            self.cache.discard_dirty();
        }
        self.cache.trim();
        outcome
    }

    fn write_out(&mut self) -> Result<(), DiskFailure> {
        let data = self.cache.dirty(Held::Data);
        self.write_in_place(&data)?;
        let metadata = self.cache.dirty(Held::Metadata);
        if metadata.is_empty() {
            if !data.is_empty() {
                self.disk.flush()?;
            }
            return Ok(());
        }
        if self.keep_clean
            && metadata.first() == Some(&0)
            && let Some(layout) = self.layout
            && let Some(boot) = self.cache.get(0)
        {
            boot[layout.status_offset()] &= !DIRTY_BIT;
            self.generation += 1;
        }
        let copies = self.copies(&metadata)?;
        let sectors: Vec<(u64, &Sector)> = copies
            .iter()
            .map(|(sector, bytes)| (*sector, bytes))
            .collect();
        match self.journal.as_mut() {
            Some(journal) if sectors.len() <= journal.capacity() => {
                journal.commit(&mut self.disk, &sectors)?;
            }
            _ => {
                self.unjournaled += 1;
                write_runs(&mut self.disk, &sectors)?;
                self.disk.flush()?;
            }
        }
        self.cache.mark_clean(&metadata);
        Ok(())
    }

    fn copies(&mut self, sectors: &[u64]) -> Result<Vec<(u64, Sector)>, DiskFailure> {
        let mut copies = Vec::with_capacity(sectors.len());
        for &sector in sectors {
            let bytes = *self.cache.get(sector).ok_or(DiskFailure::Device)?;
            copies.push((sector, bytes));
        }
        Ok(copies)
    }

    fn write_in_place(&mut self, sectors: &[u64]) -> Result<(), DiskFailure> {
        if sectors.is_empty() {
            return Ok(());
        }
        let copies = self.copies(sectors)?;
        let list: Vec<(u64, &Sector)> = copies
            .iter()
            .map(|(sector, bytes)| (*sector, bytes))
            .collect();
        write_runs(&mut self.disk, &list)?;
        self.cache.mark_clean(sectors);
        Ok(())
    }
}
