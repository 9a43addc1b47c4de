//! The shell's network commands, `ifconfig` and `get`: calls to the `net`
//! endpoint's and the `sockets` endpoint's typed interfaces
//! (`cella_sdk::interfaces::{net, sockets}`). No host calls here: the calls
//! go through [`NetworkServers`], so the commands are tested on the host
//! against in-memory servers.
//!
//! `ifconfig` is answered at once. `get` is an HTTP/1.0 GET over one TCP
//! connection; since `sockets` never waits, it is a [`Get`] the shell
//! advances one [`Get::step`] at a time on its timer until the answer has
//! ended, failed or timed out, and the socket is closed in every case.
//! `ping` ([`crate::ping`]) is advanced the same way ([`Running`]).

use cella_sdk::interfaces::net::{self, MacText, NetError};
use cella_sdk::interfaces::sockets::{self, Handle, Ipv4, MAX_TRANSFER_BYTES, SocketError};
use cella_sdk::interfaces::wire::{Wire, WireError};
use cella_sdk::{ErrorCode, TextBuffer};
use core::fmt::Write;

/// How long a `get` may take, from its connect to the end of the answer.
pub const GET_DEADLINE_MS: u64 = 10_000;
/// The most bytes of an answer's header (status line and fields).
pub const HEADER_BYTES: usize = 2048;
/// The most `receive` calls one step makes while bytes keep arriving.
const RECEIVES_PER_STEP: usize = 8;
/// The request: `GET PATH HTTP/1.0`, a `Host` line and the blank line.
const REQUEST_BYTES: usize = crate::line::LINE_BYTES + 96;
/// The request and answer buffers' size: one message.
const MESSAGE: usize = cella_sdk::MAX_MESSAGE_BYTES as usize;

/// The servers the network commands call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// The network card's driver (`net`).
    Net,
    /// The TCP/IP server (`sockets`).
    Sockets,
}

/// How the shell reaches the network's servers: one call, answered.
pub trait NetworkServers {
    /// Sends `request` to `server` and returns the answer's part of `reply`.
    ///
    /// # Errors
    /// The call's failure (`Closed` when that server does not run).
    fn call<'r>(
        &self,
        server: Server,
        request: &[u8],
        reply: &'r mut [u8],
    ) -> Result<&'r [u8], ErrorCode>;
}

/// Why a network command failed, as the shell prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The TCP/IP server's answer.
    Socket(SocketError),
    /// The network driver's answer.
    Net(NetError),
    /// The call to a server failed.
    Call(Server, ErrorCode),
    /// A request or answer did not encode or decode.
    Wire(WireError),
    /// The command line was wrong; the text says how to use it.
    Usage(&'static str),
    /// The target is not `HOST:PORT`.
    BadTarget,
    /// The peer closed the connection without sending a byte.
    NoAnswer,
    /// The answer's first line is not an HTTP status line.
    NotHttp,
    /// The answer's header is longer than [`HEADER_BYTES`].
    HeaderTooLong,
    /// The connection ended inside the answer's header.
    HeaderCut,
    /// The connection was not established within [`GET_DEADLINE_MS`].
    Unanswered,
    /// The answer did not end within [`GET_DEADLINE_MS`]; the bytes that
    /// arrived.
    Deadline { received: u64 },
    /// `ping -c` with a count out of range.
    BadCount,
    /// The target of `ping` is not `HOST` or `HOST:PORT`.
    BadPingTarget,
}

