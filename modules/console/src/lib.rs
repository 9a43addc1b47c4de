//! console: Cella's console server — takes UTF-8 input text on the `console` endpoint (from the UART and the keyboard) and echoes it through the `uart` endpoint.
//!
//! It serves the typed interface `cella_sdk::interfaces::console` and writes
//! with `cella_sdk::interfaces::uart`: an `input` is echoed, a `redraw`
//! needs nothing (there is no prompt to draw), and a message that is not one of the interface's is refused
//! with a warning. Echo rules: `\r` or `\n` becomes `\r\n`; backspace (0x08) or delete
//! (0x7f) becomes `\x08 \x08` (back, blank, back), which erases the last
//! character on a terminal. Everything else is echoed as it came.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::interfaces::{console, uart};
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
    /// What became of the last message's echo.
    echoed: Result<()>,
}

impl Module for Console {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Console> {
        cella_sdk::info!("ready");
        Ok(Console {
            uart: capabilities.uart,
            echoed: Ok(()),
        })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        self.echoed = Ok(());
        message.accept(|request, reply| console::serve(self, request, reply))?;
        core::mem::replace(&mut self.echoed, Ok(()))
    }
}

impl console::Server for Console {
    fn input(&mut self, text: &str) {
        self.echoed = echo_input(self.uart, text.as_bytes());
    }

    fn redraw(&mut self) {}
}

/// Echoes typed `input` by the echo rules. The echo is collected in one
/// write's worth of bytes and sent each time it is full; the loop stores
/// each byte's echo straight into it (a call per byte would use up an
/// event's fuel on a paste of a few thousand characters).
fn echo_input(uart: Endpoint, input: &[u8]) -> Result<()> {
    let mut echo = Echo::new(uart);
    for &byte in input {
        if echo.length + 3 > echo.bytes.len() {
            echo.flush()?;
        }
        let at = echo.length;
        let Some(room) = echo.bytes.get_mut(at..at + 3) else {
            continue;
        };
        echo.length += match byte {
            b'\r' | b'\n' => {
                room[0] = b'\r';
                room[1] = b'\n';
                2
            }
            0x08 | 0x7f => {
                room.copy_from_slice(b"\x08 \x08");
                3
            }
            _ => {
                room[0] = byte;
                1
            }
        };
    }
    echo.flush()
}

/// Collects echo bytes and sends them to the UART in `write` messages of at
/// most [`uart::MAX_WRITE_BYTES`].
struct Echo {
    uart: Endpoint,
    bytes: [u8; uart::MAX_WRITE_BYTES],
    length: usize,
}

impl Echo {
    fn new(uart: Endpoint) -> Echo {
        Echo {
            uart,
            bytes: [0; uart::MAX_WRITE_BYTES],
            length: 0,
        }
    }

    fn flush(&mut self) -> Result<()> {
        let pending = self.bytes.get(..self.length).unwrap_or_default();
        self.length = 0;
        if pending.is_empty() {
            return Ok(());
        }
        let mut message = [0u8; MESSAGE];
        let length = uart::write::request(&mut message, uart::Bytes(pending))
            .map_err(|_| ErrorCode::BadArgument)?;
        match self.uart.send(message.get(..length).unwrap_or_default()) {
            Err(ErrorCode::Busy) => {
                cella_sdk::warn!("uart busy: {} echo bytes dropped", pending.len());
                Ok(())
            }
            other => other,
        }
    }
}
