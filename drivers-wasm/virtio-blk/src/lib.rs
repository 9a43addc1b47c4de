//! virtio-blk: Cella's virtio block driver — brings up a virtio-blk PCI function (virtio 1.x, through the IOMMU) and serves its disk on the `block` endpoint.
//!
//! It serves the typed interface `cella_sdk::interfaces::block` through
//! `cella_virtio::server::BlockServer`. `capacity` is answered at once; a
//! `read`, `write` or `flush` is checked (sectors in range, at most 7,
//! whole sectors, a writable disk), put on the device's request queue in a
//! free slot and answered when the device has finished it. Four requests
//! are in flight at most; a fifth is answered `Busy`.
//!
//! Completions are interrupt-driven (the function's INTx line), with a
//! timer as the fallback: while a request is in flight the timer is armed
//! for [`POLL_NANOSECONDS`], and each expiry looks at the used ring too. So
//! an interrupt that never arrives delays an answer by at most that, and a
//! function without an interrupt line works by polling alone.
//!
//! A device that writes garbage into the used ring is given up on: it is
//! told `FAILED` and reset, the requests in flight are answered
//! `DeviceError`, and so is every later one, until the module is restarted
//! (`restart virtio-blk`), which brings the device up afresh.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::interfaces::block::{MAX_TRANSFER_BYTES, SECTOR_BYTES};
use cella_sdk::{DmaBuffer, ErrorCode, Handle, Irq, MAX_MESSAGE_BYTES, Message, Mmio, Module};
use cella_sdk::{Result, Timer};
use cella_virtio::block::{Disk, REQUESTS_IN_FLIGHT};
use cella_virtio::server::{BlockServer, Handled, Polled};

cella_sdk::module! {
    name: "virtio-blk",
    version: if cfg!(feature = "escape") { "1.0.0-escape" } else { "1.0.0" },
    // Hot-swappable: the new version starts the device afresh (the default
    // save and restore hand over nothing); requests in flight are settled
    // by the supervisor's replay rules.
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

/// How long a request waits for its interrupt before the driver looks at
/// the used ring itself: 10 ms.
pub const POLL_NANOSECONDS: u64 = 10_000_000;

/// The driver's state between events.
pub struct VirtioBlock {
    server: BlockServer<Mmio, DmaBuffer, Message>,
    irq: Option<Irq>,
    poll: Timer,
}

impl Module for VirtioBlock {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<VirtioBlock> {
        let Capabilities { disk, dma, poll } = capabilities;
        let started = Disk::start(&disk, &dma, MAX_TRANSFER_BYTES as u32);
        let device = started.map_err(|error| {
            cella_sdk::error!("the device did not come up: {error}");
            ErrorCode::DeviceError
        })?;
        let irq = match disk.irq().and_then(|irq| irq.enable().map(|()| irq)) {
            Ok(irq) => Some(irq),
            Err(error) => {
                cella_sdk::warn!("no interrupt ({error}): completions are polled every 10 ms");
                None
            }
        };
        let sectors = device.capacity();
        cella_sdk::info!(
            "{sectors} sectors of {SECTOR_BYTES} bytes ({} KiB){}, {REQUESTS_IN_FLIGHT} requests in flight",
            sectors / 2,
            if device.read_only() {
                ", read-only"
            } else {
                ""
            },
        );
        Ok(VirtioBlock {
            server: BlockServer::new(device),
            irq,
            poll,
        })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut request = [0; MAX_MESSAGE_BYTES as usize];
        let request = message.read(&mut request)?;
        if !message.is_request() {
            return Ok(());
        }
        #[cfg(feature = "escape")]
        if let Ok(cella_sdk::interfaces::block::Request::Flush { .. }) =
            cella_sdk::interfaces::block::Request::decode(request)
        {
            return self.escape(message);
        }
        let mut reply = [0; MAX_MESSAGE_BYTES as usize];
        match self.server.request(message, request, &mut reply) {
            Handled::Answered(length) => message.reply(&reply[..length]),
            Handled::Pending => self.poll.set_after(POLL_NANOSECONDS),
            Handled::Malformed(error) => {
                cella_sdk::warn!("a request of {} bytes not answered: {error}", request.len());
                message.reply(&[])
            }
        }
    }

    fn on_irq(&mut self, irq: Handle) -> Result<()> {
        // Reading the interrupt status acknowledges it on the device.
        let _ = self.server.interrupt_status();
        self.answer_finished()?;
        match self.irq {
            Some(line) if line.is(irq) => line.acknowledge(),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, _timer: Handle) -> Result<()> {
        self.answer_finished()
    }
}

/// Where the kernel's image is loaded (PVH boot, `docs/architecture.md`):
/// what the escape variant points its device at.
#[cfg(feature = "escape")]
pub const KERNEL_IMAGE_PHYSICAL: u64 = 0x10_0000;

impl VirtioBlock {
    /// The escape variant's answer to `flush`: the device is told to write
    /// sector 0 over the first bytes of the kernel's image. The module's
    /// own sandbox allows it (it only wrote to its own DMA buffer); with an
    /// IOMMU the device's write is blocked, recorded, and this module
    /// faulted and restarted.
    #[cfg(feature = "escape")]
    fn escape(&mut self, message: Message) -> Result<()> {
        cella_sdk::warn!(
            "pointing a read of sector 0 at {KERNEL_IMAGE_PHYSICAL:#x}, the kernel's own image"
        );
        match self.server.escape(message, KERNEL_IMAGE_PHYSICAL) {
            Ok(()) => self.poll.set_after(POLL_NANOSECONDS),
            Err(_) => {
                cella_sdk::warn!(
                    "the read was not put on the queue (no free slot, or the device was given up)"
                );
                message.reply(&[])
            }
        }
    }

    /// Answers every request the device finished; re-arms the poll while
    /// some remain.
    fn answer_finished(&mut self) -> Result<()> {
        let mut refused = None;
        let polled = self.server.poll(|message, reply| {
            if let Err(error) = message.reply(reply) {
                refused = Some(error);
            }
        });
        if let Some(error) = refused {
            cella_sdk::warn!("an answer was not taken: {error}");
        }
        match polled {
            // Nothing waits: the poll has nothing to look for.
            Polled::InFlight(0) => self.poll.cancel(),
            Polled::InFlight(_) => self.poll.set_after(POLL_NANOSECONDS),
            Polled::GaveUp(error) => {
                cella_sdk::error!(
                    "the device wrote garbage ({error}); it is reset and every request answered as a device error until `restart virtio-blk`"
                );
                self.poll.cancel()
            }
        }
    }
}
