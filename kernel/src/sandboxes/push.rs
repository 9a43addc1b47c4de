//! The push channel: modules sent from the host (`cargo cella push`) over COM2.
//!
//! The kernel owns COM2 (no module is granted it) and polls it from the
//! event loop; the protocol itself is in `crate::push_protocol`.

use crate::arch::serial::{COM2, SerialPort};
use crate::push_protocol::{PushEvent, PushReceiver, RESULT};
use core::fmt::Write;

/// Bytes taken from the port per poll, so a long upload cannot starve the modules.
const BYTES_PER_POLL: usize = 4096;

/// COM2 and the upload it is receiving.
pub struct PushPort {
    port: SerialPort,
    receiver: PushReceiver,
}

impl PushPort {
    /// Sets up COM2 (polled, no interrupts).
    pub fn new() -> Self {
        let mut port = SerialPort::new(COM2);
        port.initialise();
        Self {
            port,
            receiver: PushReceiver::new(),
        }
    }

    /// Reads what arrived; returns a finished upload or a rejection.
    pub fn poll(&mut self, now: u64) -> Option<PushEvent> {
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

    /// Sends the one-line answer for an upload.
    pub fn answer(&mut self, outcome: &Result<alloc::string::String, alloc::string::String>) {
        let (word, text) = match outcome {
            Ok(text) => ("ok", text),
            Err(text) => ("error", text),
        };
        let text = text.replace(['\n', '\r'], " ");
        let _ = writeln!(self.port, "{RESULT} {word} {text}");
    }
}

impl Default for PushPort {
    fn default() -> Self {
        Self::new()
    }
}
