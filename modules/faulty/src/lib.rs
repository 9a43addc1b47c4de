//! faulty: a deliberately faulty Cella module for teaching and tests — on request it panics, spins forever, or reaches outside its grant, and the sandbox contains each.
//!
//! Send it `panic`, `spin` or `trespass` (it serves the `faulty` endpoint when
//! the system manifest grants it one; it is not booted by default). Anything
//! else is answered with `ok` (if it is a request).
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{Message, Module, Ports, Result};

cella_sdk::module! {
    name: "faulty",
    version: "1.0.0",
    module: Faulty,
    capabilities: {
        post: port(0x80, 1), // the POST diagnostic port: harmless
    },
}

/// The module's state.
pub struct Faulty {
    post: Ports,
}

impl Module for Faulty {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Faulty> {
        Ok(Faulty {
            post: capabilities.post,
        })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut buffer = [0u8; 16];
        match message.read(&mut buffer)? {
            b"panic" => panic!("deliberate panic on request"),
            b"spin" => {
                let mut count = 0u64;
                loop {
                    count = core::hint::black_box(count.wrapping_add(1));
                }
            }
            b"trespass" => {
                // Offset 1 is outside the one granted port: refused, not performed.
                let refused = self.post.write8(1, 0xff);
                cella_sdk::warn!("trespass answered with {refused:?}");
                refused
            }
            // A request is answered; a plain message (`send faulty TEXT`) is just taken.
            _ if message.is_request() => message.reply(b"ok"),
            _ => Ok(()),
        }
    }
}
