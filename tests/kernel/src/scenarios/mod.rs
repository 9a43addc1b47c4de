//! Self-test scenarios, chosen with `test=NAME` on the kernel command line.
//!
//! The test kernel boots into any of them through the kernel's boot hooks
//! ([`SCENARIO_HOOKS`]); the QEMU integration tests in `tests/tests/` run each and judge it by the exit status and the lines printed
//! (the exact lines are listed in `docs/architecture.md`). A scenario that
//! passes prints `scenario NAME: passed` and exits with status 33; the fault
//! scenarios end in the kernel's fault or panic report and status 35.
#![forbid(unsafe_code)]

mod bench;
mod block_faults;
mod counter;
mod dhcp_frames;
mod disk_bench;
mod dma_escape;
mod fault_campaign;
mod fs_bad_input;
mod fs_bench;
mod fs_faults;
mod fuzz;
mod heap_stress;
mod heap_watch;
mod iommu;
mod ipc;
mod isolation;
mod module_calls;
mod module_threads;
mod native_block;
mod native_drivers;
mod native_network;
mod network_faults;
mod network_link;
mod processes;
mod supervisor_bench;
mod swap_soak;
mod threads;
mod watched_calls;

use alloc::string::String;
use cella_kernel::arch::deliberate;
use cella_kernel::arch::qemu::{self, ExitCode};
use cella_kernel::boot::{BootContext, BootHooks};
use cella_kernel::fnv::fnv1a_64;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;

/// An address in the lower half, which the kernel's own tables leave unmapped.
const UNMAPPED_ADDRESS: u64 = 0x0000_0bad_c0de_0000;

/// A value in `.rodata`, for the read-only write test.
static READ_ONLY_PROBE: u64 = 0x5eed_5eed;

/// Scenarios that run after the modules of the system manifest started.
pub const NEEDS_MODULES: [&str; 14] = [
    "modules",
    "block_faults",
    "fs_bad_input",
    "fs_faults",
    "supervisor_bench",
    "swap_soak",
    "faults",
    "module_calls",
    "dma_escape",
    "disk_bench",
    "fs_bench",
    "network_link",
    "network_faults",
    "native_network",
];

/// The test kernel's boot hooks: run the scenario `test=NAME` names, before or after the
/// modules start (see [`NEEDS_MODULES`]). Without `test=` the test kernel boots as the
/// production one does.
pub struct ScenarioHooks;

/// The value `main.rs` passes to `cella_kernel::kernel_binary!`.
pub static SCENARIO_HOOKS: ScenarioHooks = ScenarioHooks;

impl BootHooks for ScenarioHooks {
    fn before_modules(&self, context: &BootContext) {
        let test = context.command_line.get("test");
        if let Some(name) = test.filter(|name| !NEEDS_MODULES.contains(name)) {
            run(name, context);
        }
    }

    fn with_modules(&self, context: &BootContext, system: &mut System) {
        if let Some(name) = context.command_line.get("test") {
            run_with_modules(name, context, system);
        }
    }
}

