//! The shell's file commands, `ls`, `cat`, `write`, `mkdir`, `rm` and `df`:
//! each a few calls to the `fs` endpoint's typed interface
//! (`cella_sdk::interfaces::fs`), answered before the prompt comes back.
//! No host calls here: the calls go through [`FileServer`], so the commands
//! are tested on the host against an in-memory server.

use cella_sdk::interfaces::fs::{self, FsError, Handle, Kind, Mode};
use cella_sdk::interfaces::wire::WireError;
use cella_sdk::{ErrorCode, TextBuffer};
use core::fmt::Write;

/// The most bytes `cat` prints of one file; the rest is counted, not shown.
pub const CAT_LIMIT: u64 = 64 * 1024;

/// The request and answer buffers' size: one message.
const MESSAGE: usize = cella_sdk::MAX_MESSAGE_BYTES as usize;

/// How the shell reaches the file server: one call, answered.
pub trait FileServer {
    /// Sends `request` to `fs` and returns the answer's part of `reply`.
    ///
    /// # Errors
    /// The call's failure (`Closed` when no file server runs).
    fn call<'r>(&self, request: &[u8], reply: &'r mut [u8]) -> Result<&'r [u8], ErrorCode>;
}

/// Why a file command failed, as the shell prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The file server's answer.
    Fs(FsError),
    /// The call failed.
    Call(ErrorCode),
    /// The request or answer did not encode or decode.
    Wire(WireError),
    /// The command line was wrong; the text says how to use it.
    Usage(&'static str),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Fs(error) => write!(out, "{error}"),
            Failure::Call(ErrorCode::Closed) => out.write_str("the file server is not running"),
            Failure::Call(ErrorCode::TimedOut) => out.write_str("the file server did not answer"),
            Failure::Call(error) => write!(out, "the call to the file server failed: {error}"),
            Failure::Wire(error) => write!(out, "the file server's answer made no sense: {error}"),
            Failure::Usage(usage) => write!(out, "usage: {usage}"),
        }
    }
}

impl From<FsError> for Failure {
    fn from(error: FsError) -> Failure {
        Failure::Fs(error)
    }
}

impl From<ErrorCode> for Failure {
    fn from(error: ErrorCode) -> Failure {
        Failure::Call(error)
    }
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Failure {
        Failure::Wire(error)
    }
}

/// Whether `line` is a file command (its first word names one).
pub fn is_file_command(line: &str) -> bool {
    matches!(
        line.split_whitespace().next(),
        Some("ls" | "cat" | "write" | "mkdir" | "rm" | "df")
    )
}

/// The file commands' lines of `help`.
pub const HELP: &str = "file commands (the `fs` server):\r\n  \
ls [PATH]          list a directory (default /)\r\n  \
cat PATH           print a file (the first 64 KiB)\r\n  \
write PATH TEXT    make PATH hold TEXT and a newline\r\n  \
mkdir PATH         make a directory\r\n  \
rm PATH            remove a file or an empty directory\r\n  \
df                 the disk's space\r\n";

/// Runs file command `line`, printing its output through `print` (lines
/// end in `\r\n`).
///
/// # Errors
/// What failed; nothing is printed for it here.
pub fn run(
    server: &impl FileServer,
    line: &str,
    print: &mut impl FnMut(&[u8]),
) -> Result<(), Failure> {
    let line = line.trim();
    let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim_start();
    match command {
        "ls" => list(server, if rest.is_empty() { "/" } else { rest }, print),
        "cat" if !rest.is_empty() => cat(server, rest, print),
        "cat" => Err(Failure::Usage("cat PATH")),
        "write" => match rest.split_once(' ') {
            Some((path, text)) => write(server, path, text, print),
            None if !rest.is_empty() => write(server, rest, "", print),
            None => Err(Failure::Usage("write PATH TEXT")),
        },
        "mkdir" if !rest.is_empty() => {
            let answer = ask(server, |buffer| {
                fs::create::request(buffer, rest, Kind::Directory)
            })?;
            fs::create::reply(answer.bytes())??;
            Ok(())
        }
        "mkdir" => Err(Failure::Usage("mkdir PATH")),
        "rm" if !rest.is_empty() => {
            let answer = ask(server, |buffer| fs::remove::request(buffer, rest))?;
            fs::remove::reply(answer.bytes())??;
            Ok(())
        }
        "rm" => Err(Failure::Usage("rm PATH")),
        "df" => {
            let answer = ask(server, fs::space::request)?;
            let space = fs::space::reply(answer.bytes())??;
            let mut text = TextBuffer::<160>::new();
            let _ = write!(
                text,
                "disk: {} KiB, {} KiB used, {} KiB free ({} bytes a cluster)\r\n",
                space.total / 1024,
                (space.total - space.free.min(space.total)) / 1024,
                space.free / 1024,
                space.cluster
            );
            print(text.as_str().as_bytes());
            Ok(())
        }
        _ => Err(Failure::Usage("ls, cat, write, mkdir, rm or df")),
    }
}

/// An answer, in a buffer of its own.
struct Answer {
    buffer: [u8; MESSAGE],
    length: usize,
}

