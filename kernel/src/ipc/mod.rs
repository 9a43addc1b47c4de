//! Inter-process communication: endpoints with bounded queues, send, call,
//! receive and reply, capability handles with generations, and a name service.
//!
//! [`core`] holds the rules and is tested on the host; `kernel` adds blocking
//! with real threads (a kernel thread, a native process's thread, or the Wasm
//! event loop all use the same endpoints).
#![forbid(unsafe_code)]

pub mod core;

#[cfg(target_os = "none")]
mod kernel;

pub use self::core::{
    Capability, CapabilityTable, EndpointId, Handle, IpcError, MAX_MESSAGE_BYTES, Message,
    QUEUE_BYTES, QUEUE_CAPACITY, Rights,
};
#[cfg(target_os = "none")]
pub use kernel::*;
