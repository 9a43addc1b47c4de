//! shell: Cella's console shell — line editing on the console's input, commands sent to the kernel's supervisor, answers printed through the UART.
//!
//! It serves the `console` endpoint (typed text from the UART and keyboard
//! drivers) and sends to `uart` (the terminal) and `supervisor` (the
//! kernel). Typing echoes; backspace erases; Enter sends the line to the
//! supervisor, which answers on `console` with marked messages (see
//! [`line::Input`]); the prompt comes back when the whole answer has been
//! printed. The commands themselves (`help`, `ps`, `caps`, `log`, `restart`,
//! `stop`, `start`, `swap`, `trace`, `uptime`, `mem`) are the supervisor's, so
//! the shell stays small and cannot do anything its grants do not allow.
#![no_std]
#![forbid(unsafe_code)]

pub mod line;

use cella_sdk::{Endpoint, ErrorCode, MAX_MESSAGE_BYTES, Message, Module, Result};
use line::{Action, Input, LineEditor, classify};

cella_sdk::module! {
    name: "shell",
    version: "1.0.0",
    module: Shell,
    capabilities: {
        uart: endpoint("uart"),
        supervisor: endpoint("supervisor"),
    },
}

const MESSAGE: usize = MAX_MESSAGE_BYTES as usize;
const PROMPT: &[u8] = b"cella> ";

/// The shell's state between events.
pub struct Shell {
    uart: Endpoint,
    supervisor: Endpoint,
    editor: LineEditor,
    /// A command was sent and its answer is not complete yet.
    waiting: bool,
}

impl Module for Shell {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Shell> {
        cella_sdk::info!("ready; type `help`");
        let shell = Shell {
            uart: capabilities.uart,
            supervisor: capabilities.supervisor,
            editor: LineEditor::new(),
            waiting: false,
        };
        shell.write(PROMPT)?;
        Ok(shell)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut buffer = [0u8; MESSAGE];
        let bytes = message.read(&mut buffer)?;
        match classify(bytes) {
            Input::Answer { text, last } => {
                self.write(text)?;
                if last {
                    self.waiting = false;
                    self.write(PROMPT)?;
                    self.write(self.editor.line())?;
                }
            }
            Input::Typed(typed) => {
                for &byte in typed {
                    self.key(byte)?;
                }
            }
        }
        if message.is_request() {
            message.reply(&[])?;
        }
        Ok(())
    }
}

impl Shell {
    fn write(&self, bytes: &[u8]) -> Result<()> {
        for piece in bytes.chunks(MESSAGE) {
            match self.uart.send(piece) {
                Err(ErrorCode::Busy) => {
                    cella_sdk::warn!("uart busy: {} bytes of output dropped", piece.len())
                }
                other => other?,
            }
        }
        Ok(())
    }

    fn key(&mut self, byte: u8) -> Result<()> {
        match self.editor.key(byte) {
            Action::Echo(bytes) => self.write(bytes.as_slice()),
            Action::Nothing => Ok(()),
            Action::Submit => {
                self.write(b"\r\n")?;
                let line = self.editor.take();
                if self.waiting || line.as_str().trim().is_empty() {
                    if !self.waiting {
                        self.write(PROMPT)?;
                    }
                    return Ok(());
                }
                self.waiting = true;
                if let Err(error) = self.supervisor.send(line.as_str().as_bytes()) {
                    self.waiting = false;
                    cella_sdk::warn!("supervisor unreachable: {:?}", error);
                    self.write(b"error: the supervisor did not take the command\r\n")?;
                    self.write(PROMPT)?;
                }
                Ok(())
            }
        }
    }
}
