//! Device models: the hardware the drivers are written for, as much of it as
//! the drivers (and a careless driver) can touch. Each model is a cheap
//! handle over shared state: attach one clone to the simulated platform, keep
//! another in the test to drive the device and look inside it.

mod cmos;
mod ps2;
mod uart;
mod virtio_net;

pub use cmos::{CmosClock, DateTime};
pub use ps2::Ps2Controller;
pub use uart::Uart16550;
pub use virtio_net::{
    VIRTIO_NET_ADDRESS, VIRTIO_NET_BAR_BASE, VIRTIO_NET_BAR_LENGTH, VIRTIO_NET_OFFERED, VirtioNet,
};
