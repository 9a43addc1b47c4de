//! cella: the library behind the `cella` command-line tool (set-up, build, run, test, bench, lint).
//!
//! The binary (`src/main.rs`) only parses the command line and reports errors; everything
//! else lives here so the QEMU test harness (`tests/`) can reuse the same QEMU command line,
//! boot-archive writer and kernel build.
#![forbid(unsafe_code)]

pub mod archive;
pub mod boot_clock;
pub mod browser_tools;
pub mod build_info;
pub mod cargo;
pub mod cli;
pub mod commands;
pub mod disk_image;
pub mod error;
pub mod fault_echo;
pub mod file_system_tools;
pub mod fs_image;
pub mod http_client;
pub mod inspect;
pub mod installed;
pub mod labs;
pub mod live_boot;
pub mod modules;
pub mod network_measure;
pub mod progress;
pub mod push;
pub mod qemu;
pub mod runs;
pub mod setup;
pub mod shell;
pub mod system_manifest;
pub mod tcb;
pub mod test_environment;
pub mod test_summary;
pub mod userland;
pub mod variants;
pub mod wat_source;
pub mod workspace;
pub mod yardstick;

pub use error::{Error, Result};
