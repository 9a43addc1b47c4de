//! Network link: frames through the virtio-net driver for real, with the TCP/IP server (the
//! driver's other client) stopped first. A DHCP DISCOVER built by hand
//! goes out through `net`'s `send`, and `receive` (waiting for frames) brings QEMU's user
//! network's DHCP OFFER back; then, [`CYCLES`] times, the driver is hot-swapped while a
//! `receive` waits (the new version answers it) and faulted from outside (the supervisor
//! restarts it), and each time the link answers a DISCOVER again; last, the receive queue's
//! used index is moved far ahead behind the driver's back, and the next `receive` must make the
//! driver give the device up and fault itself, after which the link answers again. The kernel
//! heap must not grow from the first cycle to the last. The QEMU test (tests/tests/network_link.rs) checks the
//! offers' fields from the lines printed.

use super::dhcp_frames::{self, Offer};
use super::heap_watch::{check_growth, heap_in_use};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::net::{self, Info, NetError};
use cella_kernel::module_host::device_access;
use cella_kernel::module_host::services::System;
use cella_kernel::supervisor::command_line::Command;
use cella_kernel::{kprintln, time};

const DRIVER: &str = "virtio-net";
/// The TCP/IP server, if the system has it.
const STACK: &str = "netstack";
/// Long enough for the stopped server's waiting `receive` (1 s) to be
/// answered.
const STACK_RECEIVE_RUNS_OUT_NS: u64 = 1_500_000_000;
const DRIVER_FILE: &str = "modules/virtio-net.wasm";
/// Swap, fault, DISCOVER: this many times.
const CYCLES: u32 = 8;
/// How long one `receive` waits for a frame.
const WAIT_MS: u32 = 500;
/// How long a DISCOVER may go unanswered before it is sent again, and how many times.
const ATTEMPT_NANOSECONDS: u64 = 2_000_000_000;
const ATTEMPTS: u32 = 5;
/// Kernel heap growth tolerated from the end of the first cycle to the last: far below one
/// leaked driver instance.
const TOLERATED_GROWTH_BYTES: usize = 64 * 1024;
/// The receive queue as cella-virtio lays it out (32 entries): a DMA buffer of 846 bytes whose
/// used ring's index is at byte 586.
const RECEIVE_QUEUE_BYTES: u64 = 846;
const RECEIVE_USED_INDEX_AT: u64 = 586;
/// How far ahead the garbage moves the used index: more than the queue holds.
const GARBAGE_AHEAD: u16 = 100;

/// Sends `request` to `net` and runs the loop until it is answered; the answer's bytes.
fn call(system: &mut System, request: &[u8]) -> Result<Vec<u8>, String> {
    let id = system
        .send_collected(net::ENDPOINT, request)
        .ok_or_else(|| format!("nobody serves `{}`", net::ENDPOINT))?;
    super::run_until(system, |system| system.has_collected_reply(id))?;
    Ok(system.take_collected_reply(id).unwrap_or_default())
}

fn info(system: &mut System) -> Result<Info, String> {
    let mut request = [0u8; 16];
    let length = net::info::request(&mut request).map_err(|error| format!("{error}"))?;
    let reply = call(system, &request[..length])?;
    match net::info::reply(&reply) {
        Ok(Ok(info)) => Ok(info),
        Ok(Err(error)) => Err(format!("info: {error}")),
        Err(error) => Err(format!("info answered {} bytes: {error}", reply.len())),
    }
}

fn send(system: &mut System, frame: &[u8]) -> Result<(), String> {
    let mut request = [0u8; 2048];
    let length = net::send::request(&mut request, frame).map_err(|error| format!("{error}"))?;
    let reply = call(system, &request[..length])?;
    match net::send::reply(&reply) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(format!("send: {error}")),
        Err(error) => Err(format!("send answered {} bytes: {error}", reply.len())),
    }
}

fn receive_request(wait_ms: u32) -> Result<Vec<u8>, String> {
    let mut request = [0u8; 32];
    let length =
        net::receive::request(&mut request, wait_ms).map_err(|error| format!("{error}"))?;
    Ok(request[..length].to_vec())
}

/// The offer among the frames of a `receive` answer, if one is there; how many frames came.
fn offer_in(reply: &[u8], xid: u32) -> Result<(Option<Offer>, u16), String> {
    let frames = match net::receive::reply(reply) {
        Ok(Ok(frames)) => frames,
        Ok(Err(error)) => return Err(format!("receive: {error}")),
        Err(error) => return Err(format!("receive answered {} bytes: {error}", reply.len())),
    };
    let mut found = None;
    for frame in frames.frames() {
        let frame = frame.map_err(|error| format!("a frame does not decode: {error}"))?;
        found = found.or_else(|| dhcp_frames::offer(frame, xid));
    }
    Ok((found, frames.count))
}

/// Sends a DISCOVER with transaction `xid` and waits for its offer, sending it again after
/// [`ATTEMPT_NANOSECONDS`] without one.
fn discover(system: &mut System, mac: [u8; 6], xid: u32) -> Result<Offer, String> {
    let frame = dhcp_frames::discover(mac, xid);
    let receive = receive_request(WAIT_MS)?;
    for _ in 0..ATTEMPTS {
        send(system, &frame)?;
        let limit = time::now_nanoseconds() + ATTEMPT_NANOSECONDS;
        while time::now_nanoseconds() < limit {
            let reply = call(system, &receive)?;
            if let (Some(offer), _) = offer_in(&reply, xid)? {
                return Ok(offer);
            }
        }
    }
    Err(format!(
        "no DHCP offer for transaction {xid:#x} after {ATTEMPTS} DISCOVERs"
    ))
}

