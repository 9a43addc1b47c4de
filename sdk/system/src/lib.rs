//! cella-system: the description of a Cella system that the kernel and the `cella` tool share.
//!
//! One `no_std` crate beside `cella-abi` owns what both sides must agree on:
//! - [`system_manifest`]: the compiled system manifest (its modules, native
//!   processes and their grants), its one codec (`render` and `read`);
//! - [`devices`]: PCI device grants and their resolution into the windows
//!   and interrupt of the functions the kernel found;
//! - [`grants`]: one module's or process's grant and the check of its
//!   requests against it, for the Wasm host and the kernel alike;
//! - [`validate`]: the one check of a system, run by the tool on what it
//!   compiles and by the kernel on what it reads, with the names the kernel
//!   reserves for itself;
//! - [`push_authority`] and [`push_protocol`]: the authenticated channel that
//!   pushes modules from the host into a running system; [`install_protocol`]:
//!   the upload that carries a module's manifest entry with it;
//! - [`command_protocol`]: supervisor commands from the host over that
//!   channel, and their framed answers;
//! - [`fnv`]: the checksum both ends of the console and push links use.
//!
//! Everything but [`fnv`] and [`grants::range_holds`] needs an allocator
//! (feature `alloc`, on by default): the SDK's native backend, which runs
//! without one, takes only those.
//!
//! Nothing here touches hardware; every part is tested on the host
//! (`cargo test -p cella-system`).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(feature = "alloc")]
pub mod command_protocol;
#[cfg(feature = "alloc")]
pub mod devices;
pub mod fnv;
pub mod grants;
#[cfg(feature = "alloc")]
pub mod install_protocol;
#[cfg(feature = "alloc")]
pub mod push_authority;
#[cfg(feature = "alloc")]
pub mod push_protocol;
#[cfg(feature = "alloc")]
pub mod system_manifest;
#[cfg(test)]
mod test_link;
#[cfg(feature = "alloc")]
pub mod validate;
