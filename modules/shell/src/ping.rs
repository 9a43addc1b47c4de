//! The shell's `ping`: echo round trips through the `sockets` server.
//!
//! `ping HOST` sends ICMP echo requests (an echo socket of `sockets`);
//! `ping HOST:PORT` sends UDP datagrams to an echo service on that port
//! (RFC 862) and waits for them to come back. One request goes out a
//! second, each waits [`ANSWER_MS`] for its answer, and the shell looks
//! for answers on its timer ([`Ping::step`], every [`STEP_US`]), so a time
//! is the round trip rounded up to the next look. Every payload carries
//! its sequence number and the ping's own token, so an answer is counted
//! only for the request it answers, and the socket is closed in every
//! case.

use crate::network::{Failure, NetworkServers, Server, Step, ask, parse_target};
use cella_sdk::TextBuffer;
use cella_sdk::interfaces::sockets::{self, Handle, Ipv4};
use cella_sdk::interfaces::wire::Wire;
use core::fmt::{self, Write};

/// Requests `ping` sends without `-c`.
pub const DEFAULT_COUNT: u16 = 4;
/// The most requests one `ping` sends.
pub const MAX_COUNT: u16 = 100;
/// How long a request waits for its answer, and the time between two
/// requests.
pub const ANSWER_MS: u64 = 1000;
/// Payload bytes of a request (ICMP adds its 8-byte header).
pub const PAYLOAD_BYTES: usize = 56;
/// How often the shell looks for answers, in microseconds.
pub const STEP_US: u64 = 1000;
/// The most answers one step takes.
const ANSWERS_PER_STEP: usize = 8;
/// The usage line.
pub const USAGE: &str = "ping [-c COUNT] HOST[:PORT] (HOST an IPv4 address; with :PORT, \
     UDP to an echo service; COUNT 1 to 100)";

/// What a ping sends its requests with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// ICMP echo requests.
    Icmp,
    /// UDP datagrams to an echo service's port.
    Udp(u16),
}

/// What `ping` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub address: Ipv4,
    pub transport: Transport,
    pub count: u16,
}

/// Reads `ping [-c COUNT] HOST[:PORT]` (`-c COUNT` before or after the
/// target).
///
/// # Errors
/// A wrong line: usage, a count out of range, a bad target.
pub fn parse(line: &str) -> Result<Request, Failure> {
    let mut words = line.split_whitespace();
    if words.next() != Some("ping") {
        return Err(Failure::Usage(USAGE));
    }
    let mut count = None;
    let mut target = None;
    while let Some(word) = words.next() {
        if word == "-c" {
            let value = words.next().ok_or(Failure::Usage(USAGE))?;
            let parsed = match value.parse::<u16>() {
                Ok(number) if (1..=MAX_COUNT).contains(&number) && value.len() <= 3 => number,
                _ => return Err(Failure::BadCount),
            };
            if count.replace(parsed).is_some() {
                return Err(Failure::Usage(USAGE));
            }
        } else if word.starts_with('-') || target.replace(word).is_some() {
            return Err(Failure::Usage(USAGE));
        }
    }
    let target = target.ok_or(Failure::Usage(USAGE))?;
    let (address, transport) = if target.contains(':') {
        let (address, port) = parse_target(target).map_err(|_| Failure::BadPingTarget)?;
        (address, Transport::Udp(port))
    } else {
        let address = Ipv4::from_text(target).ok_or(Failure::BadPingTarget)?;
        (address, Transport::Icmp)
    };
    Ok(Request {
        address,
        transport,
        count: count.unwrap_or(DEFAULT_COUNT),
    })
}

/// A time in microseconds, written in milliseconds with one decimal.
pub struct Milliseconds(pub u64);

impl fmt::Display for Milliseconds {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = self.0.div_ceil(100);
        write!(out, "{}.{}", tenths / 10, tenths % 10)
    }
}

/// The payload of request `sequence` of the ping with `token`: the
/// sequence number, the token, then a pattern.
pub fn payload(sequence: u16, token: u64) -> [u8; PAYLOAD_BYTES] {
    let mut bytes = [0u8; PAYLOAD_BYTES];
    bytes[..2].copy_from_slice(&sequence.to_be_bytes());
    bytes[2..10].copy_from_slice(&token.to_be_bytes());
    for (index, byte) in bytes.iter_mut().enumerate().skip(10) {
        *byte = index as u8;
    }
    bytes
}

/// The round trips' counts and times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub sent: u16,
    pub received: u16,
    pub min_us: u64,
    pub max_us: u64,
    pub total_us: u64,
}

