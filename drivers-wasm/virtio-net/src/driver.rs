//! The driver itself: the device brought up, the `net` requests served, the
//! waiting `receive` answered from interrupts and the timer, and the
//! hand-over of a hot swap.

use crate::{CELLA_VERSION, Capabilities};
use cella_sdk::interfaces::net::{Frames, Lent, MacText, NetError};
use cella_sdk::interfaces::wire;
use cella_sdk::{DmaBuffer, DmaPool, ErrorCode, Handle, Irq, Lend, MAX_MESSAGE_BYTES, Message};
use cella_sdk::{Mmio, Module, PciDevice, Result, Timer};
use cella_virtio::net::{DMA_BYTES, HELD_FRAMES, MTU, Nic, TRANSMIT_IN_FLIGHT};
use cella_virtio::net_server::{self, NetServer, Polled};
use cella_virtio::server::Handled;
use cella_virtio::transport::Transport;

/// How long a waiting `receive` waits for its interrupt before the driver
/// looks at the used ring itself: 10 ms.
pub const POLL_NANOSECONDS: u64 = 10_000_000;

/// The most bytes of frames one `receive_lent` packs (on the stack, then
/// into the lent buffer): ten full-size frames, or some two hundred of the
/// short ones TCP acknowledges with.
pub const LENT_STAGING_BYTES: usize = 16384;

/// The MSI-X table entry both queues' interrupts go to.
pub const MSIX_ENTRY: u16 = 0;

/// The state format `save_state` writes and `restore_state` reads: `[count:
/// u8]` (0 or 1) then, for the waiting `receive`, `[message request id: u32
/// LE][message length: u32 LE]`.
pub const STATE_FORMAT: u32 = 1;
/// Bytes of the waiting `receive` in the saved state.
const SAVED_RECEIVE_BYTES: usize = 8;

/// The DMA grant the module asks for holds the device's buffers.
const _: () = assert!(DMA_BYTES <= 65536);

/// The driver's state between events.
pub struct VirtioNet {
    card: PciDevice,
    dma: DmaPool,
    /// `None` from a hot swap's hand-over until the first event after it,
    /// when the predecessor's DMA buffers are gone and the device comes up
    /// again.
    server: Option<NetServer<Mmio, DmaBuffer, Message>>,
    irq: Option<Irq>,
    poll: Timer,
}

impl VirtioNet {
    /// Brings the device up: reset, features, both queues (their interrupts
    /// pointed at MSI-X entry [`MSIX_ENTRY`]), every receive buffer posted,
    /// then the interrupt: the kernel's MSI-X vector for that entry if the
    /// device took it, else the INTx line.
    fn bring_up(&mut self) -> Result<()> {
        let started = Nic::start(&self.card, &self.dma, Some(MSIX_ENTRY));
        let mut nic = started.map_err(|error| {
            cella_sdk::error!("the device did not come up: {error}");
            ErrorCode::DeviceError
        })?;
        self.irq = cella_virtio::interrupt::enable(&self.card, &mut nic, "frames")?;
        let link = match nic.link_up() {
            Ok(true) => "up",
            Ok(false) => "down",
            Err(_) => "unknown",
        };
        cella_sdk::info!(
            "MAC {}, MTU {MTU}, link {link}; {HELD_FRAMES} received frames held at most, {TRANSMIT_IN_FLIGHT} sent at once",
            MacText(nic.mac()),
        );
        self.server = Some(NetServer::new(nic));
        Ok(())
    }

    /// The server, the device brought up first if a hot swap left it down.
    /// A device that does not come up then ends the instance, so the
    /// supervisor starts a new one.
    fn server(&mut self) -> &mut NetServer<Mmio, DmaBuffer, Message> {
        if self.server.is_none() && self.bring_up().is_err() {
            panic!("virtio-net {CELLA_VERSION}: the device did not come up after a hot swap");
        }
        match self.server.as_mut() {
            Some(server) => server,
            None => panic!("virtio-net {CELLA_VERSION}: no device"),
        }
    }

