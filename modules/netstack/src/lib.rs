//! netstack: Cella's TCP/IP server — TCP and UDP sockets over the `net` Ethernet link, its address by DHCP, served as the `sockets` interface.
//!
//! The core (everything but `module.rs`) is smoltcp behind a fixed socket
//! table, generic over [`link::Link`]: it is given the frames that arrived
//! and the time, and hands the frames it makes to the link. The host tests
//! join two stacks, or a stack and a scripted DHCP server, by in-memory
//! links; the Wasm module's glue is the `net` endpoint. See docs/netstack.md.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod echo;
pub mod limits;
pub mod link;
#[cfg(target_arch = "wasm32")]
mod module;
mod ping;
mod server;
pub mod stack;
mod table;
mod upkeep;

pub use echo::Echo;
pub use link::Link;
pub use stack::{Addressing, Settings, Stack};