impl Summary {
    fn record(&mut self, time_us: u64) {
        if self.received == 0 || time_us < self.min_us {
            self.min_us = time_us;
        }
        self.max_us = self.max_us.max(time_us);
        self.total_us += time_us;
        self.received += 1;
    }
}

impl fmt::Display for Summary {
    /// `4 sent, 3 received, 25% loss; time min/avg/max 0.8/1.1/1.9 ms`.
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lost = self.sent.saturating_sub(self.received);
        let loss = (u32::from(lost) * 100)
            .checked_div(u32::from(self.sent))
            .unwrap_or(0);
        write!(
            out,
            "{} sent, {} received, {loss}% loss",
            self.sent, self.received
        )?;
        if self.received > 0 {
            let average = self.total_us / u64::from(self.received);
            write!(
                out,
                "; time min/avg/max {}/{}/{} ms",
                Milliseconds(self.min_us),
                Milliseconds(average),
                Milliseconds(self.max_us)
            )?;
        }
        Ok(())
    }
}

/// The request waiting for its answer.
#[derive(Clone, Copy)]
struct Outstanding {
    sequence: u16,
    sent_us: u64,
}

/// An answer that arrived: from where, for which sequence number, whether
/// its payload is the one sent, and its size as shown.
struct Answer {
    address: Ipv4,
    port: u16,
    sequence: u16,
    intact: bool,
    bytes: usize,
}

/// One `ping` under way.
pub struct Ping {
    request: Request,
    socket: Handle,
    token: u64,
    outstanding: Option<Outstanding>,
    next_send_us: u64,
    summary: Summary,
    announced: bool,
}

impl Ping {
    /// Reads the line, opens the socket and sends the first request at
    /// `now_us`; `token` tells this ping's answers from another's.
    ///
    /// # Errors
    /// A wrong line, or the server's refusal (no address yet, no sockets
    /// left, no route); nothing is left open.
    pub fn start(
        servers: &impl NetworkServers,
        line: &str,
        now_us: u64,
        token: u64,
    ) -> Result<Ping, Failure> {
        let request = parse(line)?;
        let answer = match request.transport {
            Transport::Icmp => ask(servers, Server::Sockets, sockets::open_echo::request)?,
            Transport::Udp(_) => ask(servers, Server::Sockets, |buffer| {
                sockets::bind::request(buffer, 0)
            })?,
        };
        let socket = match request.transport {
            Transport::Icmp => sockets::open_echo::reply(answer.bytes())??,
            Transport::Udp(_) => sockets::bind::reply(answer.bytes())??,
        };
        let mut ping = Ping {
            request,
            socket,
            token,
            outstanding: None,
            next_send_us: now_us,
            summary: Summary::default(),
            announced: false,
        };
        if let Err(failure) = ping.send(servers, now_us) {
            ping.close(servers);
            return Err(failure);
        }
        Ok(ping)
    }

    /// What was asked.
    pub fn request(&self) -> Request {
        self.request
    }

    /// The counts so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Takes the answers that arrived, reports a request unanswered in
    /// time, sends the next one when due; at the end prints the summary.
    /// A finished step has closed the socket.
    pub fn step(
        &mut self,
        servers: &impl NetworkServers,
        now_us: u64,
        print: &mut impl FnMut(&[u8]),
    ) -> Step {
        let outcome = match self.advance(servers, now_us, print) {
            Ok(false) => return Step::Pending,
            Ok(true) => {
                let mut text = TextBuffer::<160>::new();
                let _ = write!(text, "{}: {}\r\n", Target(&self.request), self.summary);
                print(text.as_bytes());
                Ok(())
            }
            Err(failure) => Err(failure),
        };
        self.close(servers);
        Step::Finished(outcome)
    }

    /// Closes the socket (the ping ends, or the shell is going away).
    pub fn close(&self, servers: &impl NetworkServers) {
        let _ = ask(servers, Server::Sockets, |buffer| {
            sockets::close::request(buffer, self.socket)
        });
    }

