//! The work that runs through the drivers while a fault is in one of them:
//! an RTC read (`rtc`'s `time`: a time, not an error), the first PCI
//! function (`pci`'s `function 0`: the same identity as the good driver
//! gave at the start), a shift key pressed and
//! released through the i8042 (the keyboard driver's IRQ path), and a
//! console line through the UART driver, `fault-echo N DRIVER PAYLOAD FNV`,
//! whose checksum the host checks on the serial output.

use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::{pci, rtc};
use cella_kernel::arch::port_io::PortRange;
use cella_kernel::fnv::fnv1a_64;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;
use cella_kernel::time;

/// How long an answer from a driver that is not under fault may take.
const HEALTHY_NANOSECONDS: u64 = 1_000_000_000;
/// How long the driver under fault gets to answer.
const FAULTY_NANOSECONDS: u64 = 10_000_000;

/// What one request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Right,
    Wrong,
    /// No answer in time, or answered with an error (the module went down).
    Missing,
}

/// The requests of one round, by driver name.
pub struct Round {
    requests: Vec<(&'static str, u32)>,
}

/// The answers of one round: (driver, answer).
pub type Answers = Vec<(&'static str, Answer)>;

/// What the good drivers answer, taken at the start: the first PCI
/// function's identity (address, vendor:device, class), which no driver can
/// change. (BARs and the interrupt line are writable: a faulty PCI driver
/// may leave them changed in the device, and the good driver then reports
/// them as they are.)
pub struct Expected {
    pub pci_identity: String,
}

/// The identity in a `function` answer of the `pci` interface: the first
/// four fields of the function's line.
pub fn pci_identity(reply: &[u8]) -> Option<String> {
    let function = pci::function::reply(reply).ok()?.ok()?;
    let line = alloc::format!("{function}");
    let fields: Vec<&str> = line.split_whitespace().take(4).collect();
    Some(fields.join(" "))
}

/// The request for the first PCI function.
fn first_function() -> Vec<u8> {
    let mut request = alloc::vec![0; 16];
    let length = pci::function::request(&mut request, 0).unwrap_or(0);
    request.truncate(length);
    request
}

fn request(system: &mut System, endpoint: &str, bytes: &[u8]) -> Option<u32> {
    system.send_collected(endpoint, bytes)
}

/// Left shift pressed and released, written into the i8042's output buffer
/// (controller command 0xd2) as if typed: IRQ 1 for the keyboard driver.
fn press_shift() {
    // The controller's data and command ports (0x61 between them is the kernel's).
    let (Ok(data), Ok(command)) = (PortRange::new(0x60, 1), PortRange::new(0x64, 1)) else {
        return;
    };
    let status = || command.read(0, 1).unwrap_or(0xff);
    for scancode in [0x2a_u8, 0xaa] {
        // Wait (bounded) until the controller takes input and the last byte was read.
        for _ in 0..1000 {
            if status() & 0b11 == 0 {
                break;
            }
        }
        command.write(0, 1, 0xd2);
        for _ in 0..1000 {
            if status() & 0b10 == 0 {
                break;
            }
        }
        data.write(0, 1, u32::from(scancode));
    }
}

/// A round of requests only: an RTC read and the first PCI function.
pub fn requests(system: &mut System) -> Round {
    let mut requests = Vec::new();
    if let Some(id) = request(system, "rtc", b"time") {
        requests.push(("cmos-rtc", id));
    }
    if let Some(id) = request(system, "pci", &first_function()) {
        requests.push(("pci", id));
    }
    Round { requests }
}

/// Starts round `number` with `target` under fault: requests queued, a key
/// pressed, an echo line written.
pub fn start(system: &mut System, number: u64, target: &str) -> Round {
    let round = requests(system);
    press_shift();
    let mut payload = String::new();
    let mut state = number.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..16 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        payload.push(char::from(b'a' + (state % 26) as u8));
    }
    kprintln!(
        "fault-echo {number} {target} {payload} {:016x}",
        fnv1a_64(payload.as_bytes())
    );
    round
}

fn judge(driver: &str, bytes: &[u8], expected: &Expected) -> Answer {
    let right = match driver {
        "cmos-rtc" => matches!(rtc::time::reply(bytes), Ok(Ok(_))),
        "pci" => pci_identity(bytes).as_ref() == Some(&expected.pci_identity),
        _ => true,
    };
    if right { Answer::Right } else { Answer::Wrong }
}

/// Runs the event loop until every request of `round` is answered (the
/// target's within [`FAULTY_NANOSECONDS`], the others' within
/// [`HEALTHY_NANOSECONDS`]); forgets what is left unanswered.
pub fn finish(system: &mut System, round: Round, target: &str, expected: &Expected) -> Answers {
    let started = time::now_nanoseconds();
    loop {
        let now = time::now_nanoseconds();
        let open = |system: &System, id: u32| system.request_outstanding(id);
        let waiting = round.requests.iter().any(|(driver, id)| {
            let limit = if *driver == target {
                FAULTY_NANOSECONDS
            } else {
                HEALTHY_NANOSECONDS
            };
            open(system, *id) && now - started < limit
        });
        if !waiting {
            break;
        }
        if !system.step() {
            system.wait_for_work();
        }
    }
    round
        .requests
        .iter()
        .map(|(driver, id)| {
            let answer = match system.take_collected_reply(*id) {
                Some(bytes) => judge(driver, &bytes, expected),
                None => Answer::Missing,
            };
            (*driver, answer)
        })
        .collect()
}

/// The first PCI function as the driver running now answers it.
pub fn pci_first_function(system: &mut System) -> Result<Vec<u8>, String> {
    let id =
        request(system, "pci", &first_function()).ok_or_else(|| String::from("no pci server"))?;
    let started = time::now_nanoseconds();
    while !system.has_collected_reply(id) {
        if time::now_nanoseconds() - started > HEALTHY_NANOSECONDS {
            return Err(String::from("the pci driver did not answer"));
        }
        if !system.step() {
            system.wait_for_work();
        }
    }
    system
        .take_collected_reply(id)
        .ok_or_else(|| String::from("no answer about the first PCI function"))
}
