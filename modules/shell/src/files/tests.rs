//! The file commands against an in-memory file server that speaks the real
//! `fs` interface (its `serve` decodes every request the commands send).

extern crate std;

use super::*;
use fs::{Data, Done, Entry, Listing, Opened, Space, Status, Written};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

/// Files by path, directories as paths with no bytes; open handles.
#[derive(Default)]
struct Memory {
    files: BTreeMap<String, Vec<u8>>,
    directories: Vec<String>,
    open: Vec<Option<String>>,
    listing: Vec<u8>,
    read: Vec<u8>,
    /// Entries one `list` answer carries.
    page: usize,
}

impl Memory {
    fn path_of(&self, handle: Handle) -> Result<String, FsError> {
        self.open
            .get(handle.slot as usize)
            .cloned()
            .flatten()
            .ok_or(FsError::Stale)
    }
}

impl fs::Server for Memory {
    fn open(&mut self, path: &str, mode: Mode) -> Result<Opened, FsError> {
        if self.directories.iter().any(|directory| directory == path) {
            return Err(FsError::IsDirectory);
        }
        match (self.files.contains_key(path), mode) {
            (false, Mode::Read | Mode::ReadWrite) => return Err(FsError::NotFound),
            (_, Mode::Truncate) | (false, Mode::Create) => {
                self.files.insert(path.to_string(), Vec::new());
            }
            _ => {}
        }
        self.open.push(Some(path.to_string()));
        Ok(Opened {
            handle: Handle {
                slot: self.open.len() as u32 - 1,
                generation: 1,
            },
            size: self.files[path].len() as u64,
        })
    }
    fn read(&mut self, handle: Handle, offset: u64, length: u32) -> Result<Data<'_>, FsError> {
        let path = self.path_of(handle)?;
        let bytes = &self.files[&path];
        let start = (offset as usize).min(bytes.len());
        let end = (start + length as usize).min(bytes.len());
        self.read = bytes[start..end].to_vec();
        Ok(Data { bytes: &self.read })
    }
    fn write(&mut self, handle: Handle, offset: u64, bytes: &[u8]) -> Result<Written, FsError> {
        let path = self.path_of(handle)?;
        let file = self.files.get_mut(&path).unwrap();
        file.truncate(offset as usize);
        file.extend_from_slice(bytes);
        Ok(Written {
            length: bytes.len() as u32,
            size: file.len() as u64,
        })
    }
    fn truncate(&mut self, _handle: Handle, _size: u64) -> Result<Done, FsError> {
        Err(FsError::BadArgument)
    }
    fn close(&mut self, handle: Handle) -> Result<Done, FsError> {
        self.path_of(handle)?;
        self.open[handle.slot as usize] = None;
        Ok(Done { done: true })
    }
    fn create(&mut self, path: &str, kind: Kind) -> Result<Done, FsError> {
        if kind == Kind::Directory {
            self.directories.push(path.to_string());
        } else {
            self.files.insert(path.to_string(), Vec::new());
        }
        Ok(Done { done: true })
    }
    fn remove(&mut self, path: &str) -> Result<Done, FsError> {
        self.files
            .remove(path)
            .map(|_| Done { done: true })
            .ok_or(FsError::NotFound)
    }
    fn list(&mut self, path: &str, start: u32) -> Result<Listing<'_>, FsError> {
        let prefix = if path == "/" {
            String::from("/")
        } else {
            std::format!("{path}/")
        };
        let mut all: Vec<(String, Kind, u64)> = self
            .files
            .iter()
            .filter_map(|(name, bytes)| {
                name.strip_prefix(&prefix)
                    .map(|name| (name.to_string(), Kind::File, bytes.len() as u64))
            })
            .collect();
        all.extend(self.directories.iter().filter_map(|name| {
            name.strip_prefix(&prefix)
                .map(|name| (name.to_string(), Kind::Directory, 0))
        }));
        let page: Vec<_> = all
            .iter()
            .skip(start as usize)
            .take(self.page.max(1))
            .collect();
        let mut buffer = [0u8; fs::MAX_LISTING_BYTES];
        let mut writer = cella_sdk::interfaces::wire::Writer::new(&mut buffer);
        for (name, kind, size) in &page {
            let entry = Entry {
                name,
                kind: *kind,
                size: *size,
            };
            cella_sdk::interfaces::wire::Wire::encode(&entry, &mut writer).unwrap();
        }
        let length = writer.length();
        self.listing = buffer[..length].to_vec();
        let next = start + page.len() as u32;
        Ok(Listing {
            start,
            count: page.len() as u32,
            next: if (next as usize) < all.len() { next } else { 0 },
            entries: &self.listing,
        })
    }
    fn stat(&mut self, path: &str) -> Result<Status, FsError> {
        self.files
            .get(path)
            .map(|bytes| Status {
                kind: Kind::File,
                size: bytes.len() as u64,
            })
            .ok_or(FsError::NotFound)
    }
    fn space(&mut self) -> Result<Space, FsError> {
        Ok(Space {
            total: 128 * 1024 * 1024,
            free: 100 * 1024 * 1024,
            cluster: 1024,
        })
    }
    fn sync(&mut self) -> Result<Done, FsError> {
        Ok(Done { done: true })
    }
}

