//! virtio-net: Cella's virtio network driver — brings up a virtio-net PCI function (virtio 1.x, through the IOMMU) and serves its link on the `net` endpoint.
//!
//! It serves the typed interface `cella_sdk::interfaces::net` through
//! `cella_virtio::net_server::NetServer`. `info` and `send` are answered at
//! once (`send` with `Busy` while eight frames are being sent). `receive`
//! is answered at once with the frames that arrived, as many whole ones as
//! fit one answer; one that finds none and may wait is held until a frame
//! arrives or its `wait_ms` has passed, one at a time (a second is answered
//! `AlreadyWaiting`). Sixteen received frames wait to be taken at most;
//! past that the oldest is dropped, and the next answer says how many were.
//!
//! Interrupts: both queues' go to MSI-X table entry 0, whose vector the
//! kernel programs and hands over; a device that does not take the vector,
//! or a kernel that has none to give, leaves the function's INTx line.
//! While a `receive` waits, the timer is armed for its deadline, or 10 ms
//! ([`POLL_NANOSECONDS`]) if that is sooner, and each expiry looks at the
//! used rings too: an interrupt that never arrives delays a frame by at
//! most that.
//!
//! A device that writes garbage into a used ring is given up on: it is
//! told `FAILED` and reset, a waiting `receive` is answered `DeviceError`,
//! and the driver faults itself, so the supervisor starts a new instance,
//! which brings the device up afresh.
//!
//! What a restart or a hot swap loses: the frames received and not yet
//! taken, and the frames being sent (the device is reset). A network loses
//! frames anyway; TCP sends them again. A hot swap hands the waiting
//! `receive` to the next version, which answers it with no frames; a
//! restart replays it (it is idempotent) to the new instance.
#![no_std]
#![forbid(unsafe_code)]

mod driver;

pub use driver::{MSIX_ENTRY, POLL_NANOSECONDS, STATE_FORMAT, VirtioNet};

#[cfg(not(feature = "version-two"))]
cella_sdk::module! {
    name: "virtio-net",
    version: "1.0.0",
    state: 1,
    module: VirtioNet,
    capabilities: {
        card: pci(0x1af4, 0x1041),
        // Both rings (846 and 222 bytes), 32 receive buffers and 8
        // transmit slots of 1,536 bytes: 62,508 bytes.
        dma: dma(65536),
        poll: timer(),
    },
}

// The swap fixture of the test kernel (tests/kernel/system.toml): the same driver as 2.0.0,
// same state format 1.
#[cfg(feature = "version-two")]
cella_sdk::module! {
    name: "virtio-net",
    version: "2.0.0",
    state: 1,
    module: VirtioNet,
    capabilities: {
        card: pci(0x1af4, 0x1041),
        dma: dma(65536),
        poll: timer(),
    },
}
