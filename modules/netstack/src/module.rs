//! The Wasm module: the `sockets` endpoint served by [`Stack`] over the
//! `net` endpoint. One `net receive_lent` call is out at all times, lending
//! the driver a DMA buffer of [`LENT_BYTES`] for the frames (answered in
//! `on_reply`, so socket requests are served while it waits; without the
//! buffer, a plain `receive` brings them in its answer); the frames
//! smoltcp makes go out as `net send` calls, at most [`SENDS_IN_FLIGHT`] at
//! once; the stack is polled when frames arrive, on the timer (smoltcp's
//! next deadline) and after each socket request. The UDP echo service
//! ([`Echo`], port 7) is served after each poll.

use crate::echo::Echo;
use crate::link::Link;
use crate::stack::{Addressing, Settings, Stack};
use cella_sdk::interfaces::net::{self, MAX_FRAME_BYTES};
use cella_sdk::interfaces::sockets::{self, Configuration};
use cella_sdk::{CallId, DmaBuffer, Endpoint, ErrorCode, Handle, Lend, MAX_MESSAGE_BYTES};
use cella_sdk::{Message, Module, Reply, Result, Timer};

cella_sdk::module! {
    name: "netstack",
    version: "1.0.0",
    module: NetStack,
    capabilities: {
        net: endpoint("net"),
        timer: timer(),
        // The buffer lent with each `receive_lent`.
        frames: dma(16384),
    },
}

/// The buffer lent to the driver for the frames of one `receive_lent`: the
/// most the driver packs into one (cella-virtio-net's staging).
pub const LENT_BYTES: usize = 16384;

// smoltcp's sockets allocate their buffers; the heap grows the module's memory.
#[global_allocator]
static HEAP: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// `net send` calls out at once; while that many are, smoltcp keeps its
/// frames.
pub const SENDS_IN_FLIGHT: usize = 8;
/// How long a `net send` may take.
const SEND_DEADLINE_MS: u32 = 2_000;
/// A `net receive` waits this long for a frame: the driver holds one
/// waiting `receive` at a time, so after a restart of this module the
/// predecessor's is answered (and the link free again) within a second.
const RECEIVE_WAIT_MS: u32 = 1_000;
/// Its call allows more.
const RECEIVE_DEADLINE_MS: u32 = RECEIVE_WAIT_MS + 5_000;
/// How long after a failed `net` call it is made again.
const RETRY_MS: u64 = 500;
/// The address the stack is made with until the driver tells the link's.
const PLACEHOLDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

/// The `net` endpoint as the stack's link: each frame one `send` call.
pub struct NetLink {
    net: Endpoint,
    in_flight: usize,
    /// Frames the driver did not take (refused, or the call failed).
    lost: u64,
}

impl Link for NetLink {
    fn ready(&self) -> bool {
        self.in_flight < SENDS_IN_FLIGHT
    }

    fn send(&mut self, frame: &[u8]) {
        let mut request = [0u8; MAX_FRAME_BYTES + 16];
        let sent = net::send::request(&mut request, frame)
            .ok()
            .and_then(|length| self.net.call(&request[..length], SEND_DEADLINE_MS).ok());
        match sent {
            Some(_) => self.in_flight += 1,
            None => self.lost += 1,
        }
    }
}

/// The module's state between events.
pub struct NetStack {
    net: Endpoint,
    timer: Timer,
    stack: Stack<NetLink>,
    /// The UDP echo service, if its port could be bound.
    echo: Option<Echo>,
    /// The datagrams the echo service dropped, as last logged.
    logged_echo_dropped: u64,
    /// The `info` call out, until the driver tells the MAC address.
    info_call: Option<CallId>,
    /// Whether the driver told the MAC address (the stack polls only then).
    link_known: bool,
    /// The `receive` call out.
    receive_call: Option<CallId>,
    /// The buffer lent with it (`None`: the DMA grant gave none, and frames
    /// come in the answers of plain `receive` calls).
    lent: Option<DmaBuffer>,
    /// When a failed `net` call is made again (milliseconds since boot).
    retry_at_ms: Option<u64>,
    /// The configuration last logged.
    logged: Configuration,
    /// Frames lost so far, as last logged.
    logged_lost: u64,
}

fn now_ms() -> u64 {
    cella_sdk::time::now() / 1_000_000
}

impl NetStack {
    fn ask_info(&mut self) {
        let mut request = [0u8; 16];
        self.info_call = net::info::request(&mut request)
            .ok()
            .and_then(|length| self.net.call(&request[..length], SEND_DEADLINE_MS).ok());
        if self.info_call.is_none() {
            self.retry_at_ms = Some(now_ms() + RETRY_MS);
        }
    }

