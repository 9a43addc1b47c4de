//! fs: Cella's FAT32 file system server — files and directories on the `block` disk, behind a sector cache and a write-ahead journal, served as the `fs` interface.
//!
//! The core (everything but `module.rs`) is synchronous and generic over
//! [`disk::Sectors`], so the host tests run it on image files made by
//! `mkfs.fat` and check the result with `fsck.vfat`; the Wasm module's glue
//! implements `Sectors` over the `block` endpoint. See docs/fs.md.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod block_disk;
pub mod cache;
pub mod disk;
mod errors;
pub mod handles;
pub mod journal;
pub mod layout;
#[cfg(target_arch = "wasm32")]
mod module;
mod operations;
pub mod paths;
pub mod server;
mod shrink;
pub mod store;
pub mod volume;

pub use server::{FileServer, Notice};