    /// One round; whether the ping is done.
    fn advance(
        &mut self,
        servers: &impl NetworkServers,
        now_us: u64,
        print: &mut impl FnMut(&[u8]),
    ) -> Result<bool, Failure> {
        let mut text = TextBuffer::<160>::new();
        if !self.announced {
            self.announced = true;
            let what = match (self.request.transport, self.request.count) {
                (Transport::Icmp, 1) => "ICMP echo request",
                (Transport::Icmp, _) => "ICMP echo requests",
                (Transport::Udp(_), 1) => "UDP datagram",
                (Transport::Udp(_), _) => "UDP datagrams",
            };
            let _ = write!(
                text,
                "ping {}: {} {what} of {PAYLOAD_BYTES} bytes, {} ms apart\r\n",
                Target(&self.request),
                self.request.count,
                ANSWER_MS
            );
            print(text.as_bytes());
        }
        for _ in 0..ANSWERS_PER_STEP {
            let Some(answer) = self.receive(servers)? else {
                break;
            };
            let Some(outstanding) = self.outstanding else {
                continue;
            };
            let port_matches = match self.request.transport {
                Transport::Icmp => true,
                Transport::Udp(port) => answer.port == port,
            };
            if answer.address != self.request.address
                || !port_matches
                || answer.sequence != outstanding.sequence
                || !answer.intact
            {
                continue;
            }
            self.outstanding = None;
            let time_us = now_us.saturating_sub(outstanding.sent_us);
            self.summary.record(time_us);
            text.clear();
            let _ = write!(
                text,
                "{} bytes from {}: seq {} time {} ms\r\n",
                answer.bytes,
                Target(&self.request),
                answer.sequence,
                Milliseconds(time_us)
            );
            print(text.as_bytes());
        }
        if let Some(outstanding) = self.outstanding
            && now_us >= outstanding.sent_us.saturating_add(ANSWER_MS * 1000)
        {
            self.outstanding = None;
            text.clear();
            let _ = write!(
                text,
                "ping: {}: no answer in {ANSWER_MS} ms (seq {})\r\n",
                Target(&self.request),
                outstanding.sequence
            );
            print(text.as_bytes());
        }
        if self.outstanding.is_some() {
            return Ok(false);
        }
        if self.summary.sent >= self.request.count {
            return Ok(true);
        }
        if now_us >= self.next_send_us {
            self.send(servers, now_us)?;
        }
        Ok(false)
    }

    /// Sends the next request.
    fn send(&mut self, servers: &impl NetworkServers, now_us: u64) -> Result<(), Failure> {
        let sequence = self.summary.sent + 1;
        let bytes = payload(sequence, self.token);
        let address = self.request.address;
        let answer = match self.request.transport {
            Transport::Icmp => ask(servers, Server::Sockets, |buffer| {
                sockets::send_echo::request(buffer, self.socket, address, sequence, &bytes)
            })?,
            Transport::Udp(port) => ask(servers, Server::Sockets, |buffer| {
                sockets::send_to::request(buffer, self.socket, address, port, &bytes)
            })?,
        };
        match self.request.transport {
            Transport::Icmp => sockets::send_echo::reply(answer.bytes())??,
            Transport::Udp(_) => sockets::send_to::reply(answer.bytes())??,
        };
        self.summary.sent = sequence;
        self.outstanding = Some(Outstanding {
            sequence,
            sent_us: now_us,
        });
        self.next_send_us = now_us.saturating_add(ANSWER_MS * 1000);
        Ok(())
    }

    /// The oldest answer that arrived, if any.
    fn receive(&self, servers: &impl NetworkServers) -> Result<Option<Answer>, Failure> {
        let response = match self.request.transport {
            Transport::Icmp => ask(servers, Server::Sockets, |buffer| {
                sockets::receive_echo::request(buffer, self.socket)
            })?,
            Transport::Udp(_) => ask(servers, Server::Sockets, |buffer| {
                sockets::receive_from::request(buffer, self.socket)
            })?,
        };
        let answer = match self.request.transport {
            Transport::Icmp => {
                sockets::receive_echo::reply(response.bytes())??.map(|echo| Answer {
                    address: echo.address,
                    port: 0,
                    sequence: echo.sequence,
                    intact: echo.bytes == payload(echo.sequence, self.token),
                    bytes: echo.bytes.len() + 8,
                })
            }
            Transport::Udp(_) => sockets::receive_from::reply(response.bytes())??.map(|datagram| {
                let sequence = match datagram.bytes {
                    [high, low, ..] => u16::from_be_bytes([*high, *low]),
                    _ => 0,
                };
                Answer {
                    address: datagram.address,
                    port: datagram.port,
                    sequence,
                    intact: datagram.bytes == payload(sequence, self.token),
                    bytes: datagram.bytes.len(),
                }
            }),
        };
        Ok(answer)
    }
}

/// The target as typed: `10.0.2.2` or `10.0.2.2:7`.
struct Target<'a>(&'a Request);

impl fmt::Display for Target<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.transport {
            Transport::Icmp => write!(out, "{}", self.0.address),
            Transport::Udp(port) => write!(out, "{}:{port}", self.0.address),
        }
    }
}

#[cfg(test)]
mod tests;
