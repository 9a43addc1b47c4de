//! Wasm modules in the kernel: loading them from the boot archive as the
//! system manifest says, and driving them one event at a time.
//!
//! - [`device_access`]: ports, MMIO and DMA buffers behind the platform, through
//!   the proofs `arch` and `mm` hand out;
//! - [`elsewhere`]: slow work on another thread while the event loop runs;
//! - [`ipc_bridge`]: the modules' endpoints on the kernel's IPC, for processes;
//! - [`platform`]: the kernel's `Platform` (real ports, MMIO, IRQs, DMA, time);
//! - [`router`]: the bounded message queue between modules and the kernel;
//! - [`system`]: the module table and the event loop;
//! - `test_hooks` (feature `test-hooks`, the test kernel only): what the test
//!   scenarios may see and do in the module table;
//! - [`worker`]: the thread each module's events run on.
#![forbid(unsafe_code)]

pub mod device_access;
pub mod elsewhere;
pub mod ipc_bridge;
pub mod platform;
pub mod push;
pub mod router;
pub mod slot;
pub mod system;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod worker;
