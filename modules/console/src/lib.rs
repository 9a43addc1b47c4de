//! console: Cella's console server — takes UTF-8 input text on the `console` endpoint (from the UART and the keyboard) and echoes it through the `uart` endpoint.
//!
//! Echo rules: `\r` or `\n` becomes `\r\n`; backspace (0x08) or delete
//! (0x7f) becomes `\x08 \x08` (back, blank, back), which erases the last
//! character on a terminal. Everything else is echoed as it came.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{Endpoint, ErrorCode, MAX_MESSAGE_BYTES, Message, Module, Result};

cella_sdk::module! {
    name: "console",
    version: "1.0.0",
    module: Console,
    capabilities: {
        uart: endpoint("uart"),
    },
}

const MESSAGE: usize = MAX_MESSAGE_BYTES as usize;

/// The server's state between events.
pub struct Console {
    uart: Endpoint,
}

impl Module for Console {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Console> {
        cella_sdk::info!("ready");
        Ok(Console {
            uart: capabilities.uart,
        })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut input = [0u8; MESSAGE];
        let input = message.read(&mut input)?;
        let mut echo = Echo::new(self.uart);
        for &byte in input {
            match byte {
                b'\r' | b'\n' => echo.push(b"\r\n")?,
                0x08 | 0x7f => echo.push(b"\x08 \x08")?,
                _ => echo.push(&[byte])?,
            }
        }
        echo.flush()?;
        if message.is_request() {
            message.reply(&[])?;
        }
        Ok(())
    }
}

/// Collects echo bytes and sends them to the UART in messages of at most
/// [`MAX_MESSAGE_BYTES`].
struct Echo {
    uart: Endpoint,
    bytes: [u8; MESSAGE],
    length: usize,
}

impl Echo {
    fn new(uart: Endpoint) -> Echo {
        Echo {
            uart,
            bytes: [0; MESSAGE],
            length: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if self.length + bytes.len() > MESSAGE {
            self.flush()?;
        }
        for &byte in bytes {
            if let Some(slot) = self.bytes.get_mut(self.length) {
                *slot = byte;
                self.length += 1;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let pending = self.bytes.get(..self.length).unwrap_or_default();
        self.length = 0;
        if pending.is_empty() {
            return Ok(());
        }
        match self.uart.send(pending) {
            Err(ErrorCode::Busy) => {
                cella_sdk::warn!("uart busy: {} echo bytes dropped", pending.len());
                Ok(())
            }
            other => other,
        }
    }
}
