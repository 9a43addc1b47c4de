//! The disk the file system lives on, as the core sees it: 512-byte
//! sectors read and written by number. The module's glue implements it over
//! the `block` endpoint; the host tests over an image file.

/// The bytes of a sector.
pub const SECTOR_BYTES: usize = 512;
/// The most sectors one read or write moves (the `block` interface's limit).
pub const MAX_SECTORS_PER_CALL: usize = 7;

/// A sector buffer.
pub type Sector = [u8; SECTOR_BYTES];

/// Why the disk did not do a read, write or flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFailure {
    /// The sectors lie past the end of the disk.
    OutOfRange,
    /// The disk refuses writes.
    ReadOnly,
    /// The device failed the request, or its answer made no sense.
    Device,
    /// The disk did not answer in time.
    TimedOut,
}

impl DiskFailure {
    /// The words a person reads for it.
    pub fn word(self) -> &'static str {
        match self {
            DiskFailure::OutOfRange => "the sectors lie past the end of the disk",
            DiskFailure::ReadOnly => "the disk is read-only",
            DiskFailure::Device => "the disk failed the request",
            DiskFailure::TimedOut => "the disk did not answer in time",
        }
    }
}

impl core::fmt::Display for DiskFailure {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        out.write_str(self.word())
    }
}

/// A disk of [`SECTOR_BYTES`]-byte sectors (owned by the server, so
/// `'static`: the FAT library's stream names it as a trait object).
pub trait Sectors: 'static {
    /// Reads whole sectors from `sector` into `buffer` (at most
    /// [`MAX_SECTORS_PER_CALL`] sectors, a multiple of [`SECTOR_BYTES`]).
    ///
    /// # Errors
    /// The disk's failure; `buffer` holds nothing meaningful then.
    fn read(&mut self, sector: u64, buffer: &mut [u8]) -> Result<(), DiskFailure>;

    /// Writes whole sectors at `sector` (at most [`MAX_SECTORS_PER_CALL`]).
    ///
    /// # Errors
    /// The disk's failure; any of the sectors may or may not have been
    /// written.
    fn write(&mut self, sector: u64, bytes: &[u8]) -> Result<(), DiskFailure>;

    /// Makes every write done before it durable.
    ///
    /// # Errors
    /// The disk's failure.
    fn flush(&mut self) -> Result<(), DiskFailure>;

    /// The disk's size in sectors.
    fn count(&self) -> u64;
}

/// Writes each `(sector, bytes)` (in sector order), sectors next to each
/// other together, at most [`MAX_SECTORS_PER_CALL`] a call.
///
/// # Errors
/// The disk's first failure; later sectors are not written.
pub fn write_runs<S: Sectors + ?Sized>(
    disk: &mut S,
    sectors: &[(u64, &Sector)],
) -> Result<(), DiskFailure> {
    let mut buffer = [0u8; SECTOR_BYTES * MAX_SECTORS_PER_CALL];
    let mut start = 0;
    while start < sectors.len() {
        let first = sectors[start].0;
        let mut length = 0;
        while start + length < sectors.len()
            && length < MAX_SECTORS_PER_CALL
            && sectors[start + length].0 == first + length as u64
        {
            let at = length * SECTOR_BYTES;
            buffer[at..at + SECTOR_BYTES].copy_from_slice(sectors[start + length].1);
            length += 1;
        }
        disk.write(first, &buffer[..length * SECTOR_BYTES])?;
        start += length;
    }
    Ok(())
}