    fn ask_frames(&mut self) {
        let mut request = [0u8; 32];
        if let Some(buffer) = &self.lent {
            let lending = net::receive_lent::request(&mut request, RECEIVE_WAIT_MS)
                .map_err(|_| ErrorCode::Exhausted)
                .and_then(|length| {
                    self.net.call_lending(
                        &request[..length],
                        RECEIVE_DEADLINE_MS,
                        buffer,
                        Lend::ReadWrite,
                    )
                });
            match lending {
                Ok(call) => {
                    self.receive_call = Some(call);
                    return;
                }
                // The buffer is still lent with a call whose answer has not come (a
                // predecessor's, replayed): ask again later.
                Err(ErrorCode::Busy) => {
                    self.retry_at_ms = Some(now_ms() + RETRY_MS);
                    return;
                }
                Err(error) => {
                    self.stop_lending(&format_args!("a lending call is refused ({error})"))
                }
            }
        }
        self.receive_call = net::receive::request(&mut request, RECEIVE_WAIT_MS)
            .ok()
            .and_then(|length| self.net.call(&request[..length], RECEIVE_DEADLINE_MS).ok());
        if self.receive_call.is_none() {
            self.retry_at_ms = Some(now_ms() + RETRY_MS);
        }
    }

    /// Polls the stack (once the link is known), logs what changed, and
    /// arms the timer for the next poll or retry.
    fn run(&mut self) {
        let now = now_ms();
        let mut next = self.retry_at_ms.map(|at| at.saturating_sub(now));
        if self.link_known {
            let mut delay = self.stack.poll(now);
            // Datagrams the poll delivered to the echo service go back at a second poll.
            if let Some(echo) = self.echo.as_mut()
                && echo.serve(&mut self.stack) > 0
            {
                delay = self.stack.poll(now);
            }
            if let Some(delay) = delay {
                next = Some(next.map_or(delay, |retry| retry.min(delay)));
            }
        }
        if let Some(echo) = &self.echo
            && echo.dropped != self.logged_echo_dropped
        {
            cella_sdk::warn!(
                "echo: {} more datagrams not answered ({} in all)",
                echo.dropped - self.logged_echo_dropped,
                echo.dropped
            );
            self.logged_echo_dropped = echo.dropped;
        }
        let configuration = self.stack.configuration();
        if configuration != self.logged {
            cella_sdk::info!("address: {configuration}");
            self.logged = configuration;
        }
        let lost = self.stack.link().lost;
        if lost != self.logged_lost {
            cella_sdk::warn!(
                "net did not take {} more frames ({lost} in all)",
                lost - self.logged_lost
            );
            self.logged_lost = lost;
        }
        if let Some(delay) = next
            && let Err(error) = self.timer.set_after(delay.max(1) * 1_000_000)
        {
            cella_sdk::warn!("cannot arm the timer: {error}");
        }
    }

    fn took_info(&mut self, reply: &Reply) {
        let mut buffer = [0u8; 64];
        let info = reply
            .read(&mut buffer)
            .ok()
            .and_then(|bytes| net::info::reply(bytes).ok());
        match info {
            Some(Ok(info)) => match self.stack.set_mac(info.mac) {
                Ok(()) => {
                    cella_sdk::info!("link {info}; asking DHCP for an address");
                    self.link_known = true;
                    self.ask_frames();
                }
                Err(error) => cella_sdk::error!("the link's MAC address is refused: {error}"),
            },
            Some(Err(error)) => {
                cella_sdk::warn!("net info: {error}; asking again");
                self.retry_at_ms = Some(now_ms() + RETRY_MS);
            }
            None => {
                cella_sdk::warn!("net info did not answer; asking again");
                self.retry_at_ms = Some(now_ms() + RETRY_MS);
            }
        }
    }

    /// Takes frames in the answers of plain `receive` calls from now on.
    fn stop_lending(&mut self, why: &dyn core::fmt::Display) {
        cella_sdk::warn!("{why}: frames come in answers from now on");
        self.lent = None;
    }

