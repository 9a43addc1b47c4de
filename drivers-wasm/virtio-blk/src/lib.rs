//! virtio-blk: Cella's virtio block driver — brings up a virtio-blk PCI function (virtio 1.x, through the IOMMU) and serves its disk on the `block` endpoint.
//!
//! It serves the typed interface `cella_sdk::interfaces::block` through
//! `cella_virtio::server::BlockServer`. `capacity` is answered at once; a
//! `read`, `write` or `flush` is checked (sectors in range, at most 7,
//! whole sectors, a writable disk), put on the device's request queue in a
//! free slot and answered when the device has finished it. Four requests
//! are in flight at most; a fifth is answered `Busy`.
//!
//! Completions are interrupt-driven: the request queue's interrupt goes to
//! MSI-X table entry 0, whose vector the kernel programs and hands over
//! (`pci_msix`); a device that does not take the vector, or a kernel that
//! has none to give, leaves the function's INTx line. A timer is the
//! fallback: while a request is in flight the timer is armed
//! for [`POLL_NANOSECONDS`], and each expiry looks at the used ring too. So
//! an interrupt that never arrives delays an answer by at most that, and a
//! function without an interrupt line works by polling alone.
//!
//! A device that writes garbage into the used ring is given up on: it is
//! told `FAILED` and reset, the requests in flight are answered
//! `DeviceError`, and the driver faults itself, so the supervisor starts a
//! new instance, which brings the device up afresh.
//!
//! A hot swap hands the requests in flight to the next version, which
//! resets the device and answers them `Busy` (see `driver.rs`).
#![no_std]
#![forbid(unsafe_code)]

mod driver;

pub use driver::{MSIX_ENTRY, POLL_NANOSECONDS, STATE_FORMAT, VirtioBlock};

cella_sdk::module! {
    name: "virtio-blk",
    version: if cfg!(feature = "escape") { "1.0.0-escape" } else { "1.0.0" },
    state: 1,
    module: VirtioBlock,
    capabilities: {
        disk: pci(0x1af4, 0x1042),
        // The request queue (430 bytes) and four request slots of 3,616
        // bytes (header, 7 sectors, status) in one buffer: 14,894 bytes.
        dma: dma(16384),
        poll: timer(),
    },
}