impl core::fmt::Display for Failure {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = |server: &Server| match server {
            Server::Net => "the network driver (`net`)",
            Server::Sockets => "the TCP/IP server (`sockets`)",
        };
        match self {
            Failure::Socket(SocketError::NoAddress) => {
                out.write_str("no address yet (DHCP has not answered)")
            }
            Failure::Socket(error) => write!(out, "{error}"),
            Failure::Net(error) => write!(out, "{error}"),
            Failure::Call(server, ErrorCode::Closed) => {
                write!(out, "{} is not running", name(server))
            }
            Failure::Call(server, ErrorCode::TimedOut) => {
                write!(out, "{} did not answer", name(server))
            }
            Failure::Call(server, error) => {
                write!(out, "the call to {} failed: {error}", name(server))
            }
            Failure::Wire(error) => write!(out, "an answer made no sense: {error}"),
            Failure::Usage(usage) => write!(out, "usage: {usage}"),
            Failure::BadTarget => out.write_str(
                "not HOST:PORT (an IPv4 address and a port from 1 to 65535, as in 10.0.2.2:80)",
            ),
            Failure::NoAnswer => {
                out.write_str("the server closed the connection without answering")
            }
            Failure::NotHttp => out.write_str("the answer is not HTTP (no `HTTP/` status line)"),
            Failure::HeaderTooLong => {
                write!(
                    out,
                    "the answer's header is longer than {HEADER_BYTES} bytes"
                )
            }
            Failure::HeaderCut => out.write_str("the connection ended inside the answer's header"),
            Failure::Unanswered => write!(
                out,
                "no connection within {} s (the address did not answer)",
                GET_DEADLINE_MS / 1000
            ),
            Failure::Deadline { received } => write!(
                out,
                "the answer did not end within {} s ({received} bytes arrived)",
                GET_DEADLINE_MS / 1000
            ),
            Failure::BadCount => {
                write!(out, "-c takes a count from 1 to {}", crate::ping::MAX_COUNT)
            }
            Failure::BadPingTarget => out.write_str(
                "not HOST or HOST:PORT (an IPv4 address, with the port of a UDP echo \
                 service from 1 to 65535, as in 10.0.2.2 or 10.0.2.2:7)",
            ),
        }
    }
}

impl From<WireError> for Failure {
    fn from(error: WireError) -> Failure {
        Failure::Wire(error)
    }
}

impl From<SocketError> for Failure {
    fn from(error: SocketError) -> Failure {
        Failure::Socket(error)
    }
}

impl From<NetError> for Failure {
    fn from(error: NetError) -> Failure {
        Failure::Net(error)
    }
}

/// Whether `line` is a network command (its first word names one).
pub fn is_network_command(line: &str) -> bool {
    matches!(
        line.split_whitespace().next(),
        Some("ifconfig" | "get" | "ping")
    )
}

/// The network commands' lines of `help`.
pub const HELP: &str = "network commands (the `net` and `sockets` servers):\r\n  \
ifconfig           the link (MAC, MTU, up or down) and the IPv4 address\r\n  \
get HOST:PORT PATH an HTTP/1.0 GET: the status line, the body's size and FNV-1a\r\n  \
ping [-c N] HOST   N ICMP echo round trips (4 unless -c; HOST:PORT: UDP echo)\r\n";

/// An answer, in a buffer of its own.
pub(crate) struct Answer {
    buffer: [u8; MESSAGE],
    length: usize,
}

impl Answer {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buffer[..self.length]
    }
}

/// Encodes a request with `encode` and calls `server` with it.
pub(crate) fn ask(
    servers: &impl NetworkServers,
    server: Server,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Result<Answer, Failure> {
    let mut request = [0u8; MESSAGE];
    let length = encode(&mut request)?;
    let mut answer = Answer {
        buffer: [0; MESSAGE],
        length: 0,
    };
    answer.length = servers
        .call(server, &request[..length], &mut answer.buffer)
        .map_err(|error| Failure::Call(server, error))?
        .len();
    Ok(answer)
}

/// `ifconfig`: two lines, `link: MAC, MTU N, up|down` and `address: ...`;
/// a server that cannot answer gets `error: WHY` on its line.
pub fn ifconfig(servers: &impl NetworkServers, print: &mut impl FnMut(&[u8])) {
    let mut text = TextBuffer::<160>::new();
    let link = ask(servers, Server::Net, net::info::request)
        .and_then(|answer| Ok(net::info::reply(answer.bytes())??));
    let _ = match link {
        Ok(info) => write!(
            text,
            "link: {}, MTU {}, {}\r\n",
            MacText(info.mac),
            info.mtu,
            if info.link_up { "up" } else { "down" }
        ),
        Err(failure) => write!(text, "link: error: {failure}\r\n"),
    };
    print(text.as_bytes());
    text.clear();
    let address = ask(servers, Server::Sockets, sockets::address::request)
        .and_then(|answer| Ok(sockets::address::reply(answer.bytes())??));
    let _ = match address {
        Ok(configuration) => write!(text, "address: {configuration}\r\n"),
        Err(failure) => write!(text, "address: error: {failure}\r\n"),
    };
    print(text.as_bytes());
}

/// Reads `HOST:PORT`: an IPv4 address and a port from 1 to 65,535.
pub fn parse_target(word: &str) -> Result<(Ipv4, u16), Failure> {
    let (host, port) = word.split_once(':').ok_or(Failure::BadTarget)?;
    let address = Ipv4::from_text(host).ok_or(Failure::BadTarget)?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Failure::BadTarget);
    }
    match port.parse::<u16>() {
        Ok(port) if port != 0 => Ok((address, port)),
        _ => Err(Failure::BadTarget),
    }
}

