//! cella-virtio: the virtio 1.x transport over PCI and split virtqueues for Cella drivers, with virtio-blk and virtio-net on top, written against small platform traits so every part tests on the host.
//!
//! - [`platform`]: what the transport needs: a PCI function's
//!   configuration space and memory BARs ([`ConfigSpace`]), register
//!   windows ([`RegisterWindow`]) and DMA memory reached by copying
//!   ([`DmaMemory`], [`DmaRegion`]). With the default feature `sdk` the
//!   SDK's `PciDevice`, `Mmio`, `DmaPool` and `DmaBuffer` implement them.
//! - [`capabilities`]: the vendor-specific capabilities that place the
//!   common configuration, notify structure, interrupt status and device
//!   configuration in the BARs.
//! - [`transport`]: reset, `ACKNOWLEDGE`/`DRIVER`, feature negotiation
//!   ([`features::choose`]), `FEATURES_OK`, queue set-up, `DRIVER_OK`,
//!   notifications and the interrupt status.
//! - [`queue`]: a split virtqueue whose every device-written value is
//!   checked before it is used.
//! - [`block`]: virtio-blk requests (read, write, flush) with a fixed
//!   number in flight.
//! - [`net`]: virtio-net (one receive and one transmit queue, received
//!   frames held in a bounded queue, a fixed number sent at once).
//! - [`net_server`]: the typed `net` interface served from a [`net::Nic`],
//!   a waiting `receive` answered when a frame arrives or its time is up.
//! - [`server`]: the typed `block` interface served from a [`block::Disk`],
//!   each request answered when the device finishes it.
//!
//! Nothing here allocates or panics on what a device writes: every bad
//! value is an [`Error`].
#![no_std]
#![forbid(unsafe_code)]

pub mod block;
pub mod capabilities;
mod error;
pub mod features;
#[cfg(feature = "sdk")]
pub mod interrupt;
pub mod net;
pub mod net_server;
pub mod platform;
pub mod queue;
#[cfg(feature = "sdk")]
mod sdk;
pub mod server;
pub mod transport;

pub use error::Error;
pub use platform::{ConfigSpace, DmaMemory, DmaRegion, RegisterWindow};