    /// Takes in what the device finished and answers the waiting `receive`
    /// if a frame arrived or its time is up; then arms the timer for what
    /// still waits. After device garbage, ends the instance.
    fn answer_waiting(&mut self) -> Result<()> {
        let mut refused = None;
        let lent = self.server().waiting_lent_bytes();
        let polled = with_staging(lent, |staging| {
            self.server().poll(
                cella_sdk::time::now(),
                staging,
                |message, reply, written| {
                    if let Err(error) = answer(&message, reply, written) {
                        refused = Some(error);
                    }
                },
            )
        });
        if let Some(error) = refused {
            cella_sdk::warn!("an answer was not taken: {error}");
        }
        if let Polled::GaveUp(error) = polled {
            // The waiting receive was answered (a device error); the fault
            // makes the supervisor start a new instance, whose `init`
            // resets the device and brings it up afresh.
            let _ = self.poll.cancel();
            panic!("the device wrote garbage into a used ring ({error}); the driver restarts");
        }
        self.arm()
    }

    /// Arms the timer for the waiting `receive`'s deadline, or the poll
    /// interval if that is sooner; disarms it when nothing waits.
    fn arm(&mut self) -> Result<()> {
        match self.server.as_ref().and_then(NetServer::deadline) {
            Some(deadline) => {
                let poll = cella_sdk::time::now().saturating_add(POLL_NANOSECONDS);
                self.poll.set_deadline(deadline.min(poll))
            }
            None => self.poll.cancel(),
        }
    }
}

/// The size of the buffer lent read-write with a `receive_lent` (0 for any
/// other request, or when none was lent: the server answers `NoLoan`).
fn lent_size(message: &Message, request: &[u8]) -> usize {
    if !net_server::is_lent_receive(request) {
        return 0;
    }
    message.loan(Lend::ReadWrite).map_or(0, |buffer| {
        usize::try_from(buffer.size()).unwrap_or(usize::MAX)
    })
}

/// Answers `message` with `reply`, the frames `written` (a `receive_lent`'s)
/// copied into the buffer lent with it first.
fn answer(message: &Message, reply: &[u8], written: &[u8]) -> Result<()> {
    if !written.is_empty() {
        message.loan(Lend::ReadWrite)?.write(0, written)?;
    }
    message.reply(reply)
}

/// Answers a handed-over waiting `receive` (or `receive_lent`) with no
/// frames: its caller asks again.
fn answer_with_none(message: &Message) -> Result<()> {
    let mut request = [0u8; 64];
    let lent = message
        .read(&mut request)
        .is_ok_and(net_server::is_lent_receive);
    let mut reply = [0u8; 16];
    let length = if lent {
        let none = Ok::<Lent, NetError>(Lent {
            count: 0,
            dropped: 0,
            bytes: 0,
        });
        wire::encode(&none, &mut reply)
    } else {
        let none = Ok::<Frames<'_>, NetError>(Frames {
            count: 0,
            dropped: 0,
            frames: &[],
        });
        wire::encode(&none, &mut reply)
    }
    .map_err(|_| ErrorCode::Exhausted)?;
    message.reply(&reply[..length])
}

impl Module for VirtioNet {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<VirtioNet> {
        let Capabilities { card, dma, poll } = capabilities;
        let mut driver = VirtioNet {
            card,
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
        let mut reply = [0; MAX_MESSAGE_BYTES as usize];
        let lent = lent_size(&message, request);
        let answered = with_staging(lent, |staging| {
            let now = cella_sdk::time::now();
            let handled = self
                .server()
                .request(message, request, now, &mut reply, &mut *staging);
            match handled {
                Handled::Answered(length) => {
                    let written = net_server::lent_bytes(&reply[..length]).min(staging.len());
                    answer(&message, &reply[..length], &staging[..written])
                }
                Handled::Pending => self.arm(),
                Handled::Malformed(error) => {
                    cella_sdk::warn!("a request of {} bytes not answered: {error}", request.len());
                    message.reply(&[])
                }
            }
        });
        // Garbage met while serving the request (in a used ring looked at for `send` or
        // `receive`) gives the device up now rather than at the next interrupt.
        if self.server().nic().is_some_and(Nic::is_broken) {
            self.answer_waiting()?;
        }
        answered
    }