/// The FNV-1a checksum of `bytes`, continued from `hash` (start with
/// [`FNV_START`]).
pub fn fnv1a(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// The FNV-1a checksum of no bytes.
pub const FNV_START: u32 = 0x811c_9dc5;

/// Where a [`Get`] is after a step.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Not done: step again later.
    Pending,
    /// Done, the socket closed: printed, or why not.
    Finished(Result<(), Failure>),
}

/// One `get` under way: its connection, the request still to send, and
/// the answer's header and body as they arrive.
pub struct Get {
    socket: Handle,
    request: TextBuffer<REQUEST_BYTES>,
    sent: usize,
    header: [u8; HEADER_BYTES],
    header_length: usize,
    header_done: bool,
    body_bytes: u64,
    checksum: u32,
    deadline_ms: u64,
}

impl Get {
    /// Reads `get HOST:PORT PATH` and starts the connection at `now_ms`.
    ///
    /// # Errors
    /// A wrong line, or the connect's refusal (`no address yet`, no
    /// sockets left, ...); nothing is left open.
    pub fn start(servers: &impl NetworkServers, line: &str, now_ms: u64) -> Result<Get, Failure> {
        const USAGE: &str = "get HOST:PORT PATH (PATH starts with /)";
        let mut words = line.split_whitespace();
        if words.next() != Some("get") {
            return Err(Failure::Usage(USAGE));
        }
        let (Some(target), Some(path), None) = (words.next(), words.next(), words.next()) else {
            return Err(Failure::Usage(USAGE));
        };
        let (address, port) = parse_target(target)?;
        if !path.starts_with('/') || path.bytes().any(|byte| byte.is_ascii_control()) {
            return Err(Failure::Usage(USAGE));
        }
        let mut request = TextBuffer::<REQUEST_BYTES>::new();
        let _ = write!(
            request,
            "GET {path} HTTP/1.0\r\nHost: {target}\r\nConnection: close\r\n\r\n"
        );
        if request.truncated() {
            return Err(Failure::Usage(USAGE));
        }
        let answer = ask(servers, Server::Sockets, |buffer| {
            sockets::connect::request(buffer, address, port)
        })?;
        let socket = sockets::connect::reply(answer.bytes())??;
        Ok(Get {
            socket,
            request,
            sent: 0,
            header: [0; HEADER_BYTES],
            header_length: 0,
            header_done: false,
            body_bytes: 0,
            checksum: FNV_START,
            deadline_ms: now_ms.saturating_add(GET_DEADLINE_MS),
        })
    }

    /// Sends what the connection takes of the request and takes what
    /// arrived; at the end of the answer prints the status line and
    /// `body: N bytes, FNV-1a 0xHASH`. A finished step has closed the
    /// socket.
    pub fn step(
        &mut self,
        servers: &impl NetworkServers,
        now_ms: u64,
        print: &mut impl FnMut(&[u8]),
    ) -> Step {
        let outcome = match self.advance(servers) {
            Ok(false) if now_ms < self.deadline_ms => return Step::Pending,
            // `send` takes nothing before the connection is established.
            Ok(false) if self.sent == 0 => Err(Failure::Unanswered),
            Ok(false) => Err(Failure::Deadline {
                received: self.header_length as u64 + self.body_bytes,
            }),
            Ok(true) => self.report(print),
            Err(failure) => Err(failure),
        };
        self.close(servers);
        Step::Finished(outcome)
    }

    /// Ends the connection without an answer (the shell is going away).
    pub fn close(&self, servers: &impl NetworkServers) {
        let _ = ask(servers, Server::Sockets, |buffer| {
            sockets::close::request(buffer, self.socket)
        });
    }