impl Answer {
    fn bytes(&self) -> &[u8] {
        &self.buffer[..self.length]
    }
}

/// Encodes a request with `encode` and calls the server with it.
fn ask(
    server: &impl FileServer,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Result<Answer, Failure> {
    let mut request = [0u8; MESSAGE];
    let length = encode(&mut request)?;
    let mut answer = Answer {
        buffer: [0; MESSAGE],
        length: 0,
    };
    answer.length = server.call(&request[..length], &mut answer.buffer)?.len();
    Ok(answer)
}

fn list(
    server: &impl FileServer,
    path: &str,
    print: &mut impl FnMut(&[u8]),
) -> Result<(), Failure> {
    let mut start = 0u32;
    let mut shown = 0u32;
    loop {
        let answer = ask(server, |buffer| fs::list::request(buffer, path, start))?;
        let listing = fs::list::reply(answer.bytes())??;
        for entry in listing.entries() {
            let entry = entry?;
            let mut text = TextBuffer::<{ fs::MAX_NAME_BYTES + 32 }>::new();
            let _ = match entry.kind {
                Kind::File => write!(text, "{:>10}  {}\r\n", entry.size, entry.name),
                Kind::Directory => write!(text, "{:>10}  {}/\r\n", "<dir>", entry.name),
            };
            print(text.as_str().as_bytes());
            shown += 1;
        }
        // A `next` that does not move on would list for ever.
        if listing.next == 0 || listing.next <= start {
            break;
        }
        start = listing.next;
    }
    if shown == 0 {
        print(b"(empty)\r\n");
    }
    Ok(())
}

fn cat(server: &impl FileServer, path: &str, print: &mut impl FnMut(&[u8])) -> Result<(), Failure> {
    let opened = {
        let answer = ask(server, |buffer| fs::open::request(buffer, path, Mode::Read))?;
        fs::open::reply(answer.bytes())??
    };
    let result = print_file(server, opened.handle, opened.size, print);
    close(server, opened.handle);
    result
}

/// Prints the file's first [`CAT_LIMIT`] bytes as text: line ends become
/// `\r\n`, other control bytes `.`.
fn print_file(
    server: &impl FileServer,
    handle: Handle,
    size: u64,
    print: &mut impl FnMut(&[u8]),
) -> Result<(), Failure> {
    let mut offset = 0u64;
    let mut ended_with_newline = true;
    while offset < size.min(CAT_LIMIT) {
        let length = (size.min(CAT_LIMIT) - offset).min(fs::MAX_TRANSFER_BYTES as u64) as u32;
        let answer = ask(server, |buffer| {
            fs::read::request(buffer, handle, offset, length)
        })?;
        let data = fs::read::reply(answer.bytes())??;
        if data.bytes.is_empty() {
            break;
        }
        let mut shown = [0u8; 2 * fs::MAX_TRANSFER_BYTES];
        let mut used = 0;
        for &byte in data.bytes {
            let printable: &[u8] = match byte {
                b'\n' => b"\r\n",
                b'\t' | 0x20..=0x7e | 0x80..=0xff => core::slice::from_ref(&byte),
                _ => b".",
            };
            shown[used..used + printable.len()].copy_from_slice(printable);
            used += printable.len();
        }
        print(&shown[..used]);
        ended_with_newline = data.bytes.last() == Some(&b'\n');
        offset += data.bytes.len() as u64;
    }
    if !ended_with_newline {
        print(b"\r\n");
    }
    if size > CAT_LIMIT {
        let mut text = TextBuffer::<96>::new();
        let _ = write!(text, "(the first {CAT_LIMIT} of {size} bytes)\r\n");
        print(text.as_str().as_bytes());
    }
    Ok(())
}

fn write(
    server: &impl FileServer,
    path: &str,
    text: &str,
    print: &mut impl FnMut(&[u8]),
) -> Result<(), Failure> {
    let opened = {
        let answer = ask(server, |buffer| {
            fs::open::request(buffer, path, Mode::Truncate)
        })?;
        fs::open::reply(answer.bytes())??
    };
    let mut bytes = [0u8; crate::line::LINE_BYTES + 1];
    let length = text.len().min(crate::line::LINE_BYTES);
    bytes[..length].copy_from_slice(&text.as_bytes()[..length]);
    bytes[length] = b'\n';
    let written = ask(server, |buffer| {
        fs::write::request(buffer, opened.handle, 0, &bytes[..=length])
    })
    .and_then(|answer| Ok(fs::write::reply(answer.bytes())??));
    close(server, opened.handle);
    let written = written?;
    let mut line = TextBuffer::<{ fs::MAX_PATH_BYTES + 48 }>::new();
    let _ = write!(line, "wrote {} bytes to {path}\r\n", written.length);
    print(line.as_str().as_bytes());
    Ok(())
}

/// Ends a handle; a failure to close is not the command's failure.
fn close(server: &impl FileServer, handle: Handle) {
    let _ = ask(server, |buffer| fs::close::request(buffer, handle));
}

#[cfg(test)]
mod tests;
