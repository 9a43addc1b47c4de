//! The stack's fixed limits: every table, buffer and queue is bounded, and
//! what passes a bound is refused or dropped, never grown.

/// Sockets a client can hold at once (listeners, connections, UDP
/// sockets, connections waiting for `accept` and closed connections still
/// finishing their close).
pub const MAX_SOCKETS: usize = 16;
/// Bytes of a TCP connection's receive buffer (its window) and, as many
/// again, of its send buffer.
pub const TCP_BUFFER_BYTES: usize = 16 * 1024;
/// Datagrams a UDP socket holds each way.
pub const UDP_DATAGRAMS: usize = 8;
/// Payload bytes a UDP socket holds each way.
pub const UDP_BUFFER_BYTES: usize = 8 * 1024;
/// Connections that may wait for `accept` on one listener; more are
/// refused by the peer's SYN being answered with a reset.
pub const BACKLOG: usize = 4;
/// A listener nobody has called `accept` on for this long is abandoned
/// (its client ended without closing it, as a restarted HTTP server's
/// predecessor did): a `listen` on its port closes it and takes the port.
/// A server polls its listener far more often than this.
pub const ABANDONED_LISTENER_MS: u64 = 3_000;
/// Frames that arrived and wait for the stack's next poll; more are
/// dropped (and counted).
pub const RECEIVED_FRAMES: usize = 64;
/// How long a connection may stay unanswered before it fails with
/// `TimedOut`.
pub const CONNECT_TIMEOUT_MS: u64 = 20_000;
/// How long a connection that sent data may wait for its acknowledgement
/// before it is reset.
pub const ACK_TIMEOUT_MS: u64 = 60_000;
/// How long a closed connection may take to finish its close before its
/// slot is taken back anyway.
pub const CLOSE_LINGER_MS: u64 = 10_000;
/// The ports `connect` and `bind(0)` choose from.
pub const EPHEMERAL_PORTS: core::ops::RangeInclusive<u16> = 49_152..=65_535;
/// Rounds of one `poll` (each takes the frames that arrived and sends what
/// every socket has ready) before it gives back control.
pub const POLL_ROUNDS: usize = 32;
