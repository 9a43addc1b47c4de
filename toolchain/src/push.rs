//! Pushing a module into a running Cella: the host side of `kernel/src/push_protocol.rs`.
//!
//! `cargo cella run` gives the guest a second serial port (COM2) on a Unix
//! socket; [`send`] connects to it, sends one upload and returns the kernel's
//! answer. [`vet`] checks a module on the host first with the Wasm host's own
//! loader, so a module that would be refused, or that would trip a known
//! wasmi 2.0.0 translator panic, never reaches the kernel.

use crate::{Error, Result};
use cella_kernel::push_protocol::{self, RESULT};
use cella_wasm_host::{Grant, Limits, QueueOutbox, Runtime, SimulatedPlatform};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The socket `cargo cella run` puts COM2 on, inside the tool's output directory.
pub fn socket_path(cella_directory: &Path) -> PathBuf {
    cella_directory.join("push.sock")
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
/// Why the kernel would refuse it, or that it trips a wasmi translator panic.
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
            "{label} trips a panic in wasmi 2.0.0's translator; it would panic the kernel and is not sent"
        ))),
    }
}

/// Sends `bytes` as an upload for `target` over `socket` and waits (up to `timeout`) for the answer.
///
/// # Errors
/// The socket cannot be reached (is `cargo cella run` running?), or no answer came.
pub fn send(socket: &Path, target: &str, bytes: &[u8], timeout: Duration) -> Result<Answer> {
    let mut stream = UnixStream::connect(socket).map_err(|error| {
        Error::new(format!(
            "cannot reach the running system at {}: {error} (start it with `cargo cella run`)",
            socket.display()
        ))
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|error| Error::new(format!("socket: {error}")))?;
    let header = push_protocol::header(target, bytes);
    stream
        .write_all(header.as_bytes())
        .and_then(|()| stream.write_all(bytes))
        .and_then(|()| stream.flush())
        .map_err(|error| Error::new(format!("sending the module: {error}")))?;
    read_answer(stream)
}

/// Reads lines until the kernel's result line.
fn read_answer(stream: UnixStream) -> Result<Answer> {
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let line =
            line.map_err(|error| Error::new(format!("no answer from the kernel: {error}")))?;
        let Some(rest) = line.strip_prefix(RESULT) else {
            continue;
        };
        let rest = rest.trim();
        let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
        return Ok(Answer {
            accepted: word == "ok",
            text: text.to_owned(),
        });
    }
    Err(Error::new(
        "the connection closed before the kernel answered",
    ))
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