/// Swaps the driver while a `receive` waits in it; how the waiting one was answered.
fn swap_while_waiting(system: &mut System, driver: usize) -> Result<String, String> {
    let request = receive_request(net::MAX_WAIT_MS)?;
    let id = system
        .send_collected(net::ENDPOINT, &request)
        .ok_or_else(|| String::from("nobody serves `net`"))?;
    super::run_until(system, |system| system.pending_requests(driver) > 0)?;
    let swapped = system.swap(DRIVER, DRIVER_FILE)?;
    super::run_until(system, |system| system.has_collected_reply(id))?;
    let reply = system.take_collected_reply(id).unwrap_or_default();
    let answer = match net::receive::reply(&reply) {
        Ok(Ok(frames)) => format!("{frames}"),
        Ok(Err(NetError::DeviceError)) | Err(_) => {
            return Err(format!(
                "the waiting receive was answered {} bytes that are no frames",
                reply.len()
            ));
        }
        Ok(Err(error)) => format!("{error}"),
    };
    Ok(format!(
        "swapped {} -> {} (events stopped for {} us); the waiting receive was answered: {answer}",
        swapped.old_version,
        swapped.new_version,
        swapped.blackout_ns / 1000
    ))
}

/// Moves the receive queue's used index [`GARBAGE_AHEAD`] entries ahead, as a device writing
/// garbage would, then asks for frames. The driver must fault itself and come back, and no
/// garbage may be answered: the receive is answered with a device error, or, when an
/// interrupt of the card reached the driver first and it faulted in that event, by the
/// restarted instance with no frames. The fault's reason.
fn garbage_in_receive_ring(system: &mut System, driver: usize) -> Result<String, String> {
    system.wait_until_home(driver);
    let (queue, _) = system
        .dma_buffers(driver)
        .into_iter()
        .find(|(_, size)| *size == RECEIVE_QUEUE_BYTES)
        .ok_or_else(|| String::from("the driver holds no receive queue"))?;
    let mut index = [0u8; 2];
    device_access::dma_read(queue + RECEIVE_USED_INDEX_AT, &mut index);
    let ahead = u16::from_le_bytes(index).wrapping_add(GARBAGE_AHEAD);
    device_access::dma_write(queue + RECEIVE_USED_INDEX_AT, &ahead.to_le_bytes());
    let before = system.faults().len();
    system.reset_restart_history(driver);
    let generation = system.module(driver).generation;
    let reply = call(system, &receive_request(0)?)?;
    let restarted_first =
        system.faults().len() > before && system.module(driver).generation != generation;
    match net::receive::reply(&reply) {
        Ok(Err(NetError::DeviceError)) => {}
        Ok(Ok(frames)) if restarted_first && frames.count == 0 => {}
        _ => {
            return Err(format!(
                "a receive after garbage was answered {} bytes, not a device error{}",
                reply.len(),
                if restarted_first {
                    " nor an empty answer of the restarted driver"
                } else {
                    " (the driver did not fault first)"
                }
            ));
        }
    }
    super::run_until(system, |system| system.faults().len() > before)?;
    let reason = system
        .faults()
        .get(before)
        .map(|record| record.reason.clone())
        .unwrap_or_default();
    super::run_until(system, |system| system.module(driver).is_running())?;
    Ok(reason)
}

pub fn run(system: &mut System) -> Result<(), String> {
    let driver = system
        .find(DRIVER)
        .ok_or_else(|| format!("no module {DRIVER}"))?;
    system.run_for(100_000_000);
    // The scenario drives the link itself: the TCP/IP server, the driver's
    // other client, stops, and its waiting `receive` runs out.
    if system.find(STACK).is_some() {
        system.command(Command::Stop {
            module: String::from(STACK),
            force: false,
        })?;
        system.run_for(STACK_RECEIVE_RUNS_OUT_NS);
    }
    let link = info(system)?;
    kprintln!("network_link: link {link}");
    let offer = discover(system, link.mac, 0x4365_6c00)?;
    kprintln!("network_link: first {offer}");
    let mut warm_heap = None;
    for cycle in 0..CYCLES {
        let swapped = swap_while_waiting(system, driver)?;
        kprintln!("network_link: cycle {cycle}: {swapped}");
        system.reset_restart_history(driver);
        system
            .fault_from_outside(driver, "fault injected by the network_link scenario")
            .ok_or_else(|| String::from("the driver has no live instance"))?;
        super::run_until(system, |system| system.module(driver).is_running())?;
        let offer = discover(system, link.mac, 0x4365_6c01 + cycle)?;
        kprintln!("network_link: cycle {cycle}: faulted and restarted; {offer}");
        if cycle == 0 {
            warm_heap = Some(heap_in_use(system));
        }
    }
    let reason = garbage_in_receive_ring(system, driver)?;
    let offer = discover(system, link.mac, 0x4365_6cff)?;
    kprintln!("network_link: garbage: the driver faulted ({reason}); restarted; {offer}");
    let after = heap_in_use(system);
    check_growth(
        "network_link",
        warm_heap.unwrap_or(after),
        after,
        TOLERATED_GROWTH_BYTES,
    )?;
    system.settle();
    Ok(())
}
