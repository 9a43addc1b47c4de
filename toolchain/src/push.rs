//! Pushing a module into a running Cella: the host side of `sdk/system/src/push_protocol.rs`.
//!
//! `cargo cella run` gives the guest a second serial port (COM2) on a Unix
//! socket of its own ([`crate::runs`]); [`send`] connects to it, asks for a nonce, sends one upload signed
//! with the push key and returns the kernel's answer. [`ensure_key`] makes the
//! key once per build directory; `cargo cella build` packs it into the boot
//! archive. [`vet`] checks a module on the host first with the Wasm host's own
//! loader, so a module that would be refused never reaches the kernel.

use crate::{Error, Result};
use cella_system::install_protocol;
use cella_system::push_authority::{KEY_BYTES, PushKey};
use cella_system::push_protocol::{self, HELLO, NONCE, RESULT};
use cella_wasm_host::{Grant, Limits, QueueOutbox, Runtime, SimulatedPlatform};
use std::io::Read;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The key file inside the tool's output directory.
pub fn key_path(cella_directory: &Path) -> PathBuf {
    cella_directory.join("push.key")
}

/// Reads the push key of this build directory, making it (32 bytes from the system's random
/// source, written owner-only) if there is none yet.
///
/// # Errors
/// The key file cannot be read, made or parsed.
pub fn ensure_key(cella_directory: &Path) -> Result<PushKey> {
    let path = key_path(cella_directory);
    if path.exists() {
        return read_key(cella_directory);
    }
    let mut bytes = [0u8; KEY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|error| Error::new(format!("reading /dev/urandom for a push key: {error}")))?;
    let key = PushKey::new(bytes);
    std::fs::create_dir_all(cella_directory)
        .map_err(|error| Error::new(format!("{}: {error}", cella_directory.display())))?;
    write_owner_only(&path, format!("{}\n", key.to_hex()).as_bytes())
        .map_err(|error| Error::new(format!("writing {}: {error}", path.display())))?;
    Ok(key)
}

fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// Reads the push key `cargo cella build` made for this build directory.
///
/// # Errors
/// There is no key (nothing was built here yet) or it is not 64 hex digits.
pub fn read_key(cella_directory: &Path) -> Result<PushKey> {
    let path = key_path(cella_directory);
    let text = std::fs::read(&path).map_err(|error| {
        Error::new(format!(
            "no push key at {} ({error}): `cargo cella run` or `cargo cella build` makes it",
            path.display()
        ))
    })?;
    PushKey::from_hex(&text).map_err(|problem| Error::new(format!("{}: {problem}", path.display())))
}

/// What the kernel said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `ok` or not.
    pub accepted: bool,
    /// The kernel's text.
    pub text: String,
}

/// Loads `bytes` with the Wasm host under `grant` (the module's grant from the system
/// manifest, or none) and returns the module's own name.
///
/// # Errors
/// Why the kernel would refuse it, or that loading it panicked in the engine (the loader
/// validates in full and rewrites what wasmi 2.0.0 cannot translate, so that would be a new
/// engine defect: the module is not sent).
pub fn vet(label: &str, bytes: &[u8], grant: &Grant) -> Result<String> {
    let outcome = std::panic::catch_unwind(|| {
        let runtime: Runtime<SimulatedPlatform, QueueOutbox> = Runtime::new(Limits::default());
        runtime
            .load(label, bytes, grant)
            .map(|module| module.name().to_owned())
    });
    match outcome {
        Ok(Ok(name)) => Ok(name),
        Ok(Err(error)) => Err(Error::new(format!("{label} would be refused: {error}"))),
        Err(_) => Err(Error::new(format!(
            "{label} made the Wasm engine panic while loading; it is not sent (please report it: docs/reliability.md lists the known engine defects)"
        ))),
    }
}

/// Asks for a nonce over `socket`, sends `bytes` as an upload for `target` signed with `key`
/// (`persist`: asking the kernel to keep the module on the file system too), and waits (up to
/// `timeout` for each answer) for the kernel's answer.
///
/// # Errors
/// The socket cannot be reached (is `cargo cella run` running?), or no answer came.
pub fn send(
    socket: &Path,
    key: &PushKey,
    target: &str,
    bytes: &[u8],
    persist: bool,
    timeout: Duration,
) -> Result<Answer> {
    let upload = |nonce: &str| {
        let mut wire = push_protocol::header(key, target, bytes, persist, nonce).into_bytes();
        wire.extend_from_slice(bytes);
        Ok(wire)
    };
    exchange(socket, timeout, "the module", upload, read_answer)
}

