//! One `[[process]]` table: a native ring-3 program started at boot, granted like a module.
//!
//! ```toml
//! [[process]]
//! name = "checksum"              # the process (and its thread) name
//! program = "checksum-native"    # a native program the tool builds: bin/PROGRAM
//! serve = ["checksum"]           # endpoints it may register
//! endpoints = ["rtc"]            # endpoints it may look up and call
//! ports = [{ base = 0x70, count = 2 }]
//! mmio = [{ base = 0xfec00000, length = 0x1000 }]
//! irqs = [8]
//! kernel_memory = 262144         # bytes the kernel may allocate for it (default 256 KiB)
//! devices = [{ vendor = 0x1af4, device = 0x1042 }]   # a PCI function, as for a module
//! dma = 65536                    # DMA buffers, mapped into the process
//! ```
//!
//! The kernel grants processes ports, MMIO, IRQ lines, endpoints, PCI
//! functions and DMA memory (`kernel/src/proc`). It does not grant them timers (a
//! native SDK module's timers are receive deadlines and need no grant) or the
//! PCI list, nor restart them, and starts every listed process at boot:
//! `timers`, `pci-bus`, `restart` and `boot` are refused here rather than
//! written and then ignored.

use super::devices::{self, DeviceGrant};
use super::grants::Grants;
use super::{Problems, SOURCE, valid_name};
use cella_system::system_manifest::{GrantLine, ModulePlan};
use toml::Table;

/// Where native programs live in the boot archive.
pub const PROGRAM_DIRECTORY: &str = "bin";

/// One `[[process]]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Process name.
    pub name: String,
    /// The native program it runs (`bin/PROGRAM` in the boot archive).
    pub program: String,
    /// Endpoints and devices.
    pub grants: Grants,
    /// `kernel_memory`: bytes the kernel may allocate on its behalf (0: the kernel's default).
    pub kernel_memory: u64,
    /// PCI functions granted by identity (`devices`).
    pub devices: Vec<DeviceGrant>,
    /// DMA bytes.
    pub dma: Option<u64>,
    /// `dma-unconfined = true`: DMA allowed where no IOMMU confines it.
    pub dma_unconfined: bool,
}

impl ProcessSpec {
    /// `bin/PROGRAM`.
    pub fn archive_file(&self) -> String {
        format!("{PROGRAM_DIRECTORY}/{}", self.program)
    }

    /// The grant lines, as in `system.manifest`.
    pub fn grant_lines(&self) -> Vec<GrantLine> {
        let mut lines = self.grants.device_lines();
        lines.extend(self.devices.iter().map(DeviceGrant::line));
        if let Some(bytes) = self.dma {
            lines.push(GrantLine::Dma { bytes });
        }
        if self.dma_unconfined {
            lines.push(GrantLine::DmaUnconfined);
        }
        lines.extend(self.grants.endpoint_lines());
        lines
    }

    /// This process in the system description the kernel reads.
    pub fn plan(&self) -> ModulePlan {
        ModulePlan {
            name: self.name.clone(),
            file: self.archive_file(),
            serves: self.grants.serve.clone(),
            grants: self.grant_lines(),
            kernel_memory: usize::try_from(self.kernel_memory).unwrap_or(usize::MAX),
            ..ModulePlan::default()
        }
    }
}

/// Module keys a process cannot take, and why.
const REFUSED: [(&str, &str); 7] = [
    (
        "pci-bus",
        "the list of PCI functions is granted to Wasm modules only (the `pci` module publishes it)",
    ),
    (
        "timers",
        "the kernel takes no timer grants for processes; a native SDK module's timers need none (they are receive deadlines)",
    ),
    (
        "restart",
        "the kernel does not restart native processes; a process that dies stays dead",
    ),
    (
        "boot",
        "every listed process starts at boot; there is no `start NAME` for processes",
    ),
    (
        "package",
        "a process runs a native program: name it with `program`",
    ),
    (
        "limits",
        "fuel, memory pages and event queues are a Wasm module's; a process is scheduled and charged by the kernel instead",
    ),
    (
        "wat",
        "a process runs a native program: name it with `program`",
    ),
];

/// Reads one `[[process]]` table; `None` if it has no usable name.
pub(super) fn parse_process(
    table: &Table,
    index: usize,
    problems: &mut Problems<'_>,
) -> Option<ProcessSpec> {
    let name = super::table_name(table, "process", index, problems)?;
    let written = problems.written;
    let found = |key: &str, position: Option<usize>| {
        written
            .text("process", index, key, position)
            .map(str::to_owned)
    };
    let mut say = |message: String| problems.add(format!("process `{name}`: {message}"));
    let mut spec = ProcessSpec {
        name: name.clone(),
        ..ProcessSpec::default()
    };
    for (key, value) in table {
        if spec.grants.parse_key(key, value, &mut say, &found) {
            continue;
        }
        if let Some((_, why)) = REFUSED.iter().find(|(refused, _)| refused == key) {
            say(format!("`{key}` is not supported for processes: {why}"));
            continue;
        }
        let shown = || found(key, None).unwrap_or_else(|| value.to_string());
        match key.as_str() {
            "name" => {}
            "devices" => spec.devices = devices::parse_devices(value, &mut say),
            "dma-unconfined" => spec.dma_unconfined = devices::parse_flag(key, value, &mut say),
            "dma" => match super::integer(value) {
                Some(bytes) if bytes > 0 => spec.dma = Some(bytes),
                _ => say(format!(
                    "`dma` must be a positive number of bytes, found {}",
                    shown()
                )),
            },
            "kernel_memory" => match value.as_integer() {
                Some(bytes) if bytes > 0 => spec.kernel_memory = bytes as u64,
                _ => say(format!(
                    "`kernel_memory` must be a number of bytes above 0, such as 262144, found {}",
                    shown()
                )),
            },
            "program" => match value.as_str() {
                Some(program) if valid_name(program) => spec.program = program.to_owned(),
                _ => say(format!(
                    "`program` must be the name of a native program, such as \"checksum-native\", found {value}"
                )),
            },
            other => say(format!(
                "unknown key `{other}` (known: name, program, serve, endpoints, ports, mmio, irqs, devices, dma, dma-unconfined, kernel_memory)"
            )),
        }
    }
    if !table.contains_key("program") {
        say(
            "`program` (the native program it runs, such as \"checksum-native\") is missing".into(),
        );
    }
    Some(spec)
}

/// Checks that every process runs one of `known`, the native programs the tool builds.
///
/// # Errors
/// One message per process naming an unknown program, with the known ones.
pub fn check_programs(processes: &[ProcessSpec], known: &[String]) -> Result<(), Vec<String>> {
    let listed = if known.is_empty() {
        "none: the workspace builds no native programs".to_owned()
    } else {
        known.join(", ")
    };
    let problems: Vec<String> = processes
        .iter()
        .filter(|process| !known.contains(&process.program))
        .map(|process| {
            format!(
                "{SOURCE}: process `{}`: program `{}` is not a native program the tool builds (known: {listed})",
                process.name, process.program
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
