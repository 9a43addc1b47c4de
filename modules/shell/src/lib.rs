//! shell: Cella's console shell — line editing on the console's input, commands sent to the kernel's supervisor, answers printed through the UART.
//!
//! It serves the `console` endpoint (typed text from the UART and keyboard
//! drivers, as `input` messages of the typed interface
//! `cella_sdk::interfaces::console`) and sends to `uart` (the terminal, as
//! `write` messages of `cella_sdk::interfaces::uart`); a message that is not
//! one of the console interface's is refused with a warning and the shell
//! goes on. Typing echoes; backspace erases; Enter calls `run` with the line
//! on the kernel's typed `supervisor` interface, whose reply, when the
//! command ends, is its answer ([`answer`]); a longer answer comes on page
//! by page (`report_page`), and the prompt comes back when the whole answer
//! has been printed. Keys typed meanwhile are echoed and edited, and a line
//! entered meanwhile is dropped, not run. The first prompt waits for the kernel's notice that the boot is
//! done, and the same notice after kernel output (a log line) draws the
//! prompt and the half-typed line again below it. A line longer than
//! [`line::LINE_BYTES`] is refused whole. The commands themselves (`help`
//! lists them) are the supervisor's, so the shell stays small and cannot do
//! anything its grants do not allow. The file commands (`ls`, `cat`,
//! `write`, `mkdir`, `rm`, `df`; [`files`]) are the shell's own: it calls
//! the `fs` server for them, waiting for each answer in the handler. So are
//! the network commands (`ifconfig`, `get`, `ping`; [`network`], [`ping`]),
//! on the `net` and `sockets` servers: a `get` or `ping` is advanced on the
//! shell's timer, one step an event, and the prompt comes back when it is
//! done.
#![no_std]
#![forbid(unsafe_code)]

pub mod answer;
pub mod files;
pub mod line;
pub mod network;
pub mod ping;

use answer::Next;
use cella_sdk::interfaces::{console, supervisor, uart};
use cella_sdk::{
    CallId, Endpoint, ErrorCode, Handle, MAX_MESSAGE_BYTES, Message, Module, Reply, Result,
    TextBuffer, Timer,
};
use core::fmt::Write;
use line::{Action, LINE_BYTES, LineEditor};

cella_sdk::module! {
    name: "shell",
    version: "1.0.0",
    module: Shell,
    capabilities: {
        uart: endpoint("uart"),
        supervisor: endpoint("supervisor"),
        fs: endpoint("fs"),
        net: endpoint("net"),
        sockets: endpoint("sockets"),
        timer: timer(),
    },
}

const MESSAGE: usize = MAX_MESSAGE_BYTES as usize;
/// An encoded request's length, or why it could not be encoded.
type WireResult = core::result::Result<usize, cella_sdk::interfaces::wire::WireError>;
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

/// How long a network command waits for each answer of `net` or `sockets`.
const NETWORK_DEADLINE_MILLISECONDS: u32 = 2_000;

/// The network's servers, called and waited for in the handler.
struct NetworkEndpoints<'a> {
    net: &'a Endpoint,
    sockets: &'a Endpoint,
}

impl network::NetworkServers for NetworkEndpoints<'_> {
    fn call<'r>(
        &self,
        server: network::Server,
        request: &[u8],
        reply: &'r mut [u8],
    ) -> core::result::Result<&'r [u8], ErrorCode> {
        let endpoint = match server {
            network::Server::Net => self.net,
            network::Server::Sockets => self.sockets,
        };
        endpoint.call_and_wait(request, NETWORK_DEADLINE_MILLISECONDS, reply)
    }
}

/// Echo collected while one typed message is handled: one `write`'s worth.
struct Echoed {
    bytes: [u8; uart::MAX_WRITE_BYTES],
    length: usize,
}

