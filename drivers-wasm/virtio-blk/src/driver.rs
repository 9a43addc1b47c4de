//! The driver itself: the device brought up, the `block` requests served, and the hand-over of
//! a hot swap.
//!
//! It names two items of the crate it is compiled into: `Capabilities` (made by
//! `cella_sdk::module!`) and `CELLA_VERSION`. The driver crate compiles it as version 1.0.0;
//! the swap fixture `tests/fixtures/virtio-blk-v2` compiles this same file as 2.0.0.

use crate::{CELLA_VERSION, Capabilities};
use cella_sdk::interfaces::block::{BlockError, MAX_TRANSFER_BYTES, Request, SECTOR_BYTES};
use cella_sdk::{DmaBuffer, DmaPool, ErrorCode, Handle, Irq, Lend, MAX_MESSAGE_BYTES, Message};
use cella_sdk::{Mmio, Module, PciDevice, Result, Timer};
use cella_virtio::block::{Disk, REQUESTS_IN_FLIGHT};
use cella_virtio::server::{self, BlockServer, Handled, Lent, Next};
use cella_virtio::transport::Transport;

/// How long a request waits for its interrupt before the driver looks at
/// the used ring itself: 10 ms.
pub const POLL_NANOSECONDS: u64 = 10_000_000;

/// The MSI-X table entry the request queue's interrupt goes to.
pub const MSIX_ENTRY: u16 = 0;

/// The state format `save_state` writes and `restore_state` reads:
/// `[count: u8]` then, per request in flight, `[message request id: u32 LE]
/// [message length: u32 LE][block request id: u32 LE]`.
pub const STATE_FORMAT: u32 = 1;
/// Bytes of one request in the saved state.
const SAVED_REQUEST_BYTES: usize = 12;

/// The driver's state between events.
pub struct VirtioBlock {
    disk: PciDevice,
    dma: DmaPool,
    /// `None` from a hot swap's hand-over until the first event after it,
    /// when the predecessor's DMA buffers are gone and the device comes up
    /// again.
    server: Option<BlockServer<Mmio, DmaBuffer, Message>>,
    irq: Option<Irq>,
    poll: Timer,
}

/// Where the kernel's image is loaded (PVH boot, `docs/architecture.md`):
/// what the escape variant points its device at.
#[cfg(feature = "escape")]
pub const KERNEL_IMAGE_PHYSICAL: u64 = 0x10_0000;

impl VirtioBlock {
    /// The escape variant's answer to `flush` (feature `escape`, a teaching
    /// module: docs/teaching.md): the device is told to write sector 0 over
    /// the first bytes of the kernel's image. The module's own sandbox
    /// allows it (it only wrote its own DMA buffer); the IOMMU blocks the
    /// device's write, and the kernel faults this module for it.
    #[cfg(feature = "escape")]
    fn escape(&mut self, message: Message) -> Result<()> {
        cella_sdk::warn!(
            "pointing a read of sector 0 at {KERNEL_IMAGE_PHYSICAL:#x}, the kernel's own image"
        );
        match self.server().escape(message, KERNEL_IMAGE_PHYSICAL) {
            Ok(()) => self.poll.set_after(POLL_NANOSECONDS),
            Err(_) => {
                cella_sdk::warn!(
                    "the read was not put on the queue (no free slot, or the device was given up)"
                );
                message.reply(&[])
            }
        }
    }

    /// Brings the device up: reset, features, the request queue (its
    /// interrupt pointed at MSI-X entry [`MSIX_ENTRY`]), then the interrupt:
    /// the kernel's MSI-X vector for that entry if the device took it, else
    /// the INTx line.
    fn bring_up(&mut self) -> Result<()> {
        let started = Disk::start_with_msix(
            &self.disk,
            &self.dma,
            MAX_TRANSFER_BYTES as u32,
            Some(MSIX_ENTRY),
        );
        let mut device = started.map_err(|error| {
            cella_sdk::error!("the device did not come up: {error}");
            ErrorCode::DeviceError
        })?;
        self.irq = cella_virtio::interrupt::enable(&self.disk, &mut device, "completions")?;
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
        self.server = Some(BlockServer::new(device));
        Ok(())
    }

    /// The server, the device brought up first if a hot swap left it down.
    /// A device that does not come up then ends the instance, so the
    /// supervisor starts a new one.
    fn server(&mut self) -> &mut BlockServer<Mmio, DmaBuffer, Message> {
        if self.server.is_none() && self.bring_up().is_err() {
            panic!("virtio-blk {CELLA_VERSION}: the device did not come up after a hot swap");
        }
        match self.server.as_mut() {
            Some(server) => server,
            None => panic!("virtio-blk {CELLA_VERSION}: no device"),
        }
    }

    /// Answers every request the device finished; re-arms the poll while
    /// some remain. After device garbage, ends the instance.
    fn answer_finished(&mut self) -> Result<()> {
        let mut refused = None;
        let polled = self.server().poll(|message, reply| {
            if let Err(error) = message.reply(reply) {
                refused = Some(error);
            }
        });
        if let Some(error) = refused {
            cella_sdk::warn!("an answer was not taken: {error}");
        }
        match polled.next() {
            Next::Idle => self.poll.cancel(),
            Next::Poll => self.poll.set_after(POLL_NANOSECONDS),
            Next::Restart => {
                // Every request in flight was answered (a device error); the
                // fault makes the supervisor start a new instance, whose
                // `init` resets the device and brings it up afresh.
                let _ = self.poll.cancel();
                panic!("the device wrote garbage into its used ring; the driver restarts");
            }
        }
    }
}

