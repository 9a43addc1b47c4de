//! The supervisor: what happens to a module after it faults, and the
//! commands a person gives.
//!
//! The kernel contains a fault (the Wasm host turns it into a typed `Fault`);
//! the supervisor decides, per the module's restart policy, whether and when
//! it comes back ([`decisions`], pure), keeps the record of past faults
//! ([`records`]), reads command lines into typed commands ([`command_line`])
//! and turns typed reports into the text a person reads ([`report_text`]).
//! The module system (`crate::module_system`) carries the decisions out.
#![forbid(unsafe_code)]

pub mod command_line;
pub mod decisions;
pub mod explain;
pub mod policy;
pub mod records;
pub mod replay;
pub mod report_text;
pub mod reports;