    fn took_frames(&mut self, reply: &Reply) {
        let mut buffer = [0u8; MAX_MESSAGE_BYTES as usize];
        let bytes = match reply.read(&mut buffer) {
            Ok(bytes) => bytes,
            // The server takes no lent buffer (a native process does not): the call failed
            // as a whole.
            Err(ErrorCode::Denied) if self.lent.is_some() => {
                self.stop_lending(&"the driver refused the lent buffer");
                self.ask_frames();
                return;
            }
            Err(_) => {
                self.retry_at_ms = Some(now_ms() + RETRY_MS);
                return;
            }
        };
        let taken = match &self.lent {
            Some(lent) => take_lent(&mut self.stack, bytes, lent),
            None => net::receive::reply(bytes)
                .map_err(|_| None)
                .and_then(|answer| answer.map_err(Some))
                .map(|frames| {
                    for frame in frames.frames().flatten() {
                        self.stack.receive_frame(frame);
                    }
                }),
        };
        match taken {
            Ok(()) => self.ask_frames(),
            Err(Some(net::NetError::NoLoan)) => {
                self.stop_lending(&"the driver takes no lent buffer");
                self.ask_frames();
            }
            Err(Some(error)) => {
                cella_sdk::warn!("net receive: {error}; asking again");
                self.retry_at_ms = Some(now_ms() + RETRY_MS);
            }
            Err(None) => self.retry_at_ms = Some(now_ms() + RETRY_MS),
        }
    }
}

/// Hands the stack the frames a `receive_lent` answered with `answer`
/// wrote into `lent`: `Err(Some)` the driver's refusal, `Err(None)` an
/// answer or a buffer that does not decode.
fn take_lent(
    stack: &mut Stack<NetLink>,
    answer: &[u8],
    lent: &DmaBuffer,
) -> core::result::Result<(), Option<net::NetError>> {
    let answer = net::receive_lent::reply(answer)
        .map_err(|_| None)?
        .map_err(Some)?;
    let mut written = [0u8; LENT_BYTES];
    let length = answer.bytes as usize;
    let written = written.get_mut(..length).ok_or(None)?;
    lent.read(0, written).map_err(|_| None)?;
    for frame in answer.frames(written).flatten() {
        stack.receive_frame(frame);
    }
    Ok(())
}

impl Module for NetStack {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<NetStack> {
        let link = NetLink {
            net: capabilities.net,
            in_flight: 0,
            lost: 0,
        };
        let settings = Settings {
            mac: PLACEHOLDER_MAC,
            epoch: cella_sdk::time::epoch(),
            addressing: Addressing::Dhcp,
        };
        let mut stack = Stack::new(link, settings, now_ms()).map_err(|_| ErrorCode::BadArgument)?;
        let echo = match Echo::open(&mut stack) {
            Ok(echo) => Some(echo),
            Err(error) => {
                cella_sdk::warn!("no UDP echo service: {error}");
                None
            }
        };
        let logged = stack.configuration();
        let lent = match capabilities.frames.allocate(LENT_BYTES as u32) {
            Ok(buffer) => Some(buffer),
            Err(error) => {
                cella_sdk::warn!("no buffer to lend for frames ({error}): they come in answers");
                None
            }
        };
        let mut module = NetStack {
            net: capabilities.net,
            timer: capabilities.timer,
            stack,
            echo,
            logged_echo_dropped: 0,
            info_call: None,
            link_known: false,
            receive_call: None,
            lent,
            retry_at_ms: None,
            logged,
            logged_lost: 0,
        };
        cella_sdk::info!("serving sockets and UDP echo on port 7; asking net for the link");
        module.ask_info();
        module.run();
        Ok(module)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        self.stack.advance_clock(now_ms());
        let answered =
            message.answer(|request, reply| sockets::serve(&mut self.stack, request, reply));
        self.run();
        answered
    }

    fn on_reply(&mut self, reply: Reply) -> Result<()> {
        let call = Some(reply.call());
        if call == self.info_call {
            self.info_call = None;
            self.took_info(&reply);
        } else if call == self.receive_call {
            self.receive_call = None;
            self.took_frames(&reply);
        } else {
            let link = self.stack.link_mut();
            link.in_flight = link.in_flight.saturating_sub(1);
            let mut buffer = [0u8; 16];
            let taken = reply
                .read(&mut buffer)
                .ok()
                .and_then(|bytes| net::send::reply(bytes).ok())
                .is_some_and(|answer| answer.is_ok());
            if !taken {
                link.lost += 1;
            }
        }
        self.run();
        Ok(())
    }

    fn on_timer(&mut self, _timer: Handle) -> Result<()> {
        if self.retry_at_ms.is_some_and(|at| at <= now_ms()) {
            self.retry_at_ms = None;
            if !self.link_known && self.info_call.is_none() {
                self.ask_info();
            } else if self.link_known && self.receive_call.is_none() {
                self.ask_frames();
            }
        }
        self.run();
        Ok(())
    }
}
