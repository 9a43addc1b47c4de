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
    /// QEMU was started without a second serial port: the channel is off.
    absent: bool,
}

impl PushPort {
    /// Sets up COM2 (polled, no interrupts), if the machine has one.
    pub fn new() -> Self {
        let mut port = SerialPort::new(COM2);
        let absent = !port.is_present();
        if absent {
            log::info!("push: no second serial port; pushing modules from the host is off");
        } else {
            port.initialise();
            log::info!("push: listening on COM2 for modules from the host (`cargo cella push`)");
        }
        Self {
            port,
            receiver: PushReceiver::new(),
            absent,
        }
    }

    /// Reads what arrived; returns a finished upload or a rejection.
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

impl Default for PushPort {
    fn default() -> Self {
        Self::new()
    }
}