/// As [`send`], for an install upload: `bytes` with `entry`, the module's manifest entry in
/// the compiled form (see `cella_system::install_protocol`), signed together.
///
/// # Errors
/// As [`send`].
pub fn send_install(
    socket: &Path,
    key: &PushKey,
    target: &str,
    entry: &str,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Answer> {
    let upload = |nonce: &str| {
        let mut wire =
            install_protocol::install_header(key, target, entry, bytes, nonce).into_bytes();
        wire.extend_from_slice(&install_protocol::install_body(entry, bytes));
        Ok(wire)
    };
    exchange(socket, timeout, "the module", upload, read_answer)
}

/// Connects to the running system's push channel at `socket`, reads time out after
/// `timeout`.
///
/// # Errors
/// The socket cannot be reached (is `cargo cella run` running?) or set up.
fn connect(socket: &Path, timeout: Duration) -> Result<UnixStream> {
    let stream = UnixStream::connect(socket).map_err(|error| {
        Error::new(format!(
            "cannot reach the running system at {}: {error} (start it with `cargo cella run`)",
            socket.display()
        ))
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|error| Error::new(format!("socket: {error}")))?;
    Ok(stream)
}

/// A line (or frame) from the kernel on the push channel.
pub(crate) enum Reply {
    Nonce(String),
    Answer(Answer),
}

/// The one exchange on the push channel: connects to `socket`, asks for a nonce, sends
/// what `request` makes of it (`what` names it in errors) and returns the kernel's answer,
/// each reply read by `read` (reads time out after `timeout`).
///
/// # Errors
/// The socket cannot be reached, the request cannot be made, or no answer came.
pub(crate) fn exchange(
    socket: &Path,
    timeout: Duration,
    what: &str,
    request: impl FnOnce(&str) -> Result<Vec<u8>>,
    mut read: impl FnMut(&mut BufReader<UnixStream>) -> Result<Reply>,
) -> Result<Answer> {
    let mut stream = connect(socket, timeout)?;
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(|error| Error::new(format!("socket: {error}")))?,
    );
    stream
        .write_all(format!("{HELLO}\n").as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|error| Error::new(format!("asking for a nonce: {error}")))?;
    let nonce = match read(&mut reader)? {
        Reply::Nonce(nonce) => nonce,
        Reply::Answer(answer) => return Ok(answer),
    };
    stream
        .write_all(&request(&nonce)?)
        .and_then(|()| stream.flush())
        .map_err(|error| Error::new(format!("sending {what}: {error}")))?;
    match read(&mut reader)? {
        Reply::Answer(answer) => Ok(answer),
        Reply::Nonce(_) => Err(Error::new("the kernel sent a nonce instead of its answer")),
    }
}

/// Reads lines until the kernel's nonce or result line (the port may carry other output).
fn read_answer(reader: &mut BufReader<UnixStream>) -> Result<Reply> {
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|error| Error::new(format!("no answer from the kernel: {error}")))?;
        if read == 0 {
            return Err(Error::new(
                "the connection closed before the kernel answered",
            ));
        }
        let text = line.trim_end();
        if let Some(nonce) = text.strip_prefix(NONCE) {
            return Ok(Reply::Nonce(nonce.trim().to_owned()));
        }
        let Some(rest) = text.strip_prefix(RESULT) else {
            continue;
        };
        let rest = rest.trim();
        let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
        return Ok(Reply::Answer(Answer {
            accepted: word == "ok",
            text: text.to_owned(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vetting_names_the_module_or_says_why_not() {
        let module = wat_module(
            "(module (memory (export \"memory\") 1) (func (export \"init\") (result i32) (i32.const 0)) (@custom \"cella.manifest\" \"cella 1\\nname demo\\nversion 1.0.0\\nport 0x3f8 8\\n\"))",
        );
        let granted = Grant::new().port_range(0x3f8, 8);
        assert_eq!(vet("demo", &module, &granted).unwrap(), "demo");
        let refused = vet("demo", &module, &Grant::new()).unwrap_err().to_string();
        assert!(
            refused.contains("would be refused") && refused.contains("port 0x3f8"),
            "{refused}"
        );
        assert!(vet("junk", b"not wasm at all", &Grant::new()).is_err());
    }

    fn wat_module(text: &str) -> Vec<u8> {
        // A tiny hand-assembled module would do as well; the wasm-host tests depend on `wat` already.
        wat::parse_str(text).expect("valid WAT")
    }
}