/// Every scenario: name, what it shows.
pub const SCENARIOS: [(&str, &str); 39] = [
    ("boot", "boots to the main loop and exits"),
    (
        "page_fault",
        "reads an unmapped address; the page fault is reported",
    ),
    ("panic", "panics; the panic is reported"),
    ("heap", "allocation stress with checksums"),
    (
        "map",
        "maps MMIO regions and a fresh page, writes and reads back",
    ),
    (
        "rodata_write",
        "writes to a read-only kernel page; the fault is reported",
    ),
    ("archive", "lists the boot archive with sizes and checksums"),
    (
        "iommu",
        "with -device intel-iommu -device edu: DMA through mapped pages works, to unmapped, unmapped-again and detached ones is blocked and reported",
    ),
    (
        "stack_overflow",
        "overflows the boot stack; the double fault is reported",
    ),
    (
        "out_of_memory",
        "exhausts the heap; the failed allocation is reported",
    ),
    (
        "ipc",
        "10,000 calls between kernel threads with checksums; full queue, bad token, close, timeout",
    ),
    (
        "processes",
        "ring-3 processes: SSE state, faults killed, bad syscalls refused, port and MMIO grants",
    ),
    (
        "isolation",
        "hostile processes: reply rights, kernel-memory charges, forged log lines, refusal flood, call deadlines",
    ),
    (
        "fuzz",
        "the syscall fuzzer (fuzz_calls=N per seed, fuzz_seeds=A,B), then ps, a checksum call and mem",
    ),
    (
        "process_ipc",
        "a native process calls a kernel server 10,000 times with checksums",
    ),
    (
        "process_wasm_ipc",
        "a native process calls a Wasm server 10,000 times with checksums",
    ),
    (
        "module_both_ways",
        "modules/checksum built as Wasm and as a native process answers identically",
    ),
    (
        "native_drivers",
        "drivers-wasm/cmos-rtc built as Wasm and as a native process gives one time; the SDK's native backend with ports, MMIO, IRQs, timers and ipc_send",
    ),
    (
        "disk_bench",
        "the virtio-blk Wasm module: 64 MiB written and read in 64 KiB requests and 400 random 4 KiB reads, each in a DMA buffer lent with the call; no loan left (for cargo cella bench)",
    ),
    (
        "native_disk_bench",
        "the virtio-blk driver as a native process: the same measurements, each buffer mapped into the process for its call (for cargo cella bench)",
    ),
    (
        "fs_bench",
        "with the file-system image as its disk: the fs module writes and reads back 1,000 files of 4 KiB (files=N) and one of 16 MiB (large_kib=N), checked by checksum, then removes them (for cargo cella bench)",
    ),
    (
        "dma_escape",
        "the virtio-blk escape variant points its device at the kernel's image: the IOMMU blocks the write, the driver is faulted and restarted, the kernel's code is unchanged",
    ),
    (
        "native_block",
        "drivers-wasm/virtio-blk built as a native process: the disk's capacity, seven sectors written and read back, 50 round trips of 64 KiB in buffers lent to it, no loan left",
    ),
    (
        "wasm_busy",
        "a Wasm module busy for several slices does not stop a thread or a process",
    ),
    (
        "module_threads",
        "a manifest module busy for several slices does not stop another module or a thread",
    ),
    (
        "bench",
        "syscall, IPC (native and Wasm), direct Wasm event and CRC-32 figures as ratios",
    ),
    (
        "threads",
        "two CPU-bound threads share the CPU under preemption; priorities hold",
    ),
    (
        "sleep",
        "a high-priority thread wakes at the first tick after each deadline, under load",
    ),
    (
        "modules",
        "starts the system manifest's modules, runs them for run_ms (default 1000), passes if all are up",
    ),
    (
        "supervisor_bench",
        "fault-to-next-event restart time and UART swap blackout against a baseline event delivery",
    ),
    (
        "block_faults",
        "block-workload writes and reads checksummed sectors while virtio-blk is swapped v1 -> v2 -> v1 and faulted with requests in flight; nothing lost",
    ),
    (
        "network_link",
        "a DHCP DISCOVER through virtio-net answered by QEMU's DHCP offer; then the driver swapped with a receive waiting and faulted, each cycle answering a DISCOVER again; the heap stays flat",
    ),
    (
        "network_faults",
        "while the host moves 16 MiB through httpd: virtio-net swapped v1 -> v2 -> v1, then faulted, then netstack faulted; a line when each phase is over; the heap stays flat",
    ),
    (
        "native_network",
        "the Wasm virtio-net removed and virtio-net-native started on the card; once netstack has an address through it, serves port 80 (GET /native-network) for run_ms (default 600000); nothing faults",
    ),
    (
        "fs_bad_input",
        "requests to fs the shell cannot type: paths with .., too long for the server and for a message, cut short; a file larger than the disk, a full disk and its space back, rounds times",
    ),
    (
        "fs_faults",
        "fs-workload writes, reads back and ledgers files while fs is swapped v1 -> v2 -> v1 and faulted waiting for the disk; every ledger file reads back",
    ),
    (
        "swap_soak",
        "swaps the UART driver v1 <-> v2 and restarts it, swaps=N rounds (default 250); the heap stays flat",
    ),
    (
        "module_calls",
        "with its test manifest: module caller calls module callee, rounds=N times answered and N times failed by a faulting callee (default 100); the heap stays flat",
    ),
    (
        "faults",
        "fault injection: faults=N mutants of the running drivers swapped in under a workload, then the good version back; prints the table",
    ),
];

