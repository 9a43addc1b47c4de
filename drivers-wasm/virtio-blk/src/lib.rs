//! virtio-blk: Cella's virtio block driver — brings up a virtio-blk PCI function (virtio 1.x, through the IOMMU) and serves its disk on the `block` endpoint.
//!
//! It serves the typed interface `cella_sdk::interfaces::block`. `capacity`
//! is answered at once; a `read`, `write` or `flush` is checked (sectors in
//! range, at most 7, whole sectors, a writable disk), put on the device's
//! request queue in a free slot and answered when the device has finished
//! it. Four requests are in flight at most; a fifth is answered `Busy`.
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

mod answers;

use answers::answer;
use cella_sdk::interfaces::block::{
    BlockError, Capacity, Data, Done, Failed, MAX_TRANSFER_BYTES, Request, SECTOR_BYTES,
};
use cella_sdk::{DmaBuffer, ErrorCode, Handle, Irq, MAX_MESSAGE_BYTES, Message, Mmio, Module};
use cella_sdk::{Result, Timer};
use cella_virtio::block::{Completion, Disk, Kind, Outcome, REQUESTS_IN_FLIGHT, Refusal};

cella_sdk::module! {
    name: "virtio-blk",
    version: "1.0.0",
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

/// A request the device holds, and who waits for its answer.
#[derive(Clone, Copy)]
struct Waiting {
    message: Message,
    id: u32,
}

/// The driver's state between events.
pub struct VirtioBlock {
    /// `None` once the device was given up on.
    disk: Option<Disk<Mmio, DmaBuffer>>,
    capacity: u64,
    irq: Option<Irq>,
    poll: Timer,
    waiting: [Option<Waiting>; REQUESTS_IN_FLIGHT],
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
        let capacity = device.capacity();
        cella_sdk::info!(
            "{capacity} sectors of {SECTOR_BYTES} bytes ({} KiB){}; {} requests in flight, answers on {}",
            capacity / 2,
            if device.read_only() {
                ", read-only"
            } else {
                ""
            },
            REQUESTS_IN_FLIGHT,
            if irq.is_some() {
                "interrupt, polled every 10 ms as well"
            } else {
                "polling every 10 ms"
            }
        );
        Ok(VirtioBlock {
            disk: Some(device),
            capacity,
            irq,
            poll,
            waiting: [None; REQUESTS_IN_FLIGHT],
        })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut buffer = [0; MAX_MESSAGE_BYTES as usize];
        let bytes = message.read(&mut buffer)?;
        if !message.is_request() {
            return Ok(());
        }
        match Request::decode(bytes) {
            Err(error) => {
                cella_sdk::warn!("a request of {} bytes not answered: {error}", bytes.len());
                message.reply(&[])
            }
            Ok(Request::Capacity) => {
                let capacity: core::result::Result<Capacity, BlockError> = match self.disk {
                    Some(_) => Ok(Capacity {
                        sectors: self.capacity,
                        sector_size: SECTOR_BYTES,
                    }),
                    None => Err(BlockError::DeviceError),
                };
                answer(message, &capacity)
            }
            Ok(request) => self.submit(message, request),
        }
    }

    fn on_irq(&mut self, irq: Handle) -> Result<()> {
        if let Some(disk) = &self.disk {
            // Reading the interrupt status acknowledges it on the device.
            let _ = disk.transport().interrupt_status();
        }
        self.drain()?;
        match self.irq {
            Some(line) if line.is(irq) => line.acknowledge(),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, _timer: Handle) -> Result<()> {
        self.drain()
    }
}

impl VirtioBlock {
    /// Checks a read, write or flush and gives it to the device, or answers
    /// why not.
    fn submit(&mut self, message: Message, request: Request<'_>) -> Result<()> {
        let id = request.id().unwrap_or(0);
        let Some(disk) = self.disk.as_mut() else {
            return refuse(message, id, BlockError::DeviceError);
        };
        let Some(slot) = disk.free_slot() else {
            return refuse(message, id, BlockError::Busy);
        };
        let submitted = match request {
            Request::Read { sector, count, .. } => disk.submit_read(slot, sector, u32::from(count)),
            Request::Write { sector, bytes, .. } => disk.submit_write(slot, sector, bytes),
            Request::Flush { .. } => disk.submit_flush(slot),
            Request::Capacity => Ok(()),
        };
        if let Err(refusal) = submitted {
            let error = match refusal {
                Refusal::OutOfRange => BlockError::OutOfRange,
                Refusal::TooLong => BlockError::TooLong,
                Refusal::BadLength => BlockError::BadLength,
                Refusal::ReadOnly => BlockError::ReadOnly,
                Refusal::Unsupported => BlockError::Unsupported,
                Refusal::Busy => BlockError::Busy,
                Refusal::Device(error) => {
                    cella_sdk::error!("request {id} not submitted: {error}");
                    BlockError::DeviceError
                }
            };
            return refuse(message, id, error);
        }
        self.waiting[slot] = Some(Waiting { message, id });
        self.poll.set_after(POLL_NANOSECONDS)
    }

    /// Answers every request the device finished; gives the device up if
    /// the used ring holds garbage. Re-arms the poll while requests remain.
    fn drain(&mut self) -> Result<()> {
        loop {
            let Some(disk) = self.disk.as_mut() else {
                return Ok(());
            };
            match disk.complete() {
                Ok(Some(completion)) => self.finish(completion)?,
                Ok(None) => break,
                Err(error) => {
                    cella_sdk::error!(
                        "giving the device up: {error}; restart the module to bring it up again"
                    );
                    disk.abandon();
                    self.disk = None;
                    for waiting in self.waiting.iter_mut().filter_map(Option::take) {
                        refuse(waiting.message, waiting.id, BlockError::DeviceError)?;
                    }
                    return Ok(());
                }
            }
        }
        if self.waiting.iter().any(Option::is_some) {
            self.poll.set_after(POLL_NANOSECONDS)?;
        }
        Ok(())
    }

    /// Answers one finished request.
    fn finish(&mut self, completion: Completion) -> Result<()> {
        let Some(waiting) = self.waiting.get_mut(completion.slot).and_then(Option::take) else {
            cella_sdk::warn!("slot {} finished with nobody waiting", completion.slot);
            return Ok(());
        };
        let Waiting { message, id } = waiting;
        match (completion.outcome, completion.kind) {
            (Outcome::Done, Kind::Read) => {
                let Some(disk) = self.disk.as_ref() else {
                    return refuse(message, id, BlockError::DeviceError);
                };
                let mut bytes = [0; MAX_TRANSFER_BYTES];
                let length = (completion.bytes as usize).min(MAX_TRANSFER_BYTES);
                if let Err(error) = disk.read_data(completion.slot, &mut bytes[..length]) {
                    cella_sdk::error!("request {id}: the data could not be copied out: {error}");
                    return refuse(message, id, BlockError::DeviceError);
                }
                let data: core::result::Result<Data<'_>, Failed> = Ok(Data {
                    id,
                    bytes: &bytes[..length],
                });
                answer(message, &data)
            }
            (Outcome::Done, Kind::Write | Kind::Flush) => {
                answer(message, &Ok::<Done, Failed>(Done { id }))
            }
            (Outcome::DeviceError, _) => refuse(message, id, BlockError::DeviceError),
            (Outcome::Unsupported, _) => refuse(message, id, BlockError::Unsupported),
        }
    }
}

/// Answers request `id` with `error`.
fn refuse(message: Message, id: u32, error: BlockError) -> Result<()> {
    answer(message, &Err::<Done, Failed>(Failed { id, error }))
}
