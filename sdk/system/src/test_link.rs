//! What the tests of the push channel's protocols share: a key, a receiver
//! that grants every target, and feeding it bytes.

use crate::push_authority::{KEY_BYTES, PushGrant, PushKey};
use crate::push_protocol::{HELLO, PushAccess, PushEvent, PushReceiver};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The key the test receiver checks signatures with.
pub fn key() -> PushKey {
    PushKey::new([7; KEY_BYTES])
}

/// A receiver granted every target, with nonces from seed 42.
pub fn receiver() -> PushReceiver {
    PushReceiver::new(
        PushAccess::Granted {
            key: key(),
            grant: PushGrant {
                targets: alloc::vec![String::from("*")],
            },
        },
        42,
    )
}

/// Feeds `bytes` at time `now`; the events they produced.
pub fn feed_at(receiver: &mut PushReceiver, bytes: &[u8], now: u64) -> Vec<PushEvent> {
    bytes
        .iter()
        .filter_map(|&byte| receiver.feed(byte, now))
        .collect()
}

/// Feeds `bytes` at time 1.
pub fn feed_all(receiver: &mut PushReceiver, bytes: &[u8]) -> Vec<PushEvent> {
    feed_at(receiver, bytes, 1)
}

/// Asks for a nonce and returns it.
pub fn hello(receiver: &mut PushReceiver) -> String {
    match &feed_all(receiver, format!("{HELLO}\n").as_bytes())[..] {
        [PushEvent::Challenge(nonce)] => nonce.clone(),
        other => panic!("expected a nonce, got {other:?}"),
    }
}
