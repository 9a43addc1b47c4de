//! The supervisor: what happens to a module after it faults.
//!
//! The kernel contains a fault (the Wasm host turns it into a typed `Fault`);
//! the supervisor decides, per the module's restart policy, whether and when
//! it comes back, keeps the record of past faults, and carries out what a
//! person asks for: restart, stop, start, swap, trace.
#![forbid(unsafe_code)]

pub mod command_line;
#[cfg(target_os = "none")]
pub mod commands;
#[cfg(target_os = "none")]
pub mod hot_swap;
#[cfg(target_os = "none")]
pub mod native;
pub mod policy;
#[cfg(target_os = "none")]
pub mod records;
#[cfg(target_os = "none")]
pub mod recovery;
pub mod replay;
#[cfg(target_os = "none")]
pub mod trace;
#[cfg(target_os = "none")]
pub mod waiting;
