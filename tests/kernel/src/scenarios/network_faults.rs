//! Network faults under traffic: while the host moves 16 MiB to and from the HTTP server
//! (tests/tests/network_faults.rs drives the transfers through the forwarded port), the
//! virtio-net driver is hot-swapped v1 -> v2 -> v1 ([`SWAP_ROUNDS`] times), then faulted from
//! outside, then the TCP/IP server is faulted from outside; the system must keep serving
//! after each, until the host has fetched from it once more. The scenario knows nothing of the host: it tells traffic from quiet by how
//! many events the TCP/IP server handles in a window ([`BUSY_EVENTS`], [`QUIET_EVENTS`]), prints a
//! line when each phase is over, and the host starts the next transfer when it reads it.
//! The kernel heap, measured with the three modules home, must not grow from after the first
//! phase to the end by more than [`TOLERATED_GROWTH_BYTES`].

use super::heap_watch::check_growth;
use alloc::format;
use alloc::string::String;
use cella_interfaces::sockets::{self, Dhcp};
use cella_kernel::module_host::services::System;
use cella_kernel::{kprintln, time};

const DRIVER: &str = "virtio-net";
const STACK: &str = "netstack";
const SERVER: &str = "httpd";
const VERSION_ONE: &str = "modules/virtio-net.wasm";
const VERSION_TWO: &str = "modules/virtio-net-v2.wasm";
/// Swap v1 -> v2 -> v1 this many times during the first transfer.
const SWAP_ROUNDS: u32 = 2;
/// The window over which the TCP/IP server's events are counted.
const WINDOW_NANOSECONDS: u64 = 500_000_000;
/// At least this many of its events in a window: a transfer is under way. Idle, it handles
/// about 20 (the HTTP server's polls, its own timer, the driver's answer to its waiting
/// `receive`); a transfer of the HTTP server's makes 100 to 700.
const BUSY_EVENTS: u64 = 80;
/// Fewer than this many in a window: no transfer.
const QUIET_EVENTS: u64 = 35;
/// Quiet windows in a row that end a phase: longer than TCP's pauses to send again.
const QUIET_WINDOWS: u32 = 8;
/// The longest a phase waits for traffic to start, or to end.
const PHASE_LIMIT_NANOSECONDS: u64 = 300_000_000_000;
/// How long the system serves once the host's check after the faults has begun (a 1 MiB
/// download and `/api/ps` take a few seconds).
const CHECK_NANOSECONDS: u64 = 10_000_000_000;
/// How long the loop runs after the last line, for the console to print it.
const CONSOLE_DRAIN_NANOSECONDS: u64 = 500_000_000;
/// Kernel heap growth tolerated from the first phase's end to the last: far below one
/// leaked driver or server instance.
const TOLERATED_GROWTH_BYTES: usize = 128 * 1024;

/// Kernel heap in use once the three network modules are home at once. The loop keeps
/// running meanwhile: the HTTP server waits for the TCP/IP server's answers inside its
/// handler, and only the running loop delivers them (`heap_watch::heap_in_use` waits without
/// running it, which suits modules that wait for nobody).
fn heap_with_the_modules_home(system: &mut System, modules: [usize; 3]) -> usize {
    for _ in 0..1000 {
        if modules.iter().all(|&index| !system.module(index).away) {
            break;
        }
        system.run_for(1_000_000);
    }
    cella_kernel::mm::heap::statistics().used
}

/// The TCP/IP server's events in one window of the running loop.
fn events_in_window(system: &mut System, stack: usize) -> u64 {
    let before = system.module(stack).events_handled;
    system.run_for(WINDOW_NANOSECONDS);
    system.module(stack).events_handled.saturating_sub(before)
}

/// Runs until the TCP/IP server is busy: a transfer is under way.
fn wait_for_traffic(system: &mut System, stack: usize, what: &str) -> Result<(), String> {
    let limit = time::now_nanoseconds().saturating_add(PHASE_LIMIT_NANOSECONDS);
    while time::now_nanoseconds() < limit {
        if events_in_window(system, stack) >= BUSY_EVENTS {
            return Ok(());
        }
    }
    Err(format!("no traffic came {what}"))
}

/// Runs until the TCP/IP server has been quiet for [`QUIET_WINDOWS`] windows: the transfer
/// is over.
fn wait_for_quiet(system: &mut System, stack: usize, what: &str) -> Result<(), String> {
    let limit = time::now_nanoseconds().saturating_add(PHASE_LIMIT_NANOSECONDS);
    let mut quiet = 0;
    while time::now_nanoseconds() < limit {
        if events_in_window(system, stack) < QUIET_EVENTS {
            quiet += 1;
            if quiet == QUIET_WINDOWS {
                return Ok(());
            }
        } else {
            quiet = 0;
        }
    }
    Err(format!("the traffic did not end {what}"))
}

