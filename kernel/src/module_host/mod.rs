//! What the real kernel gives the module system (`crate::module_system`):
//!
//! - [`services`]: the kernel's `KernelServices`, and [`services::System`],
//!   the module system as the kernel runs it;
//! - [`platform`]: the Wasm host's `Platform` (real ports, MMIO, IRQs, DMA, time);
//! - [`device_access`]: ports, MMIO and DMA buffers behind the platform, through
//!   the proofs `arch` and `mm` hand out;
//! - [`dma_loans`]: module buffers lent with a call, mapped for the
//!   borrower's device and kept alive until the last loan ends;
//! - [`message_queue`]: the bounded queue modules' messages travel in;
//! - [`workers`]: the thread each module's events run on, and threads for slow work;
//! - [`push_port`]: COM2, where modules pushed from the host arrive;
//! - `test_hooks` (feature `test-hooks`, the test kernel only): what the test
//!   scenarios may see and do in the module table.
#![forbid(unsafe_code)]

pub mod device_access;
pub mod dma_loans;
pub mod message_queue;
pub mod platform;
pub mod push_port;
pub mod services;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod workers;
