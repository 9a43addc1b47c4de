//! cella-qemu-tests: the harness that boots Cella images in QEMU and judges each scenario.
//!
//! Each integration test (one file per concern in `tests/tests/`) boots the kernel with
//! `test=NAME` on its command line, captures the serial console, and judges the run by QEMU's
//! isa-debug-exit status: 33 means the kernel reported success, 35 a reported failure; status 0
//! (a triple fault under `-no-reboot`), any other status, a signal, or the per-scenario timeout
//! are always failures, and every unexpected outcome prints the whole serial log.
//!
//! `cargo cella test` passes the kernel, QEMU and boot archive through `CELLA_*` variables
//! (see [`cella::test_environment`]); run alone (`cargo test -p cella-qemu-tests`) the harness
//! builds the kernel itself into `<target>/cella/qemu-tests-target`.
#![forbid(unsafe_code)]

pub mod archives;
pub mod boot;
pub mod bytes;
pub mod disk;
pub mod environment;
pub mod process;
pub mod serial;
pub mod session;
pub mod sockets;
pub mod transcript;

pub use archives::default_archive_with;
pub use boot::{BootRequest, BootRun, boot, boot_scenario};
pub use bytes::{fnv1a, random_bytes};
pub use cella::http_client as http;
pub use cella::qemu::Network;
pub use disk::Disk;
pub use environment::{BootEnvironment, environment, file_system_image};
pub use serial::word_after;
pub use session::Session;