/// The shell's state between events.
pub struct Shell {
    uart: Endpoint,
    supervisor: Endpoint,
    fs: Endpoint,
    net: Endpoint,
    sockets: Endpoint,
    timer: Timer,
    /// The `get` or `ping` under way, advanced on the timer: its name and
    /// target.
    running: Option<(network::Running, TextBuffer<LINE_BYTES>)>,
    editor: LineEditor,
    /// A command was sent and its answer is not complete yet.
    waiting: bool,
    /// The call whose reply is the next piece of the command's answer.
    command: Option<CallId>,
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
            net: capabilities.net,
            sockets: capabilities.sockets,
            timer: capabilities.timer,
            running: None,
            editor: LineEditor::new(),
            waiting: false,
            command: None,
            help_follows: false,
        };
        Ok(shell)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut handling = Handling {
            shell: self,
            outcome: Ok(()),
        };
        message.accept(|request, reply| console::serve(&mut handling, request, reply))?;
        handling.outcome
    }

    /// A piece of a command's answer. A reply to another call than the one
    /// awaited is dropped; a new version after a hot swap awaits none and
    /// takes the reply to its predecessor's call.
    fn on_reply(&mut self, reply: Reply) -> Result<()> {
        if self.command.is_some_and(|call| call != reply.call()) {
            cella_sdk::warn!(
                "an answer to call {} nobody waits for; dropped",
                reply.call().raw()
            );
            return Ok(());
        }
        self.command = None;
        let mut buffer = [0u8; MESSAGE];
        let mut printed = Ok(());
        let next = answer::take(reply.read(&mut buffer), &mut |bytes| {
            if printed.is_ok() {
                printed = self.write(bytes);
            }
        });
        let asked = match next {
            Next::Page(page) => {
                self.ask_supervisor(|request| supervisor::report_page::request(request, page))
            }
            Next::Done => false,
        };
        if asked {
            return printed;
        }
        let ended = self.end_answer();
        printed.and(ended)
    }

    fn on_timer(&mut self, timer: Handle) -> Result<()> {
        if !self.timer.is(timer) {
            return Ok(());
        }
        let Some((mut running, line)) = self.running.take() else {
            return Ok(());
        };
        let (command, target) = command_and_target(line.as_str());
        let servers = self.network_endpoints();
        let mut printed = Ok(());
        let step = running.step(&servers, now_microseconds(), &mut |bytes| {
            if printed.is_ok() {
                printed = self.write(bytes);
            }
        });
        match step {
            network::Step::Pending => match self.timer.set_after(running.step_us() * 1000) {
                Ok(()) => {
                    self.running = Some((running, line));
                    printed
                }
                Err(error) => {
                    // Without the timer the command cannot go on: end it now.
                    running.close(&servers);
                    let failure = network::Failure::Call(network::Server::Sockets, error);
                    let shown = self.network_failure(command, target, failure);
                    // The prompt comes back even when the output could not be printed.
                    let ended = self.end_wait();
                    printed.and(shown).and(ended)
                }
            },
            network::Step::Finished(result) => {
                let shown = match result {
                    Err(failure) => self.network_failure(command, target, failure),
                    Ok(()) => Ok(()),
                };
                let ended = self.end_wait();
                printed.and(shown).and(ended)
            }
        }
    }
}

/// The shell handling one `console` message, and what became of it.
struct Handling<'a> {
    shell: &'a mut Shell,
    outcome: Result<()>,
}

impl console::Server for Handling<'_> {
    fn input(&mut self, text: &str) {
        self.outcome = self.shell.typed(text.as_bytes());
    }

    fn redraw(&mut self) {
        self.outcome = self.shell.redraw();
    }
}

/// The monotonic clock in microseconds.
fn now_microseconds() -> u64 {
    cella_sdk::time::now() / 1_000
}

/// A network command line's name and target (`ping -c 3 10.0.2.2`: `ping`
/// and `10.0.2.2`).
fn command_and_target(line: &str) -> (&str, &str) {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or("");
    let mut target = "";
    while let Some(word) = words.next() {
        if word == "-c" {
            words.next();
        } else {
            target = word;
            break;
        }
    }
    (command, target)
}

impl Shell {
    /// Typed text: each key is edited and echoed, the echo in one message.
    fn typed(&mut self, typed: &[u8]) -> Result<()> {
        let mut echo = Echoed {
            bytes: [0; uart::MAX_WRITE_BYTES],
            length: 0,
        };
        for &byte in typed {
            self.key(byte, &mut echo)?;
        }
        self.flush(&mut echo)
    }

    /// The kernel printed on the terminal: the prompt and the half-typed
    /// line again, unless an answer is under way (the prompt follows it).
    fn redraw(&mut self) -> Result<()> {
        if self.waiting {
            return Ok(());
        }
        // `\r`: a prompt already on this line is drawn over, not repeated.
        self.write(b"\r")?;
        self.write(PROMPT)?;
        self.write(self.editor.line())
    }

