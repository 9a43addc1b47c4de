//! httpd: Cella's HTTP status server — the running system's modules, processes and faults as a live HTML page and as JSON on TCP port 80, plus streaming download and upload routes for transfer tests.
//!
//! The core (everything but `module.rs`) is host-testable: the request
//! parser ([`request`]), the router ([`routing`]), the JSON and HTML
//! renderers ([`json`], [`html`]), the download pattern and upload checksum
//! ([`transfer`]), one connection's state machine ([`connection`]) and the
//! bounded connection table ([`table`]) work over two traits, [`Sockets`]
//! (the `sockets` endpoint) and [`supervisor_client::SupervisorServer`]
//! (the kernel's typed, read-only `supervisor` endpoint), which the host
//! tests implement in memory. The Wasm module's glue polls the table on its
//! timer. See docs/httpd.md.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod body;
pub mod connection;
pub mod html;
pub mod json;
#[cfg(target_arch = "wasm32")]
mod module;
pub mod request;
pub mod response;
pub mod routing;
pub mod sockets;
pub mod supervisor_client;
pub mod table;
pub mod transfer;

pub use sockets::Sockets;

#[cfg(test)]
mod fakes;