/// Runs a scenario that needs the modules running; never returns.
pub fn run_with_modules(name: &str, context: &BootContext, system: &mut System) -> ! {
    let milliseconds = context
        .command_line
        .get("run_ms")
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or(1000);
    let special = match name {
        "supervisor_bench" => Some(supervisor_bench::run(system)),
        "block_faults" => Some(block_faults::run(system)),
        "fs_faults" => Some(fs_faults::run(system)),
        "fs_bad_input" => Some(fs_bad_input::run(system)),
        "swap_soak" => {
            let rounds = context
                .command_line
                .get("swaps")
                .and_then(|value| value.parse::<u32>().ok())
                .unwrap_or(250);
            Some(swap_soak::run(system, rounds))
        }
        "faults" => Some(fault_campaign::run(system, context)),
        "dma_escape" => Some(dma_escape::run(system)),
        "network_link" => Some(network_link::run(system)),
        "network_faults" => Some(network_faults::run(system)),
        "native_network" => {
            let run_ms = context
                .command_line
                .get("run_ms")
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(600_000);
            Some(native_network::run(context, system, run_ms))
        }
        "disk_bench" => Some(disk_bench::run(system)),
        "fs_bench" => {
            let number = |key: &str| {
                context
                    .command_line
                    .get(key)
                    .and_then(|value| value.parse::<u64>().ok())
            };
            let mut work = fs_bench::Work::default();
            if let Some(files) = number("files") {
                work.files = u32::try_from(files).unwrap_or(u32::MAX);
            }
            if let Some(kib) = number("large_kib") {
                work.large_bytes = kib.saturating_mul(1024);
            }
            Some(fs_bench::run(system, work))
        }
        "module_calls" => {
            let rounds = context
                .command_line
                .get("rounds")
                .and_then(|value| value.parse::<u32>().ok())
                .unwrap_or(100);
            Some(module_calls::run(system, rounds))
        }
        _ => None,
    };
    if let Some(result) = special {
        match result {
            Ok(()) => {
                kprintln!("scenario {name}: passed");
                qemu::exit(ExitCode::Success)
            }
            Err(problem) => {
                system.settle();
                kprintln!("scenario {name}: FAILED: {problem}");
                qemu::exit(ExitCode::Failure)
            }
        }
    }
    system.run_for(milliseconds * 1_000_000);
    system.settle();
    let down = system.modules_down();
    if down.is_empty() {
        kprintln!("scenario {name}: passed");
        qemu::exit(ExitCode::Success)
    }
    kprintln!(
        "scenario {name}: FAILED: modules not running: {}",
        down.join(", ")
    );
    qemu::exit(ExitCode::Failure)
}

/// The bytes of `path` in the boot archive.
///
/// # Errors
/// No boot archive, no such entry, or an unreadable archive.
fn archive_file(context: &BootContext, path: &str) -> Result<&'static [u8], String> {
    let archive = context
        .archive
        .ok_or_else(|| String::from("no boot archive"))?;
    match archive.find(path) {
        Ok(Some(entry)) => Ok(entry.data),
        Ok(None) => Err(alloc::format!("{path} is not in the boot archive")),
        Err(error) => Err(alloc::format!("boot archive unreadable: {error}")),
    }
}

/// Waits up to 10 s for a process or thread to register endpoint `name`.
///
/// # Errors
/// A message if nobody registered it in time.
/// Runs the event loop until `done` holds (at most five seconds).
fn run_until(system: &mut System, done: impl Fn(&System) -> bool) -> Result<(), String> {
    let limit = cella_kernel::time::now_nanoseconds() + 5_000_000_000;
    while !done(system) {
        if cella_kernel::time::now_nanoseconds() > limit {
            return Err(String::from("timed out after 5 s"));
        }
        if !system.step() {
            system.wait_for_work();
        }
    }
    Ok(())
}