    /// One round of sending and receiving; whether the stream ended.
    fn advance(&mut self, servers: &impl NetworkServers) -> Result<bool, Failure> {
        if self.sent < self.request.len() {
            let rest = &self.request.as_bytes()[self.sent..];
            let answer = ask(servers, Server::Sockets, |buffer| {
                sockets::send::request(buffer, self.socket, rest)
            })?;
            let took = sockets::send::reply(answer.bytes())??;
            self.sent += (took.length as usize).min(rest.len());
        }
        for _ in 0..RECEIVES_PER_STEP {
            let answer = ask(servers, Server::Sockets, |buffer| {
                sockets::receive::request(buffer, self.socket, MAX_TRANSFER_BYTES as u32)
            })?;
            let received = sockets::receive::reply(answer.bytes())??;
            if received.end {
                return Ok(true);
            }
            if received.bytes.is_empty() {
                return Ok(false);
            }
            self.take(received.bytes)?;
        }
        Ok(false)
    }

    /// Adds arrived bytes to the header until its blank line, then to the
    /// body's count and checksum.
    fn take(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let mut rest = bytes;
        while !self.header_done {
            let Some((&byte, after)) = rest.split_first() else {
                return Ok(());
            };
            rest = after;
            if self.header_length == HEADER_BYTES {
                return Err(Failure::HeaderTooLong);
            }
            self.header[self.header_length] = byte;
            self.header_length += 1;
            if self.header_length == 5 && &self.header[..5] != b"HTTP/" {
                return Err(Failure::NotHttp);
            }
            self.header_done = self.header[..self.header_length].ends_with(b"\r\n\r\n");
        }
        self.body_bytes += rest.len() as u64;
        self.checksum = fnv1a(self.checksum, rest);
        Ok(())
    }

    /// The result's two lines, or why the answer is not one.
    fn report(&self, print: &mut impl FnMut(&[u8])) -> Result<(), Failure> {
        if self.header_length == 0 {
            return Err(Failure::NoAnswer);
        }
        if self.header_length < 5 {
            return Err(Failure::NotHttp);
        }
        if !self.header_done {
            return Err(Failure::HeaderCut);
        }
        let header = &self.header[..self.header_length];
        let end = header
            .windows(2)
            .position(|pair| pair == b"\r\n")
            .unwrap_or(0);
        let mut text = TextBuffer::<{ HEADER_BYTES + 80 }>::new();
        for &byte in &header[..end] {
            let _ = text.write_char(if byte.is_ascii_graphic() || byte == b' ' {
                char::from(byte)
            } else {
                '.'
            });
        }
        let _ = write!(
            text,
            "\r\nbody: {} bytes, FNV-1a {:#010x}\r\n",
            self.body_bytes, self.checksum
        );
        print(text.as_bytes());
        Ok(())
    }
}

/// A network command under way on the shell's timer.
#[expect(
    clippy::large_enum_variant,
    reason = "the shell has no heap; one command is held at a time, in the shell's state"
)]
pub enum Running {
    Get(Get),
    Ping(crate::ping::Ping),
}

impl Running {
    /// Starts `get` or `ping` at `now_us`; `token` tells one ping's answers
    /// from another's.
    ///
    /// # Errors
    /// The command's refusal; nothing is left open.
    pub fn start(
        servers: &impl NetworkServers,
        line: &str,
        now_us: u64,
        token: u64,
    ) -> Result<Running, Failure> {
        if line.split_whitespace().next() == Some("ping") {
            crate::ping::Ping::start(servers, line, now_us, token).map(Running::Ping)
        } else {
            Get::start(servers, line, now_us / 1000).map(Running::Get)
        }
    }

    /// One step at `now_us`; a finished step has closed the socket.
    pub fn step(
        &mut self,
        servers: &impl NetworkServers,
        now_us: u64,
        print: &mut impl FnMut(&[u8]),
    ) -> Step {
        match self {
            Running::Get(get) => get.step(servers, now_us / 1000, print),
            Running::Ping(ping) => ping.step(servers, now_us, print),
        }
    }

    /// Ends the command without its result.
    pub fn close(&self, servers: &impl NetworkServers) {
        match self {
            Running::Get(get) => get.close(servers),
            Running::Ping(ping) => ping.close(servers),
        }
    }

    /// The time between two steps, in microseconds.
    pub fn step_us(&self) -> u64 {
        match self {
            Running::Get(_) => GET_STEP_US,
            Running::Ping(_) => crate::ping::STEP_US,
        }
    }
}

/// The time between two steps of a `get`, in microseconds.
pub const GET_STEP_US: u64 = 2000;

#[cfg(test)]
pub(crate) mod tests;
