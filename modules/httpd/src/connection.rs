//! One accepted connection, moved along a step at a time: its request head
//! is read and parsed, an upload's body is read and hashed as it arrives,
//! and the answer (head, rendered body, then any download pattern) is sent
//! as fast as the connection takes it; then the socket is closed. One
//! request a connection: the answer says `Connection: close`, and bytes
//! after the request (a pipelined second one) are not read.
//!
//! Nothing a peer sends can make a step fail other than by closing the
//! connection: a head that does not read or is too long gets a 400; a
//! connection that moves no byte for [`IDLE_MS`] is closed; a peer that
//! closes or resets ends it; a `sockets` failure (the server restarted,
//! the handle is stale) ends it too.

use crate::request::{self, MAX_HEAD_BYTES, Parsed};
use crate::response::Status;
use crate::routing::{self, Answer, Route};
use crate::sockets::{Failure, Sockets};
use crate::supervisor_client::SupervisorServer;
use crate::transfer::{FNV_START, fnv1a};
use alloc::vec::Vec;
use cella_sdk::interfaces::sockets::{Handle, MAX_TRANSFER_BYTES};

/// A connection that moves no byte for this long is closed.
pub const IDLE_MS: u64 = 10_000;
/// The most `receive` or `send` calls one step makes on a connection, so
/// one busy connection does not hold the others back.
pub const CALLS_PER_STEP: usize = 16;
/// The scratch buffer a step reads into and makes download bytes in.
pub type Scratch = [u8; MAX_TRANSFER_BYTES];

/// Where a connection is. The answer is held in place rather than boxed:
/// a few hundred bytes a connection, and no allocation that could fail.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// Reading the request head.
    Head,
    /// Reading an upload's body: bytes still to come, bytes so far and
    /// their hash.
    Body { left: u64, total: u64, hash: u32 },
    /// Sending the answer: how much of its head and body went.
    Answer {
        answer: Answer,
        head_sent: usize,
        body_sent: usize,
    },
}

/// What a step came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still open; whether bytes moved in this step.
    Open { moved: bool },
    /// Done (answered, or ended); the socket is closed.
    Closed,
}

/// One connection and its request under way.
pub struct Connection {
    socket: Handle,
    /// The request head's bytes so far (at most [`MAX_HEAD_BYTES`]).
    head: Vec<u8>,
    phase: Phase,
    last_moved_ms: u64,
}

impl Connection {
    /// A connection accepted at `now_ms`.
    pub fn new(socket: Handle, now_ms: u64) -> Connection {
        Connection {
            socket,
            head: Vec::new(),
            phase: Phase::Head,
            last_moved_ms: now_ms,
        }
    }

    /// The connection's socket.
    pub fn socket(&self) -> Handle {
        self.socket
    }

    /// Moves the connection along as far as the socket allows now; a
    /// `Closed` outcome has closed the socket.
    pub fn step(
        &mut self,
        now_ms: u64,
        sockets: &mut impl Sockets,
        supervisor: &impl SupervisorServer,
        scratch: &mut Scratch,
    ) -> Outcome {
        match self.advance(sockets, supervisor, scratch) {
            Ok(Progress::Moved) => {
                self.last_moved_ms = now_ms;
                Outcome::Open { moved: true }
            }
            Ok(Progress::Waiting) if now_ms.saturating_sub(self.last_moved_ms) < IDLE_MS => {
                Outcome::Open { moved: false }
            }
            Ok(Progress::Waiting | Progress::Finished) | Err(_) => {
                sockets.close(self.socket);
                Outcome::Closed
            }
        }
    }

    fn advance(
        &mut self,
        sockets: &mut impl Sockets,
        supervisor: &impl SupervisorServer,
        scratch: &mut Scratch,
    ) -> Result<Progress, Failure> {
        let mut moved = false;
        for _ in 0..CALLS_PER_STEP {
            let progress = match self.phase {
                Phase::Head => self.read_head(sockets, supervisor, scratch)?,
                Phase::Body { .. } => self.read_body(sockets, scratch)?,
                Phase::Answer { .. } => self.send_answer(sockets, scratch)?,
            };
            match progress {
                Progress::Moved => moved = true,
                Progress::Waiting if moved => return Ok(Progress::Moved),
                other => return Ok(other),
            }
        }
        Ok(Progress::Moved)
    }

