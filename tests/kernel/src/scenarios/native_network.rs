//! The network path with the virtio-net driver as a native process: with the system's
//! modules running, the Wasm `virtio-net` module is removed (its PCI function, vectors and
//! DMA released), `virtio-net-native` (the same driver source built with the SDK's native
//! backend) is started granted the card, and the TCP/IP server (`netstack`, Wasm) reaches
//! it through its calls to `net`, which go to the process. Once `netstack` has an
//! address and the process holds the card's MSI-X vector, the scenario prints
//! `native_network: serving through virtio-net-native` and keeps the system running for
//! `run_ms` (default 600,000) so the host can measure through the forwarded port. Unless
//! an `httpd` module serves port 80, the scenario itself listens there through `sockets`
//! and answers `GET /native-network` with [`BODY`] (anything else with 404), so the host's
//! test sees traffic cross the native driver. It passes if nothing faulted and the driver
//! still serves at the end.

use super::processes::start;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_interfaces::sockets::{self, Dhcp, Handle, MAX_TRANSFER_BYTES};
use cella_interfaces::wire::WireError;
use cella_kernel::boot::BootContext;
use cella_kernel::grants::GrantSet;
use cella_kernel::module_host::services::{System, process_rows};
use cella_kernel::proc::ProcessGrant;
use cella_kernel::supervisor::command_line::Command;
use cella_kernel::system_manifest::GrantLine;
use cella_kernel::{ipc, irq, kprintln, pci_bus, time};
use cella_wasm_host::abi::PciAddress;

/// The Wasm driver taken out.
const DRIVER: &str = "virtio-net";
/// The native build started in its place.
const PROGRAM: &str = "virtio-net-native";
/// The TCP/IP server.
const STACK: &str = "netstack";
/// An HTTP server module that would own port 80.
const HTTP_SERVER: &str = "httpd";
/// The card: virtio-net, modern.
const CARD: (u16, u16) = (0x1af4, 0x1041);
/// The MSI-X table entry both of the card's queues interrupt through (the driver's
/// `MSIX_ENTRY`).
const MSIX_ENTRY: u16 = 0;
/// The driver's DMA grant, as `modules/system.toml` grants the module.
const DMA_BYTES: u64 = 131_072;
/// The path the scenario's own server answers with [`BODY`].
pub const PATH: &str = "/native-network";
/// The body of that answer (the QEMU test checks it).
pub const BODY: &str = "served through the native virtio-net driver\n";
/// How long the driver, the address and one connection may take.
const LIMIT_NANOSECONDS: u64 = 120_000_000_000;
/// How long one connection may take to send its request.
const CONNECTION_NANOSECONDS: u64 = 10_000_000_000;
/// The pause between two looks for a connection.
const POLL_NANOSECONDS: u64 = 5_000_000;

/// The card's address on the bus.
fn card_address() -> Result<PciAddress, String> {
    let found = pci_bus::found();
    let card = found
        .iter()
        .find(|function| (function.vendor_id, function.device_id) == CARD)
        .ok_or_else(|| String::from("no virtio-net function on the bus"))?;
    PciAddress::new(card.bus, card.device, card.function)
        .ok_or_else(|| String::from("a bad PCI address"))
}

/// The grant of the card: its function (resolved as the kernel resolves a manifest's
/// `device` line), windows and line, the driver's DMA and its served endpoint.
fn card_grant(address: PciAddress) -> Result<ProcessGrant, String> {
    let found = pci_bus::found();
    let function = pci_bus::grant_function(&found, pci_bus::found_msix(), address)
        .ok_or_else(|| String::from("the card's function vanished"))?;
    let mut lines: Vec<GrantLine> = function.grant_lines();
    lines.push(GrantLine::Device {
        vendor: CARD.0,
        device: CARD.1,
        slot: Some(address),
    });
    lines.push(GrantLine::Dma { bytes: DMA_BYTES });
    Ok(ProcessGrant {
        grants: GrantSet::from_lines(&lines),
        ..ProcessGrant::ipc(&[], &[cella_interfaces::net::ENDPOINT])
    })
}