    fn on_irq(&mut self, irq: Handle) -> Result<()> {
        // Reading the interrupt status acknowledges it on the device.
        let _ = self.server().interrupt_status();
        self.answer_waiting()?;
        match self.irq {
            Some(line) if line.is(irq) => line.acknowledge(),
            _ => Ok(()),
        }
    }

    fn on_timer(&mut self, _timer: Handle) -> Result<()> {
        self.answer_waiting()
    }

    /// The waiting `receive`, if any (see [`STATE_FORMAT`]): the next
    /// version answers it.
    fn save_state(&self, out: &mut [u8]) -> Result<usize> {
        let waiting = self.server.as_ref().and_then(NetServer::waiting);
        let out = out
            .get_mut(..1 + SAVED_RECEIVE_BYTES)
            .ok_or(ErrorCode::Exhausted)?;
        let Some(message) = waiting else {
            out[0] = 0;
            return Ok(1);
        };
        out[0] = 1;
        out[1..5].copy_from_slice(&message.request_id().to_le_bytes());
        out[5..9].copy_from_slice(&(message.len() as u32).to_le_bytes());
        Ok(1 + SAVED_RECEIVE_BYTES)
    }

    /// Resets the device, so it writes nothing more into the predecessor's
    /// DMA buffers (freed when this version takes over; the frames held
    /// there are lost), and answers the predecessor's waiting `receive`
    /// with no frames: its caller asks again. The device comes up again in
    /// the first event after the hand-over, when the predecessor's buffers
    /// are gone and the DMA grant has room.
    fn restore_state(capabilities: Capabilities, saved: &[u8], format: u32) -> Result<Self> {
        if format != STATE_FORMAT {
            cella_sdk::error!("state format {format} is not {STATE_FORMAT}: refused");
            return Err(ErrorCode::BadArgument);
        }
        let waiting = match saved {
            [0] => None,
            [1, entry @ ..] if entry.len() == SAVED_RECEIVE_BYTES => {
                let word = |at: usize| {
                    u32::from_le_bytes([entry[at], entry[at + 1], entry[at + 2], entry[at + 3]])
                };
                Some(Message::new(word(0) as i32, word(4) as i32))
            }
            _ => return Err(ErrorCode::BadArgument),
        };
        let Capabilities { card, dma, poll } = capabilities;
        let reset = Transport::new(&card).and_then(|transport| transport.reset());
        if let Err(error) = reset {
            cella_sdk::error!("the device did not reset: {error}");
            return Err(ErrorCode::DeviceError);
        }
        if let Some(message) = waiting
            && let Err(error) = answer_with_none(&message)
        {
            cella_sdk::warn!("the waiting receive was not answered: {error}");
        }
        if let Err(error) = poll.set_after(0) {
            cella_sdk::warn!("no timer to bring the device up ({error}): the next request does");
        }
        cella_sdk::info!(
            "version {CELLA_VERSION} took over: the device was reset, the frames it held are dropped; a waiting receive: {}",
            if waiting.is_some() {
                "answered with none"
            } else {
                "none"
            }
        );
        Ok(VirtioNet {
            card,
            dma,
            server: None,
            irq: None,
            poll,
        })
    }
}

/// Runs `work` with a zeroed staging array for a `receive_lent` of `lent`
/// bytes (at most [`LENT_STAGING_BYTES`]), made only when one is lent: an
/// interrupt, a timer and a `send` come with every frame and need none.
fn with_staging<T>(lent: usize, work: impl FnOnce(&mut [u8]) -> T) -> T {
    if lent == 0 {
        return work(&mut []);
    }
    let mut storage = [0u8; LENT_STAGING_BYTES];
    work(&mut storage[..lent.min(LENT_STAGING_BYTES)])
}