    /// One `receive` of the head; answers once the head is whole (or does
    /// not read).
    fn read_head(
        &mut self,
        sockets: &mut impl Sockets,
        supervisor: &impl SupervisorServer,
        scratch: &mut Scratch,
    ) -> Result<Progress, Failure> {
        // One byte past the limit tells a head that is too long.
        let room = (MAX_HEAD_BYTES + 1 - self.head.len()).min(scratch.len());
        let arrived = sockets.receive(self.socket, &mut scratch[..room])?;
        if arrived.length == 0 {
            if !arrived.end {
                return Ok(Progress::Waiting);
            }
            // A peer that closed without a byte gets nothing back; one
            // that closed inside its head, a 400.
            if self.head.is_empty() {
                return Ok(Progress::Finished);
            }
            self.answer(Answer::error(
                Status::BadRequest,
                "the request ended inside its head",
            ));
            return Ok(Progress::Moved);
        }
        if self.head.try_reserve(arrived.length).is_err() {
            self.answer(Answer::error(
                Status::ServiceUnavailable,
                "the server has no memory for the request",
            ));
            return Ok(Progress::Moved);
        }
        self.head.extend_from_slice(&scratch[..arrived.length]);
        let next = match request::parse(&self.head) {
            Parsed::Incomplete if arrived.end => Phase::Answer {
                answer: Answer::error(Status::BadRequest, "the request ended inside its head"),
                head_sent: 0,
                body_sent: 0,
            },
            Parsed::Incomplete => return Ok(Progress::Moved),
            Parsed::Bad(bad) => Phase::Answer {
                answer: Answer::bad_request(bad),
                head_sent: 0,
                body_sent: 0,
            },
            Parsed::Complete(head, length) => match routing::route(&head) {
                Route::Upload(total) => {
                    // The bytes after the head are the body's first.
                    let first = &self.head[length..];
                    let first = &first[..first
                        .len()
                        .min(usize::try_from(total).unwrap_or(usize::MAX))];
                    let taken = first.len() as u64;
                    Phase::Body {
                        left: total - taken,
                        total: taken,
                        hash: fnv1a(FNV_START, first),
                    }
                }
                route => Phase::Answer {
                    answer: routing::answer(&route, supervisor),
                    head_sent: 0,
                    body_sent: 0,
                },
            },
        };
        self.phase = next;
        self.head = Vec::new();
        if let Phase::Body {
            left: 0,
            total,
            hash,
        } = self.phase
        {
            self.answer(Answer::uploaded(total, hash));
        }
        Ok(Progress::Moved)
    }

    /// One `receive` of an upload's body; answers once it is all in.
    fn read_body(
        &mut self,
        sockets: &mut impl Sockets,
        scratch: &mut Scratch,
    ) -> Result<Progress, Failure> {
        let Phase::Body { left, total, hash } = &mut self.phase else {
            return Ok(Progress::Waiting);
        };
        let room = usize::try_from(*left)
            .unwrap_or(usize::MAX)
            .min(scratch.len());
        let arrived = sockets.receive(self.socket, &mut scratch[..room])?;
        if arrived.length == 0 {
            // A peer that ends its upload early gets no answer.
            return Ok(if arrived.end {
                Progress::Finished
            } else {
                Progress::Waiting
            });
        }
        let bytes = &scratch[..arrived.length];
        *hash = fnv1a(*hash, bytes);
        *total += bytes.len() as u64;
        *left -= bytes.len() as u64;
        if *left == 0 {
            let answer = Answer::uploaded(*total, *hash);
            self.answer(answer);
        }
        Ok(Progress::Moved)
    }

    /// One `send` of the answer: its head, its body, then the pattern.
    fn send_answer(
        &mut self,
        sockets: &mut impl Sockets,
        scratch: &mut Scratch,
    ) -> Result<Progress, Failure> {
        let Phase::Answer {
            answer,
            head_sent,
            body_sent,
        } = &mut self.phase
        else {
            return Ok(Progress::Waiting);
        };
        let head = answer.head.as_bytes();
        let body = answer.body.as_bytes();
        let (bytes, sent): (&[u8], &mut usize) = if *head_sent < head.len() {
            (&head[*head_sent..], head_sent)
        } else if *body_sent < body.len() {
            (&body[*body_sent..], body_sent)
        } else if let Some(pattern) = answer.stream.as_mut().filter(|p| p.remaining() > 0) {
            let filled = pattern.fill(scratch);
            let took = sockets.send(self.socket, &scratch[..filled])?;
            pattern.advance(took as u64);
            return Ok(if took == 0 {
                Progress::Waiting
            } else {
                Progress::Moved
            });
        } else {
            return Ok(Progress::Finished);
        };
        let bytes = &bytes[..bytes.len().min(MAX_TRANSFER_BYTES)];
        let took = sockets.send(self.socket, bytes)?;
        *sent += took;
        Ok(if took == 0 {
            Progress::Waiting
        } else {
            Progress::Moved
        })
    }

    /// Sends `answer` from here on.
    fn answer(&mut self, answer: Answer) {
        self.phase = Phase::Answer {
            answer,
            head_sent: 0,
            body_sent: 0,
        };
    }
}

/// What one call on a connection came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// Bytes moved.
    Moved,
    /// Nothing to do until the peer or the socket moves.
    Waiting,
    /// The answer went out, or the peer ended: close.
    Finished,
}