/// The buffer lent with a `read_lent` (which the device writes: lent
/// read-write) or a `write_lent` (read-only will do); `None` for any other
/// request, or when the caller lent none that fits (the server answers
/// `NoLoan`).
fn loan_of(message: &Message, request: &[u8]) -> Option<Lent> {
    let access = match Request::decode(request) {
        Ok(Request::ReadLent { .. }) => Lend::ReadWrite,
        Ok(Request::WriteLent { .. }) => Lend::ReadOnly,
        _ => return None,
    };
    let buffer = message.loan(access).ok()?;
    Some(Lent {
        address: buffer.device_address().ok()?,
        size: buffer.size(),
        writable: access == Lend::ReadWrite,
    })
}

impl Module for VirtioBlock {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<VirtioBlock> {
        let Capabilities { disk, dma, poll } = capabilities;
        let mut driver = VirtioBlock {
            disk,
            dma,
            server: None,
            irq: None,
            poll,
        };
        driver.bring_up()?;
        Ok(driver)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut request = [0; MAX_MESSAGE_BYTES as usize];
        let request = message.read(&mut request)?;
        if !message.is_request() {
            return Ok(());
        }
        #[cfg(feature = "escape")]
        if let Ok(Request::Flush { .. }) = Request::decode(request) {
            return self.escape(message);
        }
        let loan = loan_of(&message, request);
        let mut reply = [0; MAX_MESSAGE_BYTES as usize];
        match self.server().request(message, request, loan, &mut reply) {
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
        let _ = self.server().interrupt_status();
        self.answer_finished()?;
        match self.irq {
            Some(line) if line.is(irq) => line.acknowledge(),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, _timer: Handle) -> Result<()> {
        self.answer_finished()
    }

    /// The requests in flight (see [`STATE_FORMAT`]): the next version
    /// answers them.
    fn save_state(&self, out: &mut [u8]) -> Result<usize> {
        let mut length = 1;
        let mut count = 0u8;
        for (message, id) in self.server.iter().flat_map(|server| server.waiting()) {
            let entry = out
                .get_mut(length..length + SAVED_REQUEST_BYTES)
                .ok_or(ErrorCode::Exhausted)?;
            entry[0..4].copy_from_slice(&message.request_id().to_le_bytes());
            entry[4..8].copy_from_slice(&(message.len() as u32).to_le_bytes());
            entry[8..12].copy_from_slice(&id.to_le_bytes());
            length += SAVED_REQUEST_BYTES;
            count += 1;
        }
        *out.first_mut().ok_or(ErrorCode::Exhausted)? = count;
        Ok(length)
    }

    /// Resets the device, so it writes nothing more into the predecessor's
    /// DMA buffers (freed when this version takes over), and answers the
    /// requests the predecessor had in flight `Busy`: the caller asks again
    /// (a write among them may have reached the disk; asking again writes
    /// the same bytes). The device comes up again in the first event after
    /// the hand-over, when the predecessor's buffers are gone and the DMA
    /// grant has room.
    fn restore_state(capabilities: Capabilities, saved: &[u8], format: u32) -> Result<Self> {
        if format != STATE_FORMAT {
            cella_sdk::error!("state format {format} is not {STATE_FORMAT}: refused");
            return Err(ErrorCode::BadArgument);
        }
        let (&count, entries) = saved.split_first().ok_or(ErrorCode::BadArgument)?;
        let entries = entries
            .get(..usize::from(count) * SAVED_REQUEST_BYTES)
            .filter(|_| usize::from(count) <= REQUESTS_IN_FLIGHT)
            .ok_or(ErrorCode::BadArgument)?;
        let Capabilities { disk, dma, poll } = capabilities;
        let reset = Transport::new(&disk).and_then(|transport| transport.reset());
        if let Err(error) = reset {
            cella_sdk::error!("the device did not reset: {error}");
            return Err(ErrorCode::DeviceError);
        }
        let mut reply = [0u8; 64];
        for entry in entries.chunks_exact(SAVED_REQUEST_BYTES) {
            let word = |at: usize| {
                u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
            };
            let message = Message::new(word(0) as i32, word(4) as i32);
            if let Handled::Answered(length) = server::failed(word(8), BlockError::Busy, &mut reply)
                && let Err(error) = message.reply(&reply[..length])
            {
                cella_sdk::warn!("request {} was not answered: {error}", word(8));
            }
        }
        if let Err(error) = poll.set_after(0) {
            cella_sdk::warn!("no timer to bring the device up ({error}): the next request does");
        }
        cella_sdk::info!(
            "version {CELLA_VERSION} took over: the device was reset; requests in flight: {count}, answered busy"
        );
        Ok(VirtioBlock {
            disk,
            dma,
            server: None,
            irq: None,
            poll,
        })
    }
}
