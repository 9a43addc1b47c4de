//! What the host tests share: an in-memory link, two stacks joined by it,
//! and a checksum.
#![allow(dead_code)]

pub mod frames;

use cella_netstack::{Addressing, Link, Settings, Stack};
use cella_sdk::interfaces::sockets::{Handle, Ipv4, Server, SocketError, SocketState};

/// Frames a link holds before it says it is not ready.
pub const CABLE_FRAMES: usize = 64;

/// One side of an in-memory link: the frames its stack sent, not yet
/// carried to the other side.
#[derive(Default)]
pub struct Cable {
    pub frames: Vec<Vec<u8>>,
}

impl Link for Cable {
    fn ready(&self) -> bool {
        self.frames.len() < CABLE_FRAMES
    }

    fn send(&mut self, frame: &[u8]) {
        self.frames.push(frame.to_vec());
    }
}

pub const MAC_A: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x52, 0x54, 0, 0, 0, 0x0b];
pub const ADDRESS_A: Ipv4 = Ipv4([10, 0, 0, 1]);
pub const ADDRESS_B: Ipv4 = Ipv4([10, 0, 0, 2]);

/// A stack with a fixed address on 10.0.0.0/24.
pub fn static_stack(mac: [u8; 6], address: Ipv4, epoch: u16) -> Stack<Cable> {
    let settings = Settings {
        mac,
        epoch,
        addressing: Addressing::Static {
            address,
            prefix: 24,
            gateway: None,
        },
    };
    Stack::new(Cable::default(), settings, 0).expect("a valid configuration")
}

/// Two stacks, A (10.0.0.1) and B (10.0.0.2), on one link, and the time.
pub struct Pair {
    pub a: Stack<Cable>,
    pub b: Stack<Cable>,
    pub now_ms: u64,
}

impl Pair {
    pub fn new() -> Pair {
        Pair {
            a: static_stack(MAC_A, ADDRESS_A, 1),
            b: static_stack(MAC_B, ADDRESS_B, 2),
            now_ms: 0,
        }
    }

    /// One millisecond: both stacks polled, the frames each sent carried
    /// to the other.
    pub fn step(&mut self) {
        self.now_ms += 1;
        self.a.poll(self.now_ms);
        self.b.poll(self.now_ms);
        for frame in std::mem::take(&mut self.a.link_mut().frames) {
            self.b.receive_frame(&frame);
        }
        for frame in std::mem::take(&mut self.b.link_mut().frames) {
            self.a.receive_frame(&frame);
        }
    }

    /// Steps until `done` holds (true) or `limit_ms` pass (false).
    pub fn run_until(&mut self, limit_ms: u64, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        for _ in 0..limit_ms {
            if done(self) {
                return true;
            }
            self.step();
        }
        done(self)
    }

    /// A connection from A to a listener of B: A's handle and the one B
    /// accepted.
    pub fn connect(&mut self, listener: Handle, port: u16) -> (Handle, Handle) {
        let client = self.a.connect(ADDRESS_B, port).expect("connect");
        let mut accepted = None;
        assert!(self.run_until(1_000, |pair| {
            if accepted.is_none() {
                accepted = pair.b.accept(listener).expect("accept");
            }
            accepted.is_some_and(|server| pair.b.state(server) == Ok(SocketState::Established))
                && pair.a.state(client) == Ok(SocketState::Established)
        }));
        (client, accepted.expect("accepted"))
    }
}

/// FNV-1a of `bytes`, continuing from `hash`.
pub fn fnv1a(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// FNV-1a's starting value.
pub const FNV_START: u32 = 0x811c_9dc5;

/// Bytes that differ from position to position (a simple generator).
pub fn pattern(length: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// Whether an answer is the refusal `expected`.
pub fn refused<T>(answer: Result<T, SocketError>, expected: SocketError) -> bool {
    matches!(answer, Err(error) if error == expected)
}
