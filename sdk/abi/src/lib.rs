//! cella-abi: Cella's guest ABI v1, the one definition shared by the Wasm host and the SDK.
//!
//! A Cella module (driver or server) is a Wasm module that:
//! - imports host functions only from the module [`IMPORT_MODULE`], each with
//!   the exact name and signature listed in [`HostFunction`];
//! - exports the entry points listed in [`Export`] (only `init` is required);
//! - carries a manifest in the custom section [`MANIFEST_SECTION`] (see
//!   [`manifest`]) that declares the capabilities it needs.
//!
//! Host calls return an [`ErrorCode`] (0 = success, negative = refusal), or a
//! value that is non-negative on success and a negative [`ErrorCode`] on
//! refusal.
//!
//! # Design principles
//! - One source of truth: the host links exactly what this crate lists and the
//!   SDK declares exactly the same names and signatures.
//! - Closed sets with fixed numbers: error codes, log levels and value types are
//!   `#[repr]` enums whose numbers never change within ABI v1.
//! - Plain data only: no `unsafe`, no allocation, usable in `no_std` code on
//!   both sides of the sandbox boundary.
//! - The manifest is line-based text, so a declarative macro can build it with
//!   `concat!` and `stringify!`.
#![no_std]
#![forbid(unsafe_code)]

pub mod errors;
pub mod events;
pub mod exports;
pub mod functions;
pub mod manifest;
pub mod pci;
pub mod rights;
pub mod syscalls;
pub mod text;

pub use errors::{ErrorClass, ErrorCode};
pub use events::{EventKind, LogLevel};
pub use exports::Export;
pub use functions::{HostFunction, Signature, ValueType};
pub use manifest::{CapabilityKind, CapabilityRequest, Manifest, ManifestError, ManifestErrorKind};
pub use pci::PciAddress;
pub use rights::Rights;

/// The ABI version this crate describes.
pub const ABI_VERSION: u32 = 1;

/// The Wasm import module name every host function is imported from.
pub const IMPORT_MODULE: &str = "cella";

/// The name of the custom section that holds a module's manifest.
pub const MANIFEST_SECTION: &str = "cella.manifest";

/// The name under which a module must export its linear memory for any host
/// call that takes a pointer.
pub const MEMORY_EXPORT: &str = "memory";

/// Longest log message in bytes; longer messages are refused with
/// [`ErrorCode::BadArgument`].
pub const MAX_LOG_BYTES: u32 = 1024;

/// Longest IPC message (sent, received or replied) in bytes.
pub const MAX_MESSAGE_BYTES: u32 = 4096;

/// Most bytes one `port_in8_n` or `port_out8_n` call moves.
pub const MAX_PORT_BYTES: u32 = 4096;

/// Longest deadline of an `ipc_call`, in milliseconds; longer deadlines are
/// cut to it.
pub const MAX_CALL_DEADLINE_MILLISECONDS: u32 = 60_000;

/// `ipc_call_lending`'s `access`: the server (and its device) may read the
/// lent buffer, not write it.
pub const LEND_READ_ONLY: i32 = 1;
/// `ipc_call_lending`'s `access`: the server (and its device) may read and
/// write the lent buffer.
pub const LEND_READ_WRITE: i32 = 2;

/// Calls a module may have outstanding at once unless its `pending_requests`
/// limit in the system manifest says otherwise; one more is refused with
/// [`ErrorCode::Exhausted`].
pub const DEFAULT_MAX_OUTSTANDING_CALLS: u32 = 16;

/// Largest state blob `save_state` may return, in bytes.
pub const MAX_STATE_BYTES: u32 = 256 * 1024;

/// Most capability requests one manifest may hold (handles index them with 8 bits,
/// the rest of the table holds DMA buffers).
pub const MAX_CAPABILITY_REQUESTS: usize = 64;