/// One request to `sockets`, encoded by `encode`; its answer.
fn ask_sockets(
    system: &mut System,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Result<Vec<u8>, String> {
    let mut request = [0u8; 4096];
    let length = encode(&mut request).map_err(|error| format!("encoding: {error}"))?;
    let id = system
        .send_collected(sockets::ENDPOINT, &request[..length])
        .ok_or_else(|| format!("nobody serves `{}`", sockets::ENDPOINT))?;
    super::run_until(system, |system| system.has_collected_reply(id))?;
    Ok(system.take_collected_reply(id).unwrap_or_default())
}

/// Runs until the TCP/IP server has an address.
fn wait_for_address(system: &mut System) -> Result<String, String> {
    let limit = time::now_nanoseconds().saturating_add(LIMIT_NANOSECONDS);
    while time::now_nanoseconds() < limit {
        let answer = ask_sockets(system, sockets::address::request)?;
        if let Ok(Ok(configuration)) = sockets::address::reply(&answer)
            && configuration.dhcp != Dhcp::Discovering
        {
            return Ok(format!("{configuration}"));
        }
        system.run_for(100_000_000);
    }
    Err(String::from(
        "the TCP/IP server got no address through the native driver",
    ))
}

/// Runs the loop until a process registers `name`.
fn wait_for_endpoint(system: &mut System, name: &str) -> Result<(), String> {
    let limit = time::now_nanoseconds().saturating_add(LIMIT_NANOSECONDS);
    while ipc::lookup(name).is_err() {
        if time::now_nanoseconds() > limit {
            return Err(format!("{PROGRAM} did not register `{name}`"));
        }
        system.run_for(POLL_NANOSECONDS);
    }
    Ok(())
}

/// The kernel line of MSI-X table entry `entry` of `function`, if someone holds it.
fn msix_line(function: PciAddress, entry: u16) -> Option<u8> {
    (irq::MSI_FIRST_LINE..irq::LINES).find(|&line| {
        pci_bus::vectors::route(line)
            .is_some_and(|route| (route.function, route.entry) == (function, entry))
    })
}

/// Fails if any module faulted or a module other than the removed driver is down.
fn check_no_faults(system: &System) -> Result<(), String> {
    let faults = system.faults();
    if let Some(fault) = faults.first() {
        return Err(format!(
            "{} faults recorded, the first of {}",
            faults.len(),
            fault.module
        ));
    }
    let down: Vec<&str> = system
        .modules_down()
        .into_iter()
        .filter(|name| *name != DRIVER)
        .collect();
    if !down.is_empty() {
        return Err(format!("modules down: {}", down.join(", ")));
    }
    Ok(())
}

/// Fails if the calls `netstack` made to the process left records behind: after every
/// frame of the run went through a call, the router and the IPC hold no more than one
/// module's limit of outstanding calls.
fn check_calls_bounded(system: &System) -> Result<(), String> {
    let limit = cella_wasm_host::abi::DEFAULT_MAX_OUTSTANDING_CALLS as usize;
    let routed = system.router.calls_open();
    let (open, kept) = ipc::watched_counts();
    kprintln!(
        "native_network: calls from modules to processes: {routed} waiting in the router, {open} open and {kept} answers kept in the IPC"
    );
    if routed > limit || open > limit || kept > limit {
        return Err(format!(
            "calls to {PROGRAM} left records behind (more than {limit})"
        ));
    }
    Ok(())
}

/// The process's `ps` row, if it runs.
fn process_row() -> Option<String> {
    process_rows()
        .lines()
        .find(|row| row.starts_with(PROGRAM))
        .map(String::from)
}

/// Answers one connection: reads its request head, answers `GET PATH` with [`BODY`] and
/// anything else with 404, closes it.
fn answer_connection(system: &mut System, connection: Handle) -> Result<String, String> {
    let limit = time::now_nanoseconds().saturating_add(CONNECTION_NANOSECONDS);
    let mut head: Vec<u8> = Vec::new();
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        if time::now_nanoseconds() > limit || head.len() > 8192 {
            return Err(String::from("no whole request head in time"));
        }
        let answer = ask_sockets(system, |buffer| {
            sockets::receive::request(buffer, connection, MAX_TRANSFER_BYTES as u32)
        })?;
        let received = sockets::receive::reply(&answer)
            .map_err(|error| format!("receive: {error}"))?
            .map_err(|error| format!("receive: {error}"))?;
        if received.end {
            return Err(String::from("the peer closed before its request ended"));
        }
        if received.bytes.is_empty() {
            system.run_for(POLL_NANOSECONDS);
        }
        head.extend_from_slice(received.bytes);
    }
    let line = head.split(|&byte| byte == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line).into_owned();
    let asked = line.split(' ').nth(1).unwrap_or_default();
    let (status, body) = if line.starts_with("GET ") && asked == PATH {
        ("200 OK", BODY)
    } else {
        ("404 Not Found", "not found\n")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut rest = response.as_bytes();
    while !rest.is_empty() {
        if time::now_nanoseconds() > limit {
            return Err(String::from("the answer did not leave in time"));
        }
        let answer = ask_sockets(system, |buffer| {
            sockets::send::request(buffer, connection, rest)
        })?;
        let sent = sockets::send::reply(&answer)
            .map_err(|error| format!("send: {error}"))?
            .map_err(|error| format!("send: {error}"))?;
        let took = (sent.length as usize).min(rest.len());
        if took == 0 {
            system.run_for(POLL_NANOSECONDS);
        }
        rest = &rest[took..];
    }
    Ok(format!("{line}: {status}"))
}

/// Closes socket `socket`, reporting nothing: a connection the peer reset is gone already.
fn close(system: &mut System, socket: Handle) {
    let _ = ask_sockets(system, |buffer| sockets::close::request(buffer, socket));
}

/// Listens on port 80 and answers connections until `until` (kernel nanoseconds).
fn serve(system: &mut System, until: u64) -> Result<(), String> {
    let answer = ask_sockets(system, |buffer| sockets::listen::request(buffer, 80))?;
    let listener = sockets::listen::reply(&answer)
        .map_err(|error| format!("listen: {error}"))?
        .map_err(|error| format!("listen on port 80: {error}"))?;
    kprintln!(
        "native_network: listening on port 80 ({PATH} answers {} bytes)",
        BODY.len()
    );
    while time::now_nanoseconds() < until {
        let answer = ask_sockets(system, |buffer| sockets::accept::request(buffer, listener))?;
        let accepted = sockets::accept::reply(&answer)
            .map_err(|error| format!("accept: {error}"))?
            .map_err(|error| format!("accept: {error}"))?;
        let Some(connection) = accepted else {
            system.run_for(POLL_NANOSECONDS);
            continue;
        };
        match answer_connection(system, connection) {
            Ok(what) => kprintln!("native_network: answered {what}"),
            Err(why) => kprintln!("native_network: a connection ended unanswered: {why}"),
        }
        close(system, connection);
    }
    close(system, listener);
    Ok(())
}

/// The scenario `native_network`, serving for `run_ms` once the native driver carries
/// the traffic.
pub fn run(context: &BootContext, system: &mut System, run_ms: u64) -> Result<(), String> {
    let driver = system
        .find(DRIVER)
        .filter(|&index| system.module(index).is_running())
        .ok_or_else(|| format!("no running module {DRIVER}"))?;
    system
        .find(STACK)
        .filter(|&index| system.module(index).is_running())
        .ok_or_else(|| format!("no running module {STACK}"))?;
    let removed = system.command(Command::Remove {
        module: String::from(DRIVER),
        force: false,
    })?;
    kprintln!("native_network: {removed}");
    if !system.dma_buffers(driver).is_empty() {
        return Err(format!(
            "{DRIVER} still holds DMA buffers after its removal"
        ));
    }
    let card = card_address()?;
    let thread = start(context, PROGRAM, card_grant(card)?)?;
    kprintln!("native_network: {PROGRAM} started on thread {thread}");
    wait_for_endpoint(system, cella_interfaces::net::ENDPOINT)?;
    let address = wait_for_address(system)?;
    kprintln!("native_network: {STACK} has {address} through {PROGRAM}");
    let line = msix_line(card, MSIX_ENTRY)
        .ok_or_else(|| format!("{PROGRAM} holds no MSI-X vector of the card"))?;
    kprintln!("native_network: the card interrupts {PROGRAM} on MSI-X line {line}");
    check_no_faults(system)?;
    let row = process_row().ok_or_else(|| format!("{PROGRAM} has no ps row"))?;
    kprintln!("native_network: ps: {row}");
    kprintln!("native_network: serving through {PROGRAM}");
    let until = time::now_nanoseconds().saturating_add(run_ms.saturating_mul(1_000_000));
    let http_server_runs = system
        .find(HTTP_SERVER)
        .is_some_and(|index| system.module(index).is_running());
    if http_server_runs {
        kprintln!("native_network: {HTTP_SERVER} serves port 80");
        while time::now_nanoseconds() < until {
            system.run_for(100_000_000);
        }
    } else {
        serve(system, until)?;
    }
    check_no_faults(system)?;
    if ipc::lookup(cella_interfaces::net::ENDPOINT).is_err() {
        return Err(format!("{PROGRAM} no longer serves `net`"));
    }
    let row = process_row().ok_or_else(|| format!("{PROGRAM} ended"))?;
    check_calls_bounded(system)?;
    // The console output queued for the UART driver leaves before the run ends.
    system.settle();
    kprintln!("native_network: ps: {row}");
    Ok(())
}
