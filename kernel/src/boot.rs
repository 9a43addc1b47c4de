//! The boot sequence, from the PVH entry to the kernel's main loop.
//!
//! Order matters: the console first (so everything after can report), then
//! segments and the IDT (so a fault is reported, not a triple fault), then the
//! loader's tables are copied, then memory (frames, the kernel's own page
//! tables, the heap), then the boot archive. The kernel binary adds to the
//! sequence through [`BootHooks`]: the production kernel adds nothing, the test
//! kernel (`tests/kernel`) runs the scenario its command line names.
#![forbid(unsafe_code)]

use crate::arch::handlers::{self, Handlers};
use crate::arch::{gdt, interrupts, qemu};
use crate::archive::Archive;
use crate::boot_info::BootInfo;
use crate::cmdline::CommandLine;
use crate::mm::{iommu, physical, setup};
use crate::module_host::services::{self, System};
use crate::system_manifest::SystemManifest;
use crate::{console, irq, kprintln, time};
use core::fmt;
use log::LevelFilter;
use spin::Once;

static BOOT_INFO: Once<BootInfo> = Once::new();

/// The marker every boot prints when it reaches the main loop.
pub const MAIN_LOOP_MARKER: &str = "cella: kernel main loop reached";

/// What a kernel binary adds to the boot sequence; both methods may also never return (a
/// test scenario ends the run). The default methods add nothing.
pub trait BootHooks: Sync {
    /// Runs after memory, the scheduler and the process table are set up, before the IRQ
    /// lines start and the manifest's modules boot.
    fn before_modules(&self, context: &BootContext) {
        let _ = context;
    }

    /// Runs after the manifest's modules and processes started, before the main loop.
    fn with_modules(&self, context: &BootContext, system: &mut System) {
        let _ = (context, system);
    }
}

/// The production kernel's hooks: none.
pub struct Production;

impl BootHooks for Production {}

/// The value `kernel/src/main.rs` passes to [`crate::kernel_binary!`].
pub static PRODUCTION: Production = Production;

/// What the boot sequence hands to the main loop and the boot hooks.
pub struct BootContext {
    pub command_line: CommandLine<'static>,
    pub archive: Option<Archive<'static>>,
}

/// Called by `pvh_entry.s` on the boot stack with the physical address of `hvm_start_info`.
pub extern "C" fn kernel_entry(start_info: u64) -> ! {
    time::mark_boot();
    console::initialise(LevelFilter::Info);
    log::info!(
        "Cella {} starting (PVH start info at {start_info:#x})",
        env!("CARGO_PKG_VERSION")
    );
    gdt::initialise();
    handlers::register(Handlers {
        user_fault: crate::proc::user_fault,
        irq: irq::handle,
        syscall: crate::proc::handle_syscall,
    });
    interrupts::initialise();
    log::info!("GDT, TSS with a double-fault stack, and IDT for all 256 vectors loaded");

    let info = match BootInfo::read(&physical::EarlyReader, start_info) {
        Ok(info) => BOOT_INFO.call_once(|| info),
        Err(error) => fatal(format_args!("cannot use the PVH start info: {error}")),
    };
    let command_line = CommandLine::new(info.command_line());
    if let Some(level) = command_line.get("log") {
        match level.parse::<LevelFilter>() {
            Ok(level) => log::set_max_level(level),
            Err(_) => log::warn!("log={level}: not a level (off, error, warn, info, debug, trace)"),
        }
    }
    log::info!("command line: \"{}\"", command_line.as_str());
    if command_line.get("msix") == Some("off") {
        crate::pci_bus::vectors::turn_off();
        log::info!("msix=off: no MSI-X vectors; PCI functions use INTx");
    }
    if info.command_line_truncated {
        log::warn!(
            "command line truncated to {} bytes",
            command_line.as_str().len()
        );
    }
    for range in info.ram.as_slice() {
        log::debug!("RAM {range}");
    }
    // The ACPI tables lie outside the RAM the direct map will cover: read them now.
    let remapping = iommu::dmar::discover(&physical::EarlyReader, info.rsdp);
    irq::remember_madt(crate::interrupt_routing::read_madt(
        &physical::EarlyReader,
        info.rsdp,
    ));

    let memory = match setup::initialise(info) {
        Ok(summary) => summary,
        Err(error) => fatal(format_args!("memory set-up failed: {error}")),
    };
    log::info!(
        "memory: {} MiB usable RAM; kernel image at {} ({} KiB); {} MiB heap",
        memory.usable_bytes >> 20,
        memory.kernel_image,
        memory.kernel_image.len() >> 10,
        memory.heap_bytes >> 20
    );
    start_iommu(remapping);

    let archive = find_archive(info);
    let context = BootContext {
        command_line,
        archive,
    };
    match time::calibrate() {
        Some(hz) => log::info!("time-stamp counter runs at {} MHz", hz / 1_000_000),
        None => log::warn!("could not calibrate the time-stamp counter; time has 1 ms resolution"),
    }
    crate::sched::initialise();
    crate::proc::initialise();
    kprintln!("{MAIN_LOOP_MARKER}");
    let found = crate::pci_bus::init();
    log::info!("{found} PCI functions found");
    let hooks = crate::arch::boot_hooks();
    hooks.before_modules(&context);
    irq::start();
    let mut system = start_modules(&context);
    crate::proc::start_manifest_processes(context.archive.as_ref());
    hooks.with_modules(&context, &mut system);
    system.run()
}

