//! shell: Cella's console shell — line editing on the console's input, commands sent to the kernel's supervisor, answers printed through the UART.
//!
//! It serves the `console` endpoint (typed text from the UART and keyboard
//! drivers) and sends to `uart` (the terminal) and `supervisor` (the
//! kernel). Typing echoes; backspace erases; Enter sends the line to the
//! supervisor, which answers on `console` with marked messages (see
//! [`line::Input`]); the prompt comes back when the whole answer has been
//! printed. The first prompt waits for the kernel's notice that the boot is
//! done, and the same notice after kernel output (a log line) draws the
//! prompt and the half-typed line again below it. A line longer than
//! [`line::LINE_BYTES`] is refused whole. The commands themselves (`help`
//! lists them) are the supervisor's, so the shell stays small and cannot do
//! anything its grants do not allow. The file commands (`ls`, `cat`,
//! `write`, `mkdir`, `rm`, `df`; [`files`]) are the shell's own: it calls
//! the `fs` server for them, waiting for each answer in the handler.
#![no_std]
#![forbid(unsafe_code)]

pub mod files;
pub mod line;

use cella_sdk::{Endpoint, ErrorCode, MAX_MESSAGE_BYTES, Message, Module, Result, TextBuffer};
use core::fmt::Write;
use line::{Action, Input, LINE_BYTES, LineEditor, classify};

cella_sdk::module! {
    name: "shell",
    version: "1.0.0",
    module: Shell,
    capabilities: {
        uart: endpoint("uart"),
        supervisor: endpoint("supervisor"),
        fs: endpoint("fs"),
    },
}

const MESSAGE: usize = MAX_MESSAGE_BYTES as usize;
const PROMPT: &[u8] = b"cella> ";
/// How long a file command waits for each answer of the file server.
const FS_DEADLINE_MILLISECONDS: u32 = 10_000;

/// The file server, called and waited for in the handler.
struct FsEndpoint<'a>(&'a Endpoint);

impl files::FileServer for FsEndpoint<'_> {
    fn call<'r>(
        &self,
        request: &[u8],
        reply: &'r mut [u8],
    ) -> core::result::Result<&'r [u8], ErrorCode> {
        self.0
            .call_and_wait(request, FS_DEADLINE_MILLISECONDS, reply)
    }
}

/// Echo collected while one typed message is handled.
struct Echoed {
    bytes: [u8; MESSAGE],
    length: usize,
}

/// The shell's state between events.
pub struct Shell {
    uart: Endpoint,
    supervisor: Endpoint,
    fs: Endpoint,
    editor: LineEditor,
    /// A command was sent and its answer is not complete yet.
    waiting: bool,
    /// The answer under way is `help`'s: the file commands follow it.
    help_follows: bool,
}

impl Module for Shell {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Shell> {
        cella_sdk::info!("ready; type `help`");
        let shell = Shell {
            uart: capabilities.uart,
            supervisor: capabilities.supervisor,
            fs: capabilities.fs,
            editor: LineEditor::new(),
            waiting: false,
            help_follows: false,
        };
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
                    if core::mem::take(&mut self.help_follows) {
                        self.write(files::HELP.as_bytes())?;
                    }
                    self.write(PROMPT)?;
                    self.write(self.editor.line())?;
                }
            }
            // While an answer is under way the prompt comes after it.
            Input::Redraw if !self.waiting => {
                // `\r`: a prompt already on this line is drawn over, not repeated.
                self.write(b"\r")?;
                self.write(PROMPT)?;
                self.write(self.editor.line())?;
            }
            Input::Redraw => {}
            Input::Typed(typed) => {
                // Echo goes out in one message per typed message, not one per key.
                let mut echo = Echoed {
                    bytes: [0; MESSAGE],
                    length: 0,
                };
                for &byte in typed {
                    self.key(byte, &mut echo)?;
                }
                self.flush(&mut echo)?;
            }
        }
        if message.is_request() {
            message.reply(&[])?;
        }
        Ok(())
    }
}

impl Shell {
    /// Runs a file command, printing its output, or the error.
    fn run_file_command(&self, line: &str) -> Result<()> {
        let mut printed = Ok(());
        let result = files::run(&FsEndpoint(&self.fs), line, &mut |bytes| {
            if printed.is_ok() {
                printed = self.write(bytes);
            }
        });
        printed?;
        if let Err(failure) = result {
            let command = line.split_whitespace().next().unwrap_or("");
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let mut text = TextBuffer::<{ LINE_BYTES + 120 }>::new();
            let _ = match failure {
                files::Failure::Usage(_) | files::Failure::Call(_) => {
                    write!(text, "error: {command}: {failure}\r\n")
                }
                _ => write!(text, "error: {command} {path}: {failure}\r\n"),
            };
            self.write(text.as_str().as_bytes())?;
        }
        Ok(())
    }

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

    fn flush(&self, echo: &mut Echoed) -> Result<()> {
        let bytes = echo.bytes.get(..echo.length).unwrap_or_default();
        echo.length = 0;
        if bytes.is_empty() {
            return Ok(());
        }
        self.write(bytes)
    }

    fn key(&mut self, byte: u8, echo: &mut Echoed) -> Result<()> {
        match self.editor.key(byte) {
            Action::Echo(bytes) => {
                if echo.length + bytes.as_slice().len() > echo.bytes.len() {
                    self.flush(echo)?;
                }
                for &byte in bytes.as_slice() {
                    echo.bytes[echo.length] = byte;
                    echo.length += 1;
                }
                Ok(())
            }
            Action::Nothing => Ok(()),
            Action::Submit => {
                self.flush(echo)?;
                self.write(b"\r\n")?;
                let Ok(line) = self.editor.take() else {
                    let mut refusal = TextBuffer::<80>::new();
                    let _ = write!(
                        refusal,
                        "error: line longer than {LINE_BYTES} bytes; nothing was run\r\n"
                    );
                    self.write(refusal.as_str().as_bytes())?;
                    if !self.waiting {
                        self.write(PROMPT)?;
                    }
                    return Ok(());
                };
                // A line starting with `#` is a comment: echoed, never sent.
                if self.waiting || line::is_comment_or_empty(line.as_str()) {
                    if !self.waiting {
                        self.write(PROMPT)?;
                    }
                    return Ok(());
                }
                if files::is_file_command(line.as_str()) {
                    self.run_file_command(line.as_str())?;
                    self.write(PROMPT)?;
                    return Ok(());
                }
                self.waiting = true;
                self.help_follows = line.as_str().trim() == "help";
                if let Err(error) = self.supervisor.send(line.as_str().as_bytes()) {
                    self.waiting = false;
                    cella_sdk::warn!("supervisor unreachable: {}", error);
                    self.write(b"error: the supervisor did not take the command\r\n")?;
                    self.write(PROMPT)?;
                }
                Ok(())
            }
        }
    }
}