/// Runs until the TCP/IP server has an address from DHCP.
fn wait_for_address(system: &mut System) -> Result<(), String> {
    let limit = time::now_nanoseconds().saturating_add(PHASE_LIMIT_NANOSECONDS);
    while time::now_nanoseconds() < limit {
        let mut request = [0u8; 16];
        let length = sockets::address::request(&mut request).map_err(|error| format!("{error}"))?;
        let id = system
            .send_collected(sockets::ENDPOINT, &request[..length])
            .ok_or_else(|| format!("nobody serves `{}`", sockets::ENDPOINT))?;
        super::run_until(system, |system| system.has_collected_reply(id))?;
        let reply = system.take_collected_reply(id).unwrap_or_default();
        if let Ok(Ok(configuration)) = sockets::address::reply(&reply)
            && configuration.dhcp != Dhcp::Discovering
        {
            return Ok(());
        }
        system.run_for(WINDOW_NANOSECONDS);
    }
    Err(String::from("the TCP/IP server got no address"))
}

fn find(system: &System, name: &str) -> Result<usize, String> {
    system
        .find(name)
        .filter(|&index| system.module(index).is_running())
        .ok_or_else(|| format!("no running module {name}"))
}

/// Faults module `index` from outside and runs until the supervisor has restarted it.
fn fault(system: &mut System, index: usize, name: &str) -> Result<(), String> {
    system.reset_restart_history(index);
    let pending = system
        .fault_from_outside(index, "fault injected by the network_faults scenario")
        .ok_or_else(|| format!("{name} has no live instance"))?;
    super::run_until(system, |system| system.module(index).is_running())?;
    kprintln!("network_faults: faulted {name} under traffic ({pending} requests held); restarted");
    Ok(())
}

pub fn run(system: &mut System) -> Result<(), String> {
    let driver = find(system, DRIVER)?;
    let stack = find(system, STACK)?;
    wait_for_address(system)?;
    kprintln!("network_faults: ready");

    wait_for_traffic(system, stack, "for the swaps")?;
    for round in 0..SWAP_ROUNDS {
        for file in [VERSION_TWO, VERSION_ONE] {
            let swapped = system
                .swap(DRIVER, file)
                .map_err(|error| format!("round {round}: swap to {file}: {error}"))?;
            kprintln!(
                "network_faults: round {round}: swapped {} -> {} under traffic, events stopped for {} us",
                swapped.old_version,
                swapped.new_version,
                swapped.blackout_ns / 1000
            );
            wait_for_traffic(system, stack, &format!("back after the swap to {file}"))?;
        }
    }
    wait_for_quiet(system, stack, "after the swaps")?;
    let server = find(system, SERVER)?;
    let warm = heap_with_the_modules_home(system, [driver, stack, server]);
    kprintln!("network_faults: swaps over");

    wait_for_traffic(system, stack, "for the driver's fault")?;
    fault(system, driver, DRIVER)?;
    wait_for_traffic(system, stack, "back after the driver's fault")?;
    wait_for_quiet(system, stack, "after the driver's fault")?;
    kprintln!("network_faults: driver fault over");

    wait_for_traffic(system, stack, "for the server's fault")?;
    fault(system, stack, STACK)?;
    let restarted = time::now_nanoseconds();
    wait_for_address(system)?;
    kprintln!(
        "network_faults: the restarted TCP/IP server had its address again after {} ms",
        (time::now_nanoseconds() - restarted) / 1_000_000
    );
    wait_for_quiet(system, stack, "after the server's fault")?;
    kprintln!("network_faults: server fault over");

    kprintln!("network_faults: serving until the host has fetched again");
    wait_for_traffic(system, stack, "for the host's check after the faults")?;
    system.run_for(CHECK_NANOSECONDS);
    for name in [DRIVER, STACK, SERVER] {
        find(system, name)?;
    }
    let after = heap_with_the_modules_home(system, [driver, stack, server]);
    let checked = check_growth("network_faults", warm, after, TOLERATED_GROWTH_BYTES);
    // The console's lines go out through the UART driver: let them leave before the run
    // ends (the verdict is QEMU's exit status).
    system.run_for(CONSOLE_DRAIN_NANOSECONDS);
    checked
}
