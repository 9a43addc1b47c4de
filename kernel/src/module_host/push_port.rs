//! The push channel: modules sent from the host (`cargo cella push`) over COM2.
//!
//! The kernel owns COM2 (no module is granted it) and polls it from the
//! event loop; the protocol itself is in `crate::push_protocol`, and who may
//! push (the manifest's grant and the push key) in `crate::push_authority`.

use crate::arch::serial::SerialPort;
use crate::archive::Archive;
use crate::command_protocol::answer_header;
use crate::push_authority::{KEY_ARCHIVE_ENTRY, PushGrant, PushKey};
use crate::push_protocol::{NONCE, PushAccess, PushEvent, PushReceiver, RESULT};
use alloc::format;
use core::fmt::Write;

/// Bytes taken from the port per poll, so a long upload cannot starve the modules.
const BYTES_PER_POLL: usize = 4096;

/// COM2 and the upload it is receiving.
pub struct PushPort {
    port: SerialPort,
    receiver: PushReceiver,
    /// QEMU was started without a second serial port: the channel is off.
    absent: bool,
}

impl PushPort {
    /// Sets up COM2 (polled, no interrupts), if the machine has one. The
    /// channel is open only if the system manifest grants it (`grant`) and
    /// the boot archive holds the push key; otherwise every request on COM2
    /// is answered with the reason it is closed.
    pub fn new(grant: Option<&PushGrant>, archive: &Archive<'_>) -> Self {
        let mut port = SerialPort::com2();
        let absent = !port.is_present();
        let access = access(grant, archive);
        if absent {
            log::info!("push: no second serial port; pushing modules from the host is off");
        } else {
            port.initialise();
            match &access {
                PushAccess::Granted { grant, .. } => log::info!(
                    "push: listening on COM2 for signed modules from the host (`cargo cella push`) for {}",
                    grant.targets.join(" ")
                ),
                PushAccess::Closed(reason) => log::info!("push: off: {reason}"),
            }
        }
        Self {
            port,
            receiver: PushReceiver::new(access, crate::arch::tsc::read()),
            absent,
        }
    }

    /// Sends a nonce the host asked for.
    pub fn send_nonce(&mut self, nonce: &str) {
        if !self.absent {
            let _ = writeln!(self.port, "{NONCE} {nonce}");
        }
    }

    /// Reads what arrived; returns a request for a nonce, a finished upload or a rejection.
    pub fn poll(&mut self, now: u64) -> Option<PushEvent> {
        if self.absent {
            return None;
        }
        for _ in 0..BYTES_PER_POLL {
            let Some(byte) = self.port.try_read() else {
                break;
            };
            if let Some(event) = self.receiver.feed(byte, now) {
                return Some(event);
            }
        }
        self.receiver.check_timeout(now)
    }

    /// Sends the one-line answer for an upload (nothing without a port).
    pub fn answer(&mut self, outcome: &Result<alloc::string::String, alloc::string::String>) {
        if self.absent {
            return;
        }
        let (word, text) = match outcome {
            Ok(text) => ("ok", text),
            Err(text) => ("error", text),
        };
        let text = text.replace(['\n', '\r'], " ");
        let _ = writeln!(self.port, "{RESULT} {word} {text}");
    }
}

impl PushPort {
    /// Sends the answer to a command from the host: its header line with the
    /// text's byte length, then the text byte for byte (see
    /// `crate::command_protocol`; nothing without a port).
    pub fn answer_command(
        &mut self,
        outcome: &Result<alloc::string::String, alloc::string::String>,
    ) {
        if self.absent {
            return;
        }
        let (accepted, text) = match outcome {
            Ok(text) => (true, text),
            Err(text) => (false, text),
        };
        for byte in answer_header(accepted, text).bytes().chain(text.bytes()) {
            self.port.write_byte(byte);
        }
    }
}

/// Whether the channel opens: the manifest's grant and a readable key.
fn access(grant: Option<&PushGrant>, archive: &Archive<'_>) -> PushAccess {
    let Some(grant) = grant else {
        return PushAccess::Closed(alloc::string::String::from(
            "push is not granted by the system manifest (no [push] table in modules/system.toml)",
        ));
    };
    let key = match archive.find(KEY_ARCHIVE_ENTRY) {
        Ok(Some(entry)) => PushKey::from_hex(entry.data),
        Ok(None) => Err(format!("the boot archive has no `{KEY_ARCHIVE_ENTRY}`")),
        Err(error) => Err(format!("boot archive unreadable: {error}")),
    };
    match key {
        Ok(key) => PushAccess::Granted {
            key,
            grant: grant.clone(),
        },
        Err(reason) => PushAccess::Closed(format!("push is closed: {reason}")),
    }
}
