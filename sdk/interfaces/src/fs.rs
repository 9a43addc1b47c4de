//! `fs`: files and directories, served by the `fs` module (a FAT32 file
//! system on the `block` endpoint).
//!
//! Paths are absolute, `/`-separated and at most [`MAX_PATH_BYTES`] bytes;
//! a component is at most [`MAX_NAME_BYTES`] bytes, and `.` and `..` are
//! refused ([`FsError::BadPath`]). A file is read and written through a
//! [`Handle`] that [`open`](open::request) gives, at an offset the caller
//! names, so a read may be asked again with the same answer. A handle
//! carries the generation of the server instance that opened it: a hot
//! swap keeps the handles, a restart makes every earlier handle
//! [`FsError::Stale`].

use crate::wire::{Reader, Wire, WireError, Writer};
use core::fmt;

/// The most bytes one `read` or `write` moves: seven sectors, as `block`.
pub const MAX_TRANSFER_BYTES: usize = 3584;
/// The longest path.
pub const MAX_PATH_BYTES: usize = 255;
/// The longest name of one file or directory.
pub const MAX_NAME_BYTES: usize = 255;
/// The most bytes of entries one `list` answer carries.
pub const MAX_LISTING_BYTES: usize = 3584;

crate::wire_enum! {
    /// Why a request was not done.
    pub enum FsError {
        /// No file or directory has that path.
        NotFound = 1 => "no such file or directory",
        /// Something already has that path.
        Exists = 2 => "it exists already",
        /// The disk is full.
        NoSpace = 3 => "no space left on the disk",
        /// The handle was opened read-only, or the disk is read-only.
        ReadOnly = 4 => "read-only",
        /// Not an absolute path, an empty name, `.` or `..`, or a
        /// character FAT does not take.
        BadPath = 5 => "bad path",
        /// A path, name or transfer longer than the interface takes, or a
        /// file that would pass the largest FAT file (4 GiB - 1).
        TooLong = 6 => "too long",
        /// A handle from an instance that restarted since, or one closed.
        Stale = 7 => "the handle is stale (closed, or the server restarted)",
        /// A directory where a file was needed.
        IsDirectory = 8 => "it is a directory",
        /// A file where a directory was needed.
        NotDirectory = 9 => "not a directory",
        /// A directory that still holds entries.
        NotEmpty = 10 => "the directory is not empty",
        /// As many files are open as the server keeps.
        TooManyOpen = 11 => "too many open files",
        /// The disk holds no FAT file system the server can mount.
        NoFileSystem = 12 => "no FAT file system on the disk",
        /// The file system's structures contradict themselves.
        Corrupt = 13 => "the file system is corrupt",
        /// The disk failed a read or write, or did not answer.
        DeviceError = 14 => "the disk failed",
        /// An argument no request takes (a write of no bytes, a read of none).
        BadArgument = 15 => "bad argument",
    }
}

crate::wire_enum! {
    /// How a file is opened.
    pub enum Mode {
        /// Read an existing file.
        Read = 1 => "read",
        /// Read and write an existing file.
        ReadWrite = 2 => "read-write",
        /// Read and write, creating the file if it does not exist.
        Create = 3 => "create",
        /// Read and write, creating the file or emptying it if it exists.
        Truncate = 4 => "truncate",
    }
}

crate::wire_enum! {
    /// What a path names.
    pub enum Kind {
        /// A file.
        File = 1 => "file",
        /// A directory.
        Directory = 2 => "directory",
    }
}

crate::wire_record! {
    /// An open file: the slot of the server's table and the generation
    /// that tells this opening from earlier ones of the same slot.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    pub struct Handle {
        /// The slot in the server's table.
        pub slot: u32,
        /// The opening's generation (server instance and slot use).
        pub generation: u32,
    }
}

impl fmt::Display for Handle {
    /// `handle 3.17`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "handle {}.{}", self.slot, self.generation)
    }
}

crate::wire_record! {
    /// A file opened: its handle and its size.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Opened {
        pub handle: Handle,
        /// The file's size in bytes.
        pub size: u64,
    }
}

impl fmt::Display for Opened {
    /// `handle 3.17, 1024 bytes`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "{}, {} bytes", self.handle, self.size)
    }
}

crate::wire_record! {
    /// Bytes read from a file (fewer than asked at its end, none past it).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Data<'a> {
        pub bytes: &'a [u8],
    }
}

impl fmt::Display for Data<'_> {
    /// `1024 bytes, FNV-1a 0x811c9dc5`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} bytes, FNV-1a {:#010x}",
            self.bytes.len(),
            crate::block::checksum(self.bytes)
        )
    }
}

crate::wire_record! {
    /// A write done: the bytes written and the file's size after it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Written {
        pub length: u32,
        pub size: u64,
    }
}