fn wait_for_name(name: &str) -> Result<cella_kernel::ipc::EndpointId, String> {
    let until = cella_kernel::time::now_nanoseconds() + 10_000_000_000;
    loop {
        if let Ok(endpoint) = cella_kernel::ipc::lookup(name) {
            return Ok(endpoint);
        }
        if cella_kernel::time::now_nanoseconds() > until {
            return Err(alloc::format!("nobody registered `{name}` in 10 s"));
        }
        cella_kernel::sched::sleep_for(1_000_000);
    }
}

/// Runs scenario `name`; never returns.
pub fn run(name: &str, context: &BootContext) -> ! {
    log::info!("running scenario {name}");
    let result = match name {
        "boot" => Ok(()),
        "page_fault" => {
            kprintln!("scenario page_fault: reading unmapped address {UNMAPPED_ADDRESS:#018x}");
            let value = deliberate::read_unmapped(UNMAPPED_ADDRESS);
            Err(alloc::format!(
                "read {value:#x} from an unmapped address without a fault"
            ))
        }
        "panic" => panic!("deliberate panic from the panic scenario"),
        "heap" => heap_stress::run(),
        "threads" => threads::threads(),
        "ipc" => ipc::run(),
        "processes" => processes::processes(context),
        "process_ipc" => processes::process_ipc(context),
        "isolation" => isolation::run(context),
        "fuzz" => fuzz::run(context),
        "process_wasm_ipc" => processes::process_wasm_ipc(context),
        "bench" => bench::run(context),
        "wasm_busy" => processes::wasm_busy(context),
        "module_threads" => module_threads::run(context),
        "module_both_ways" => processes::module_both_ways(context),
        "native_drivers" => native_drivers::run(context),
        "native_block" => native_block::run(context),
        "native_disk_bench" => disk_bench::run_native(context),
        "sleep" => threads::sleep(),
        "map" => cella_kernel::mm::self_test::run(),
        "rodata_write" => {
            let address = &raw const READ_ONLY_PROBE as u64;
            kprintln!("scenario rodata_write: writing to read-only address {address:#018x}");
            deliberate::write_read_only(address);
            Err(String::from("wrote to a read-only page without a fault"))
        }
        "archive" => list_archive(context),
        "iommu" => iommu::run(),
        "stack_overflow" => {
            kprintln!("scenario stack_overflow: recursing into the guard page");
            let depth = deliberate::overflow_stack(0);
            Err(alloc::format!("recursed {depth} times without a fault"))
        }
        "out_of_memory" => {
            kprintln!("scenario out_of_memory: asking for more than the whole heap");
            // black_box: an allocation nothing reads may be left out by the optimiser.
            let huge: alloc::vec::Vec<u8> = core::hint::black_box(alloc::vec![0; 1 << 30]);
            Err(alloc::format!(
                "allocated {} bytes beyond the heap",
                huge.len()
            ))
        }
        unknown => {
            kprintln!("unknown test scenario '{unknown}'; known scenarios:");
            for (known, what) in SCENARIOS {
                kprintln!("  {known:<15} {what}");
            }
            qemu::exit(ExitCode::Failure)
        }
    };
    match result {
        Ok(()) => {
            kprintln!("scenario {name}: passed");
            qemu::exit(ExitCode::Success)
        }
        Err(reason) => {
            kprintln!("scenario {name}: FAILED: {reason}");
            qemu::exit(ExitCode::Failure)
        }
    }
}

fn list_archive(context: &BootContext) -> Result<(), String> {
    let archive = context
        .archive
        .ok_or_else(|| String::from("no boot archive was passed"))?;
    let mut count = 0;
    for entry in archive.entries() {
        let entry = entry.map_err(|error| alloc::format!("{error}"))?;
        count += 1;
        kprintln!(
            "archive entry: {} size={} fnv1a={:016x}",
            entry.name,
            entry.data.len(),
            fnv1a_64(entry.data)
        );
    }
    kprintln!("archive: {count} entries");
    Ok(())
}
