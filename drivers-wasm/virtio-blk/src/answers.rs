//! Encoding an answer of the `block` interface into a reply.

use cella_sdk::interfaces::wire::{self, Wire};
use cella_sdk::{MAX_MESSAGE_BYTES, Message, Result};

/// Encodes `value` as the answer to `message` and replies with it. An
/// answer that does not fit a message (none of the interface's does) is
/// logged and replaced by an empty reply, which no client takes for one.
pub fn answer<'a, T: Wire<'a>>(message: Message, value: &T) -> Result<()> {
    let mut reply = [0; MAX_MESSAGE_BYTES as usize];
    match wire::encode(value, &mut reply) {
        Ok(length) => message.reply(&reply[..length]),
        Err(error) => {
            cella_sdk::error!("an answer not encoded: {error}");
            message.reply(&[])
        }
    }
}