impl fmt::Display for Written {
    /// `wrote 12 bytes; the file has 40`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "wrote {} bytes; the file has {}",
            self.length, self.size
        )
    }
}

crate::wire_record! {
    /// What a path names, and how big it is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Status {
        pub kind: Kind,
        /// Bytes (0 for a directory).
        pub size: u64,
    }
}

impl fmt::Display for Status {
    /// `file, 1024 bytes` or `directory`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::File => write!(out, "file, {} bytes", self.size),
            Kind::Directory => out.write_str("directory"),
        }
    }
}

crate::wire_record! {
    /// The disk's space, in bytes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Space {
        pub total: u64,
        pub free: u64,
        /// The unit files are allocated in.
        pub cluster: u32,
    }
}

impl fmt::Display for Space {
    /// `131072 KiB, 120000 KiB free, in clusters of 1024 bytes`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "{} KiB, {} KiB free, in clusters of {} bytes",
            self.total / 1024,
            self.free / 1024,
            self.cluster
        )
    }
}

crate::wire_record! {
    /// A request done that answers nothing else.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Done {
        pub done: bool,
    }
}

impl fmt::Display for Done {
    /// `done`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str("done")
    }
}

/// One entry of a directory, as [`Listing::entries`] gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub name: &'a str,
    pub kind: Kind,
    /// Bytes (0 for a directory).
    pub size: u64,
}

impl<'a> Wire<'a> for Entry<'a> {
    fn encode(&self, out: &mut Writer<'_>) -> Result<(), WireError> {
        self.name.encode(out)?;
        self.kind.encode(out)?;
        self.size.encode(out)
    }

    fn decode(input: &mut Reader<'a>) -> Result<Self, WireError> {
        Ok(Entry {
            name: Wire::decode(input)?,
            kind: Wire::decode(input)?,
            size: Wire::decode(input)?,
        })
    }

    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self.kind {
            Kind::File => write!(out, "{:>10}  {}", self.size, self.name),
            Kind::Directory => write!(out, "{:>10}  {}/", "<dir>", self.name),
        }
    }
}

crate::wire_record! {
    /// Part of a directory's entries: `entries` holds `count` [`Entry`]s in
    /// their wire form, the directory's entries from `start` on; `next` is
    /// where the next `list` goes on, or 0 when there are no more.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Listing<'a> {
        pub start: u32,
        pub count: u32,
        pub next: u32,
        pub entries: &'a [u8],
    }
}

impl<'a> Listing<'a> {
    /// The entries, decoded; an entry that does not decode ends them with
    /// its error.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry<'a>, WireError>> + 'a {
        let mut reader = Reader::new(self.entries);
        let mut left = self.count;
        core::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let entry = Entry::decode(&mut reader);
            if entry.is_err() {
                left = 0;
            }
            Some(entry)
        })
    }
}

impl fmt::Display for Listing<'_> {
    /// One line an entry: size (or `<dir>`) and name.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, entry) in self.entries().enumerate() {
            if index > 0 {
                out.write_str("\n")?;
            }
            match entry {
                Ok(entry) => entry.render(out)?,
                Err(error) => write!(out, "(an entry does not decode: {error})")?,
            }
        }
        if self.next != 0 {
            write!(out, "\n(more from entry {})", self.next)?;
        }
        Ok(())
    }
}

crate::interface! {
    endpoint "fs";
    /// Opens the file at `path`; see [`Mode`].
    once fn open(path: &str, mode: Mode) -> Result<Opened, FsError>;
    /// Up to `length` bytes (at most [`MAX_TRANSFER_BYTES`]) of the file at
    /// `offset`.
    idempotent fn read(handle: Handle, offset: u64, length: u32) -> Result<Data<'_>, FsError>;
    /// Writes `bytes` (1 to [`MAX_TRANSFER_BYTES`]) at `offset`, which may
    /// be at most the file's size; durable when answered.
    once fn write(handle: Handle, offset: u64, bytes: &[u8]) -> Result<Written, FsError>;
    /// Cuts the file to `size` bytes (at most its size).
    once fn truncate(handle: Handle, size: u64) -> Result<Done, FsError>;
    /// Ends the handle.
    once fn close(handle: Handle) -> Result<Done, FsError>;
    /// Creates an empty file (`Kind::File`) or directory at `path`.
    once fn create(path: &str, kind: Kind) -> Result<Done, FsError>;
    /// Removes the file or empty directory at `path`.
    once fn remove(path: &str) -> Result<Done, FsError>;
    /// The entries of the directory at `path`, from entry `start` on.
    idempotent fn list(path: &str, start: u32) -> Result<Listing<'_>, FsError>;
    /// What `path` names.
    idempotent fn stat(path: &str) -> Result<Status, FsError>;
    /// The disk's space.
    idempotent fn space() -> Result<Space, FsError>;
    /// Writes everything out and marks the file system clean.
    once fn sync() -> Result<Done, FsError>;
}