/// Brings up the IOMMU the ACPI tables describe, if any, and says so in one line.
fn start_iommu(found: Result<iommu::dmar::RemappingUnit, iommu::dmar::NoRemapping>) {
    match found.map(iommu::initialise) {
        Ok(Ok(started)) => log::info!(
            "iommu: VT-d at {:#x} (version {}.{}), translation on",
            started.register_base,
            started.version.0,
            started.version.1
        ),
        Ok(Err(error)) => log::warn!("iommu: none (the remapping unit failed to start: {error})"),
        Err(reason) => log::info!("iommu: none ({reason})"),
    }
}

/// Reads the system manifest from the boot archive and starts its modules.
fn start_modules(context: &BootContext) -> System {
    let manifest = match context
        .archive
        .map(|archive| archive.find("system.manifest"))
    {
        Some(Ok(Some(entry))) => match core::str::from_utf8(entry.data)
            .map_err(|_| alloc::string::String::from("system.manifest is not UTF-8"))
            .and_then(|text| SystemManifest::parse(text).map_err(|error| alloc::format!("{error}")))
        {
            Ok(manifest) => manifest,
            Err(error) => {
                log::error!("{error}; no modules started");
                SystemManifest::default()
            }
        },
        Some(Err(error)) => {
            log::error!("boot archive unreadable: {error}; no modules started");
            SystemManifest::default()
        }
        _ => {
            log::warn!("no system.manifest in the boot archive; no modules to start");
            SystemManifest::default()
        }
    };
    let mut manifest = manifest;
    for problem in crate::pci_bus::resolve_grants(
        &mut manifest,
        &crate::pci_bus::found(),
        crate::pci_bus::found_msix(),
    ) {
        log::error!("device grant: {problem}");
    }
    services::boot(&manifest, context.archive.unwrap_or(Archive::new(&[])))
}

/// Finds the boot archive and logs its entries.
fn find_archive(info: &BootInfo) -> Option<Archive<'static>> {
    if info.module_count == 0 {
        log::warn!("no boot archive (start QEMU with -initrd ARCHIVE.tar)");
        return None;
    }
    let Some(bytes) = physical::boot_archive_bytes(info) else {
        log::error!("the boot archive does not lie in RAM; ignored");
        return None;
    };
    let archive = Archive::new(bytes);
    let mut count = 0;
    for entry in archive.entries() {
        match entry {
            Ok(entry) => {
                count += 1;
                log::info!("archive: {} ({} bytes)", entry.name, entry.data.len());
            }
            Err(error) => {
                log::error!("boot archive is corrupt: {error}; entries after it are ignored");
                break;
            }
        }
    }
    log::info!("boot archive: {count} entries, {} bytes", bytes.len());
    Some(archive)
}

/// Reports an error the kernel cannot boot past, then ends the run.
pub fn fatal(message: fmt::Arguments<'_>) -> ! {
    log::error!("FATAL: {message}");
    qemu::exit(qemu::ExitCode::Failure)
}