    fn network_endpoints(&self) -> NetworkEndpoints<'_> {
        NetworkEndpoints {
            net: &self.net,
            sockets: &self.sockets,
        }
    }

    /// Runs a network command: `ifconfig` at once; `get` and `ping` started,
    /// then stepped on the timer with the prompt held back until they end.
    /// Whether the prompt may come now.
    fn run_network_command(&mut self, line: &str) -> Result<bool> {
        let command = line.split_whitespace().next().unwrap_or("");
        if command == "ifconfig" {
            if line.split_whitespace().nth(1).is_some() {
                self.write(b"error: ifconfig: usage: ifconfig\r\n")?;
                return Ok(true);
            }
            let mut printed = Ok(());
            network::ifconfig(&self.network_endpoints(), &mut |bytes| {
                if printed.is_ok() {
                    printed = self.write(bytes);
                }
            });
            printed?;
            return Ok(true);
        }
        let (command, target) = command_and_target(line);
        let token = cella_sdk::time::now();
        let started =
            network::Running::start(&self.network_endpoints(), line, now_microseconds(), token);
        let running = match started {
            Ok(running) => running,
            Err(failure) => {
                self.network_failure(command, target, failure)?;
                return Ok(true);
            }
        };
        if let Err(error) = self.timer.set_after(running.step_us() * 1000) {
            running.close(&self.network_endpoints());
            let failure = network::Failure::Call(network::Server::Sockets, error);
            self.network_failure(command, target, failure)?;
            return Ok(true);
        }
        let mut kept = TextBuffer::<LINE_BYTES>::new();
        kept.push_str(line);
        self.running = Some((running, kept));
        self.waiting = true;
        Ok(false)
    }

    /// `error: COMMAND TARGET: WHY` (`error: COMMAND: usage: ...`).
    fn network_failure(
        &self,
        command: &str,
        target: &str,
        failure: network::Failure,
    ) -> Result<()> {
        let mut text = TextBuffer::<{ LINE_BYTES + 160 }>::new();
        let _ = match failure {
            network::Failure::Usage(_) => write!(text, "error: {command}: {failure}\r\n"),
            _ => write!(text, "error: {command} {target}: {failure}\r\n"),
        };
        self.write(text.as_bytes())
    }

    /// Calls the supervisor with the request `encode` writes; the reply
    /// comes to [`Shell::on_reply`]. Whether the call is under way (if it
    /// could not be made, the error is printed).
    fn ask_supervisor(&mut self, encode: impl FnOnce(&mut [u8]) -> WireResult) -> bool {
        let mut request = [0u8; LINE_BYTES + 16];
        let called = match encode(&mut request) {
            Ok(length) => self.supervisor.call(
                request.get(..length).unwrap_or_default(),
                answer::COMMAND_DEADLINE_MILLISECONDS,
            ),
            Err(_) => Err(ErrorCode::TooLong),
        };
        match called {
            Ok(call) => {
                self.command = Some(call);
                true
            }
            Err(error) => {
                cella_sdk::warn!("supervisor unreachable: {}", error);
                answer::failed(answer::Failure::Call(error), &mut |bytes| {
                    let _ = self.write(bytes);
                });
                false
            }
        }
    }

    /// The command's answer is printed (or failed): `help`'s is followed by
    /// the shell's own commands, then the prompt and the half-typed line
    /// come back.
    fn end_answer(&mut self) -> Result<()> {
        if core::mem::take(&mut self.help_follows) {
            self.write(files::HELP.as_bytes())?;
            self.write(network::HELP.as_bytes())?;
        }
        self.end_wait()
    }

    /// A command that held the prompt back is done: the prompt and the
    /// half-typed line come back.
    fn end_wait(&mut self) -> Result<()> {
        self.waiting = false;
        self.write(PROMPT)?;
        self.write(self.editor.line())
    }

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

    /// Writes `bytes` on the terminal, in `write` messages of at most
    /// [`uart::MAX_WRITE_BYTES`].
    fn write(&self, bytes: &[u8]) -> Result<()> {
        for piece in bytes.chunks(uart::MAX_WRITE_BYTES) {
            let mut message = [0u8; MESSAGE];
            let length = uart::write::request(&mut message, uart::Bytes(piece))
                .map_err(|_| ErrorCode::BadArgument)?;
            match self.uart.send(message.get(..length).unwrap_or_default()) {
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
                if network::is_network_command(line.as_str()) {
                    if self.run_network_command(line.as_str())? {
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
                let asked =
                    self.ask_supervisor(|request| supervisor::run::request(request, line.as_str()));
                if !asked {
                    self.help_follows = false;
                    self.end_wait()?;
                }
                Ok(())
            }
        }
    }
}