/// The in-memory server behind the [`FileServer`] trait, as the shell sees it.
struct Server(RefCell<Memory>);

impl FileServer for Server {
    fn call<'r>(&self, request: &[u8], reply: &'r mut [u8]) -> Result<&'r [u8], ErrorCode> {
        let length = fs::serve(&mut *self.0.borrow_mut(), request, reply)
            .map_err(|_| ErrorCode::BadArgument)?;
        Ok(&reply[..length])
    }
}

/// No file server: every call is `Closed`.
struct Absent;

impl FileServer for Absent {
    fn call<'r>(&self, _request: &[u8], _reply: &'r mut [u8]) -> Result<&'r [u8], ErrorCode> {
        Err(ErrorCode::Closed)
    }
}

fn server() -> Server {
    Server(RefCell::new(Memory {
        page: 2,
        ..Memory::default()
    }))
}

fn output(server: &impl FileServer, line: &str) -> (Result<(), Failure>, String) {
    let mut printed = Vec::new();
    let result = run(server, line, &mut |bytes| printed.extend_from_slice(bytes));
    (result, String::from_utf8(printed).unwrap())
}

#[test]
fn write_then_cat_shows_the_text_and_ls_lists_it_over_several_answers() {
    let server = server();
    let (result, printed) = output(&server, "write /notes.txt hello  there");
    assert_eq!(result, Ok(()));
    assert_eq!(printed, "wrote 13 bytes to /notes.txt\r\n");
    assert_eq!(server.0.borrow().files["/notes.txt"], b"hello  there\n");
    assert_eq!(output(&server, "cat /notes.txt").1, "hello  there\r\n");
    output(&server, "write /b x");
    output(&server, "mkdir /modules");
    // Three entries, two an answer: the listing goes on from `next`.
    let (result, printed) = output(&server, "ls");
    assert_eq!(result, Ok(()));
    assert_eq!(
        printed,
        "         2  b\r\n        13  notes.txt\r\n     <dir>  modules/\r\n"
    );
    assert!(
        server.0.borrow().open.iter().all(Option::is_none),
        "every handle closed"
    );
}

#[test]
fn cat_shows_control_bytes_as_dots_and_stops_at_its_limit() {
    let server = server();
    server.0.borrow_mut().files.insert(
        String::from("/binary"),
        std::vec![0x00, b'a', 0x07, b'\n', b'b'],
    );
    assert_eq!(output(&server, "cat /binary").1, ".a.\r\nb\r\n");
    let big = std::vec![b'x'; CAT_LIMIT as usize + 10];
    server
        .0
        .borrow_mut()
        .files
        .insert(String::from("/big"), big);
    let printed = output(&server, "cat /big").1;
    assert!(printed.ends_with(&std::format!(
        "(the first {CAT_LIMIT} of {} bytes)\r\n",
        CAT_LIMIT + 10
    )));
    assert_eq!(printed.matches('x').count(), CAT_LIMIT as usize);
}

#[test]
fn errors_name_what_went_wrong() {
    let server = server();
    assert_eq!(
        output(&server, "cat /missing").0,
        Err(Failure::Fs(FsError::NotFound))
    );
    assert_eq!(
        output(&server, "rm /missing").0,
        Err(Failure::Fs(FsError::NotFound))
    );
    assert_eq!(output(&server, "cat").0, Err(Failure::Usage("cat PATH")));
    assert_eq!(
        output(&server, "write").0,
        Err(Failure::Usage("write PATH TEXT"))
    );
    let absent = output(&Absent, "ls /").0.unwrap_err();
    assert_eq!(absent.to_string(), "the file server is not running");
    assert_eq!(
        Failure::Fs(FsError::NotFound).to_string(),
        "no such file or directory"
    );
}

#[test]
fn df_shows_the_space_and_rm_removes() {
    let server = server();
    assert_eq!(
        output(&server, "df").1,
        "disk: 131072 KiB, 28672 KiB used, 102400 KiB free (1024 bytes a cluster)\r\n"
    );
    output(&server, "write /gone x");
    assert_eq!(output(&server, "rm /gone").0, Ok(()));
    assert_eq!(output(&server, "ls").1, "(empty)\r\n");
}

#[test]
fn only_file_commands_are_taken_from_the_supervisor() {
    for line in [
        "ls",
        "ls /modules",
        "cat /x",
        "write /x y",
        "mkdir /d",
        "rm /x",
        "df",
    ] {
        assert!(is_file_command(line), "{line}");
    }
    for line in ["ps", "help", "lsx", "swap uart16550 v2", "catalog"] {
        assert!(!is_file_command(line), "{line}");
    }
}
