//! The system manifest as the kernel reads it: which modules boot, in what order, with which grants.
//!
//! People write `modules/system.toml`; `cargo cella build` validates it and
//! compiles it into the boot archive's `system.manifest`, a line-based form
//! that needs no TOML parser in the kernel:
//!
//! ```text
//! cella-system 1
//! module uart16550 modules/uart16550.wasm
//! serve uart
//! grant port 0x3f8 8
//! grant irq 4
//! grant endpoint console
//! restart policy=backoff max=5s
//! ```
//!
//! A line `push TARGET...` (from `[push] targets` in `modules/system.toml`)
//! grants the push channel for those modules (`*`: any); without it the
//! channel is off (see `crate::push_authority`).
//!
//! A line `defaults restart KEY=VALUE...` (from a `[defaults]` table) gives
//! the restart settings of every module listed after it, until the next
//! `defaults` line; a module's own `restart` line overrides them key by key.
//!
//! A module block with the line `boot no` (from `boot = false` in
//! `modules/system.toml`) is loaded and checked at boot but started only by
//! hand (`start NAME` in the shell): the teaching modules are listed this way.
//!
//! Lines after `module` belong to that module. A native ring-3 process is
//! listed the same way with `process NAME FILE` (an ELF in the boot archive)
//! and takes the same `serve` and `grant` lines (see `docs/processes.md`). The kernel still checks what
//! it reads: a malformed line is an error naming its line number, and two
//! modules granted the same port, MMIO byte or IRQ line are refused unless
//! both grants say `shared`.
#![forbid(unsafe_code)]

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use cella_abi::PciAddress;
use core::fmt;

pub use crate::validate::{
    KERNEL_ENDPOINTS, RESERVED_NAMES, reserved_name, validate, validate_addition,
};

/// One `grant` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantLine {
    Port {
        base: u16,
        count: u32,
        shared: bool,
    },
    Mmio {
        base: u64,
        length: u64,
        shared: bool,
    },
    Irq {
        line: u8,
        shared: bool,
    },
    Dma {
        bytes: u64,
    },
    Endpoint {
        name: String,
    },
    Timer,
    /// A PCI function by vendor and device id, optionally only the one at
    /// `slot`. The kernel resolves it at boot (see `crate::devices`): the
    /// function's address goes into `slot`, and its memory BARs, I/O BARs
    /// and interrupt line become `mmio`, `port` and `irq` lines of the plan.
    Device {
        vendor: u16,
        device: u16,
        slot: Option<PciAddress>,
    },
    /// Read-only configuration space of every PCI function.
    PciBus,
    /// The module's DMA may reach all of RAM: allowed where no IOMMU
    /// confines it. Without this line and without an IOMMU the kernel
    /// refuses the module's DMA grant.
    DmaUnconfined,
}

/// How a person reads a grant (`caps`, the boot log): `port 0x510 2`,
/// `mmio 0xfebf1000 4096`, `irq 4`, `dma 64 KiB`. The compiled manifest
/// writes [`GrantLine::compiled`] instead.
impl fmt::Display for GrantLine {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dma { bytes } => write!(formatter, "dma {}", cella_abi::text::Size(*bytes)),
            Self::Mmio {
                base,
                length,
                shared,
            } => write!(
                formatter,
                "mmio {base:#x} {length}{}",
                if *shared { " shared" } else { "" }
            ),
            other => formatter.write_str(&other.compiled()),
        }
    }
}

impl GrantLine {
    /// The line's words in the compiled manifest (after `grant `), as
    /// [`SystemManifest::read`] parses them back.
    pub fn compiled(&self) -> String {
        let shared = |shared: &bool| if *shared { " shared" } else { "" };
        match self {
            Self::Port {
                base,
                count,
                shared: s,
            } => {
                alloc::format!("port {base:#x} {count}{}", shared(s))
            }
            Self::Mmio {
                base,
                length,
                shared: s,
            } => {
                alloc::format!("mmio {base:#x} {length:#x}{}", shared(s))
            }
            Self::Irq { line, shared: s } => alloc::format!("irq {line}{}", shared(s)),
            Self::Dma { bytes } => alloc::format!("dma {bytes}"),
            Self::Endpoint { name } => alloc::format!("endpoint {name}"),
            Self::Timer => String::from("timer"),
            Self::Device {
                vendor,
                device,
                slot,
            } => match slot {
                Some(slot) => alloc::format!("device {vendor:#06x} {device:#06x} at {slot}"),
                None => alloc::format!("device {vendor:#06x} {device:#06x}"),
            },
            Self::PciBus => String::from("pci-bus"),
            Self::DmaUnconfined => String::from("dma-unconfined"),
        }
    }
}

/// A module's own limits (`limit KEY=VALUE ...`), each overriding the
/// system's default for this module only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleLimits {
    /// `fuel`: fuel per event (about one unit per Wasm instruction).
    pub fuel_per_event: Option<u64>,
    /// `memory_pages`: most 64 KiB pages of linear memory.
    pub memory_pages: Option<u32>,
    /// `pending_requests`: requests it may hold unanswered.
    pub pending_requests: Option<u32>,
    /// `queue`: events (messages, IRQs) that may wait for it.
    pub queue: Option<u32>,
}

impl ModuleLimits {
    /// The keys of the `limit` line, as `(key, value)` pairs for those set.
    pub fn settings(&self) -> Vec<(&'static str, u64)> {
        let mut settings = Vec::new();
        if let Some(fuel) = self.fuel_per_event {
            settings.push(("fuel", fuel));
        }
        if let Some(pages) = self.memory_pages {
            settings.push(("memory_pages", u64::from(pages)));
        }
        if let Some(requests) = self.pending_requests {
            settings.push(("pending_requests", u64::from(requests)));
        }
        if let Some(queue) = self.queue {
            settings.push(("queue", u64::from(queue)));
        }
        settings
    }

    /// Sets `key` to `value`.
    ///
    /// # Errors
    /// An unknown key, or a value out of its range (every limit is above 0;
    /// memory at most 65,536 pages, the wasm32 address space).
    pub fn set(&mut self, key: &str, value: u64) -> Result<(), String> {
        let small = |most: u64| {
            (1..=most)
                .contains(&value)
                .then_some(value as u32)
                .ok_or_else(|| alloc::format!("limit `{key}` must be 1-{most}"))
        };
        match key {
            "fuel" if value > 0 => self.fuel_per_event = Some(value),
            "fuel" => return Err(String::from("limit `fuel` must be above 0")),
            "memory_pages" => self.memory_pages = Some(small(65_536)?),
            "pending_requests" => self.pending_requests = Some(small(4096)?),
            "queue" => self.queue = Some(small(65_536)?),
            _ => {
                return Err(alloc::format!(
                    "unknown limit `{key}` (known: fuel, memory_pages, pending_requests, queue)"
                ));
            }
        }
        Ok(())
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.settings().is_empty()
    }
}

/// One module block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModulePlan {
    pub name: String,
    /// Path of the `.wasm` inside the boot archive.
    pub file: String,
    /// Endpoints whose messages this module receives.
    pub serves: Vec<String>,
    pub grants: Vec<GrantLine>,
    /// `restart` settings, as `key=value` pairs (read by the supervisor).
    pub restart: Vec<(String, String)>,
    /// `boot no`: loaded at boot, started only by hand.
    pub on_demand: bool,
    /// `kernel_memory BYTES`: what the module or process may make the kernel
    /// allocate on its behalf; 0 means the kernel's default.
    pub kernel_memory: usize,
    /// `limit KEY=VALUE ...`: the module's own limits (modules only).
    pub limits: ModuleLimits,
}

/// The whole manifest, modules in boot order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemManifest {
    pub modules: Vec<ModulePlan>,
    /// Native processes (`process NAME FILE` blocks), started after the modules.
    pub processes: Vec<ModulePlan>,
    /// The `push TARGET...` line: the push channel is granted for these
    /// targets (`*`: any); `None`: the channel is off.
    pub push: Option<crate::push_authority::PushGrant>,
}

/// A manifest the kernel refuses, with the 1-based line it stopped at (0: the whole file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(formatter, "system.manifest: {}", self.message)
        } else {
            write!(
                formatter,
                "system.manifest line {}: {}",
                self.line, self.message
            )
        }
    }
}

fn error(line: usize, message: impl Into<String>) -> ManifestError {
    ManifestError {
        line,
        message: message.into(),
    }
}

/// Sets restart setting `KEY=VALUE` in `settings`, replacing the same key's value.
fn set_restart(
    settings: &mut Vec<(String, String)>,
    setting: &str,
    line: usize,
) -> Result<(), ManifestError> {
    let (key, value) = setting
        .split_once('=')
        .filter(|(key, value)| !key.is_empty() && !value.is_empty())
        .ok_or_else(|| {
            error(
                line,
                alloc::format!("restart setting `{setting}` is not KEY=VALUE"),
            )
        })?;
    match settings.iter_mut().find(|(known, _)| known == key) {
        Some(existing) => existing.1 = value.to_string(),
        None => settings.push((key.to_string(), value.to_string())),
    }
    Ok(())
}

fn parse_number(word: &str) -> Option<u64> {
    match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
}

impl SystemManifest {
    /// Reads and checks the compiled manifest: [`SystemManifest::read`], then
    /// [`validate`] (the same check the `cella` tool runs).
    ///
    /// # Errors
    /// [`ManifestError`] for what `read` refuses, or (line 0) every problem
    /// `validate` finds.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let manifest = Self::read(text)?;
        let problems = validate(&manifest);
        if problems.is_empty() {
            Ok(manifest)
        } else {
            Err(error(0, problems.join("; ")))
        }
    }

    /// Reads the compiled manifest's lines, without the whole-system checks.
    ///
    /// # Errors
    /// [`ManifestError`] naming the line: a missing header, an unknown
    /// keyword, a bad number or range, a line outside a module block.
    pub fn read(text: &str) -> Result<Self, ManifestError> {
        let mut manifest = SystemManifest::default();
        let mut saw_header = false;
        let mut in_process = false;
        let mut restart_defaults: Vec<(String, String)> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            if !saw_header {
                if words != ["cella-system", "1"] {
                    return Err(error(number, "must start with `cella-system 1`"));
                }
                saw_header = true;
                continue;
            }
            if let ["push", targets @ ..] = words.as_slice() {
                if manifest.push.is_some() || targets.is_empty() {
                    return Err(error(
                        number,
                        "`push TARGET...` names at least one target, once",
                    ));
                }
                manifest.push = Some(crate::push_authority::PushGrant {
                    targets: targets.iter().map(|target| target.to_string()).collect(),
                });
                continue;
            }
            if let ["defaults", rest @ ..] = words.as_slice() {
                let ["restart", settings @ ..] = rest else {
                    return Err(error(
                        number,
                        alloc::format!(
                            "cannot read `{line}`: expected `defaults restart KEY=VALUE...`"
                        ),
                    ));
                };
                restart_defaults = Vec::new();
                for setting in settings {
                    set_restart(&mut restart_defaults, setting, number)?;
                }
                continue;
            }
            if let ["module", name, file] = words.as_slice() {
                manifest.modules.push(ModulePlan {
                    name: name.to_string(),
                    file: file.to_string(),
                    restart: restart_defaults.clone(),
                    ..ModulePlan::default()
                });
                in_process = false;
                continue;
            }
            if let ["process", name, file] = words.as_slice() {
                manifest.processes.push(ModulePlan {
                    name: name.to_string(),
                    file: file.to_string(),
                    ..ModulePlan::default()
                });
                in_process = true;
                continue;
            }
            let current = if in_process {
                manifest.processes.last_mut()
            } else {
                manifest.modules.last_mut()
            };
            let Some(module) = current else {
                return Err(error(number, "expected `module NAME FILE` first"));
            };
            match words.as_slice() {
                ["serve", endpoint] => module.serves.push(endpoint.to_string()),
                ["boot", "no"] => module.on_demand = true,
                ["kernel_memory", bytes] => {
                    module.kernel_memory = bytes
                        .parse::<usize>()
                        .ok()
                        .filter(|&bytes| bytes > 0)
                        .ok_or_else(|| {
                        error(
                            number,
                            alloc::format!("`kernel_memory {bytes}`: expected bytes above 0"),
                        )
                    })?;
                }
                ["boot", "yes"] => module.on_demand = false,
                ["grant", rest @ ..] => module.grants.push(parse_grant(rest, number)?),
                ["limit", settings @ ..] if !settings.is_empty() => {
                    for setting in settings {
                        let value = setting
                            .split_once('=')
                            .and_then(|(key, value)| Some((key, parse_number(value)?)));
                        let Some((key, value)) = value else {
                            return Err(error(
                                number,
                                alloc::format!("limit `{setting}` is not KEY=NUMBER"),
                            ));
                        };
                        module
                            .limits
                            .set(key, value)
                            .map_err(|why| error(number, alloc::format!("`{setting}`: {why}")))?;
                    }
                }
                ["restart", settings @ ..] => {
                    for setting in settings {
                        set_restart(&mut module.restart, setting, number)?;
                    }
                }
                _ => return Err(error(number, alloc::format!("cannot read `{line}`"))),
            }
        }
        if !saw_header {
            return Err(error(0, "empty; expected `cella-system 1`"));
        }
        Ok(manifest)
    }

    /// The compiled text of this manifest, which [`SystemManifest::read`]
    /// reads back as it is (the one codec of the compiled form).
    pub fn render(&self) -> String {
        use core::fmt::Write;
        let mut text = String::from("cella-system 1\n");
        if let Some(push) = &self.push {
            let _ = writeln!(text, "push {}", push.targets.join(" "));
        }
        for (kind, plans) in [("module", &self.modules), ("process", &self.processes)] {
            for plan in plans {
                let _ = writeln!(text, "{kind} {} {}", plan.name, plan.file);
                for endpoint in &plan.serves {
                    let _ = writeln!(text, "serve {endpoint}");
                }
                for grant in &plan.grants {
                    let _ = writeln!(text, "grant {}", grant.compiled());
                }
                if !plan.restart.is_empty() {
                    let settings: Vec<String> = plan
                        .restart
                        .iter()
                        .map(|(key, value)| alloc::format!("{key}={value}"))
                        .collect();
                    let _ = writeln!(text, "restart {}", settings.join(" "));
                }
                if plan.on_demand {
                    text.push_str("boot no\n");
                }
                if plan.kernel_memory != 0 {
                    let _ = writeln!(text, "kernel_memory {}", plan.kernel_memory);
                }
                if !plan.limits.is_empty() {
                    let settings: Vec<String> = plan
                        .limits
                        .settings()
                        .iter()
                        .map(|(key, value)| alloc::format!("{key}={value}"))
                        .collect();
                    let _ = writeln!(text, "limit {}", settings.join(" "));
                }
            }
        }
        text
    }

    /// The module serving `endpoint`, if any.
    pub fn server_of(&self, endpoint: &str) -> Option<&ModulePlan> {
        self.modules
            .iter()
            .find(|module| module.serves.iter().any(|served| served == endpoint))
    }
}

fn parse_grant(words: &[&str], line: usize) -> Result<GrantLine, ManifestError> {
    let number = |word: &str| {
        parse_number(word).ok_or_else(|| error(line, alloc::format!("`{word}` is not a number")))
    };
    let (words, shared) = match words.split_last() {
        Some((&"shared", rest)) => (rest, true),
        _ => (words, false),
    };
    let grant = match words {
        ["port", base_word, count_word] => {
            let base = number(base_word)?;
            let count = number(count_word)?;
            if count == 0 || base.checked_add(count).is_none_or(|end| end > 0x1_0000) {
                return Err(error(
                    line,
                    alloc::format!(
                        "port range `{base_word} {count_word}` must be non-empty and end at or below 0x10000"
                    ),
                ));
            }
            GrantLine::Port {
                base: base as u16,
                count: count as u32,
                shared,
            }
        }
        ["mmio", base_word, length_word] => {
            let base = number(base_word)?;
            let length = number(length_word)?;
            if length == 0 || base.checked_add(length).is_none() {
                return Err(error(
                    line,
                    alloc::format!(
                        "MMIO region `{base_word} {length_word}` must be non-empty and inside the address space"
                    ),
                ));
            }
            GrantLine::Mmio {
                base,
                length,
                shared,
            }
        }
        ["irq", irq_word] => {
            let irq = number(irq_word)?;
            if irq >= 16 {
                return Err(error(
                    line,
                    alloc::format!("IRQ {irq_word} does not exist (lines are 0-15)"),
                ));
            }
            GrantLine::Irq {
                line: irq as u8,
                shared,
            }
        }
        ["dma", bytes] if !shared => GrantLine::Dma {
            bytes: number(bytes)?,
        },
        ["endpoint", name] if !shared => GrantLine::Endpoint {
            name: name.to_string(),
        },
        ["timer"] if !shared => GrantLine::Timer,
        ["device", vendor, device, rest @ ..] if !shared => {
            let id = |word: &str| {
                u16::try_from(number(word)?)
                    .map_err(|_| error(line, alloc::format!("PCI id `{word}` is above 0xffff")))
            };
            let slot = match rest {
                [] => None,
                ["at", slot] => Some(PciAddress::parse(slot).ok_or_else(|| {
                    error(
                        line,
                        alloc::format!("PCI address `{slot}` is not BUS:DEVICE.FUNCTION"),
                    )
                })?),
                _ => {
                    return Err(error(
                        line,
                        alloc::format!("cannot read grant `{}`", words.join(" ")),
                    ));
                }
            };
            GrantLine::Device {
                vendor: id(vendor)?,
                device: id(device)?,
                slot,
            }
        }
        ["pci-bus"] if !shared => GrantLine::PciBus,
        ["dma-unconfined"] if !shared => GrantLine::DmaUnconfined,
        _ => {
            return Err(error(
                line,
                alloc::format!("cannot read grant `{}`", words.join(" ")),
            ));
        }
    };
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grant reads as a person writes it; the compiled form round-trips.
    #[test]
    fn grants_read_as_plain_text_and_compile_back() {
        let cases = [
            (
                GrantLine::Port {
                    base: 0x510,
                    count: 2,
                    shared: false,
                },
                "port 0x510 2",
                "port 0x510 2",
            ),
            (
                GrantLine::Mmio {
                    base: 0xfebf_1000,
                    length: 4096,
                    shared: true,
                },
                "mmio 0xfebf1000 4096 shared",
                "mmio 0xfebf1000 0x1000 shared",
            ),
            (
                GrantLine::Irq {
                    line: 4,
                    shared: false,
                },
                "irq 4",
                "irq 4",
            ),
            (GrantLine::Dma { bytes: 65536 }, "dma 64 KiB", "dma 65536"),
            (GrantLine::Timer, "timer", "timer"),
            (
                GrantLine::Device {
                    vendor: 0x1af4,
                    device: 0x1042,
                    slot: None,
                },
                "device 0x1af4 0x1042",
                "device 0x1af4 0x1042",
            ),
            (
                GrantLine::Device {
                    vendor: 0x1af4,
                    device: 0x1042,
                    slot: PciAddress::new(0, 3, 0),
                },
                "device 0x1af4 0x1042 at 00:03.0",
                "device 0x1af4 0x1042 at 00:03.0",
            ),
            (GrantLine::PciBus, "pci-bus", "pci-bus"),
            (GrantLine::DmaUnconfined, "dma-unconfined", "dma-unconfined"),
        ];
        for (grant, text, compiled) in cases {
            assert_eq!(grant.to_string(), text);
            assert_eq!(grant.compiled(), compiled);
            let manifest = alloc::format!("cella-system 1\nmodule m m.wasm\ngrant {compiled}\n");
            let read = SystemManifest::read(&manifest).unwrap();
            assert_eq!(read.modules[0].grants, [grant]);
        }
    }

    const EXAMPLE: &str = "\
# generated
cella-system 1
module uart16550 modules/uart16550.wasm
serve uart
grant port 0x3f8 8
grant irq 4
grant endpoint console
restart policy=backoff max=5s
module console modules/console.wasm
serve console
grant endpoint uart
grant timer
grant timer
";

    #[test]
    fn defaults_apply_to_the_modules_after_them_and_own_settings_override() {
        let text = "\
cella-system 1
module first modules/first.wasm
defaults restart policy=backoff max=5s hold-after=5
module uart modules/uart.wasm
module faulty modules/faulty.wasm
restart max=1s window=60s
defaults restart hold-after=3
module oob modules/oob.wasm
";
        let manifest = SystemManifest::parse(text).unwrap();
        let restart = |index: usize| -> Vec<(&str, &str)> {
            manifest.modules[index]
                .restart
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .collect()
        };
        assert_eq!(restart(0), [], "a module before any defaults line has none");
        assert_eq!(
            restart(1),
            [("policy", "backoff"), ("max", "5s"), ("hold-after", "5")]
        );
        assert_eq!(
            restart(2),
            [
                ("policy", "backoff"),
                ("max", "1s"),
                ("hold-after", "5"),
                ("window", "60s")
            ]
        );
        assert_eq!(
            restart(3),
            [("hold-after", "3")],
            "a later line replaces them all"
        );
    }

    #[test]
    fn bad_defaults_lines_are_refused_with_their_line() {
        for (text, expected) in [
            (
                "cella-system 1\ndefaults restart max\nmodule a f\n",
                "system.manifest line 2: restart setting `max` is not KEY=VALUE",
            ),
            (
                "cella-system 1\ndefaults restart =5s\nmodule a f\n",
                "system.manifest line 2: restart setting `=5s` is not KEY=VALUE",
            ),
            (
                "cella-system 1\nmodule a f\ndefaults timers=2\n",
                "system.manifest line 3: cannot read `defaults timers=2`: expected `defaults restart KEY=VALUE...`",
            ),
            (
                "cella-system 1\ndefaults\n",
                "system.manifest line 2: cannot read `defaults`: expected `defaults restart KEY=VALUE...`",
            ),
        ] {
            let problem = SystemManifest::parse(text).unwrap_err();
            assert_eq!(alloc::format!("{problem}"), expected, "{text}");
        }
    }

    #[test]
    fn reads_modules_in_order() {
        let manifest = SystemManifest::parse(EXAMPLE).unwrap();
        assert_eq!(manifest.modules.len(), 2);
        let uart = &manifest.modules[0];
        assert_eq!(uart.name, "uart16550");
        assert_eq!(uart.file, "modules/uart16550.wasm");
        assert_eq!(uart.serves, ["uart"]);
        assert_eq!(
            uart.grants,
            [
                GrantLine::Port {
                    base: 0x3f8,
                    count: 8,
                    shared: false
                },
                GrantLine::Irq {
                    line: 4,
                    shared: false
                },
                GrantLine::Endpoint {
                    name: "console".into()
                },
            ]
        );
        assert_eq!(
            uart.restart,
            [
                ("policy".into(), "backoff".into()),
                ("max".into(), "5s".into())
            ]
        );
        assert_eq!(
            manifest.modules[1]
                .grants
                .iter()
                .filter(|g| **g == GrantLine::Timer)
                .count(),
            2
        );
        assert_eq!(manifest.server_of("console").unwrap().name, "console");
        assert!(manifest.server_of("nobody").is_none());
    }

    #[test]
    fn modules_started_by_hand_say_boot_no() {
        let text = "cella-system 1\nmodule a a.wasm\nboot no\nmodule b b.wasm\nboot yes\nmodule c c.wasm\n";
        let manifest = SystemManifest::parse(text).unwrap();
        let on_demand: Vec<bool> = manifest.modules.iter().map(|m| m.on_demand).collect();
        assert_eq!(on_demand, [true, false, false]);
        let problem =
            SystemManifest::parse("cella-system 1\nmodule a a.wasm\nboot later\n").unwrap_err();
        assert_eq!(problem.line, 3);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let cases = [
            ("module a a.wasm\n", 1, "cella-system 1"),
            ("cella-system 1\ngrant irq 4\n", 2, "module NAME FILE"),
            (
                "cella-system 1\nmodule a f\ngrant irq 0x10\n",
                3,
                "IRQ 0x10 does not exist",
            ),
            (
                "cella-system 1\nmodule a f\ngrant port 0xfffe 4\n",
                3,
                "port range `0xfffe 4` must be non-empty and end at or below 0x10000",
            ),
            (
                "cella-system 1\nmodule a f\ngrant mmio 0xfebf1000 0\n",
                3,
                "MMIO region `0xfebf1000 0` must be non-empty",
            ),
            (
                "cella-system 1\nmodule a f\ngrant device 0x1af4 0x11042\n",
                3,
                "PCI id `0x11042` is above 0xffff",
            ),
            (
                "cella-system 1\nmodule a f\ngrant device 0x1af4 0x1042 at 00:33.0\n",
                3,
                "PCI address `00:33.0` is not BUS:DEVICE.FUNCTION",
            ),
            (
                "cella-system 1\nmodule a f\ngrant device 0x1af4 0x1042 on 00:03.0\n",
                3,
                "cannot read grant `device 0x1af4 0x1042 on 00:03.0`",
            ),
            (
                "cella-system 1\nmodule a f\ngrant port 0xffffffffffffffff 1\n",
                3,
                "0x10000",
            ),
            (
                "cella-system 1\nmodule a f\ngrant port 0xffffffff00000000 0x100000001\n",
                3,
                "0x10000",
            ),
            (
                "cella-system 1\nmodule a f\ngrant port zz 4\n",
                3,
                "not a number",
            ),
            ("cella-system 1\nmodule a f\nfrobnicate\n", 3, "cannot read"),
            (
                "cella-system 1\nmodule a f\nrestart nonsense\n",
                3,
                "KEY=VALUE",
            ),
            ("cella-system 1\nmodule a f\nmodule a g\n", 0, "twice"),
            (
                "cella-system 1\nmodule a f\ngrant timer shared\n",
                3,
                "cannot read grant",
            ),
        ];
        for (text, line, needle) in cases {
            let problem = SystemManifest::parse(text).unwrap_err();
            assert_eq!(problem.line, line, "{text:?}: {problem}");
            assert!(problem.to_string().contains(needle), "{text:?}: {problem}");
        }
        assert_eq!(SystemManifest::parse("").unwrap_err().line, 0);
    }

    #[test]
    fn parse_refuses_what_validate_finds() {
        let two = "cella-system 1\nmodule a f\ngrant port 0x60 1\nmodule b g\ngrant port 0x5f 4\nserve x\nprocess p q\nserve x\n";
        let refused = SystemManifest::parse(two).unwrap_err();
        assert_eq!(refused.line, 0);
        assert!(refused.message.contains("ports 0x60..0x61"), "{refused}");
        assert!(
            refused.message.contains("endpoint `x` is served by 2"),
            "{refused}"
        );
        assert!(SystemManifest::read(two).is_ok());
    }

    #[test]
    fn a_module_sets_its_own_limits() {
        let manifest = SystemManifest::parse(
            "cella-system 1\nmodule a a.wasm\nlimit fuel=0x100000 queue=8\nlimit memory_pages=2\n",
        )
        .unwrap();
        let limits = manifest.modules[0].limits;
        assert_eq!(limits.fuel_per_event, Some(0x10_0000));
        assert_eq!(limits.memory_pages, Some(2));
        assert_eq!(limits.queue, Some(8));
        assert_eq!(limits.pending_requests, None);
        for (bad, needle) in [
            ("limit fuel=0", "above 0"),
            ("limit memory_pages=65537", "1-65536"),
            ("limit speed=3", "unknown limit `speed`"),
            (
                "limit memory_pages=0x20000",
                "`memory_pages=0x20000`: limit `memory_pages` must be 1-65536",
            ),
            ("limit fuel", "KEY=NUMBER"),
            ("limit queue=lots", "KEY=NUMBER"),
        ] {
            let text = alloc::format!("cella-system 1\nmodule a a.wasm\n{bad}\n");
            let problem = SystemManifest::parse(&text).unwrap_err();
            assert_eq!(problem.line, 3, "{bad}");
            assert!(problem.message.contains(needle), "{bad}: {problem}");
        }
        let process = "cella-system 1\nprocess p bin/p\nlimit fuel=5\n";
        assert!(
            SystemManifest::parse(process)
                .unwrap_err()
                .message
                .contains("process `p`: a native process takes no `limit`")
        );
    }

    #[test]
    fn render_and_read_are_one_codec() {
        let manifest = SystemManifest::parse(EXAMPLE).unwrap();
        assert_eq!(SystemManifest::read(&manifest.render()).unwrap(), manifest);
        let text = "cella-system 1\npush a *\nmodule a a.wasm\nserve s\ngrant mmio 0xfec00000 0x20 shared\ngrant dma 4096\nrestart policy=never\nboot no\nkernel_memory 8192\nlimit fuel=2000000 memory_pages=32 pending_requests=64 queue=128\nprocess p bin/p\ngrant endpoint s\nkernel_memory 4096\n";
        let manifest = SystemManifest::parse(text).unwrap();
        assert_eq!(manifest.render(), text);
        assert_eq!(SystemManifest::parse(&manifest.render()).unwrap(), manifest);
    }

    #[test]
    fn processes_and_modules_take_a_kernel_memory_allowance() {
        let text = "cella-system 1\nmodule m m.wasm\nkernel_memory 4096\nprocess p bin/p\nkernel_memory 65536\nprocess q bin/q\n";
        let manifest = SystemManifest::parse(text).expect("valid");
        assert_eq!(manifest.modules[0].kernel_memory, 4096);
        assert_eq!(manifest.processes[0].kernel_memory, 65536);
        assert_eq!(manifest.processes[1].kernel_memory, 0, "default");
        for bad in [
            "cella-system 1\nprocess p bin/p\nkernel_memory 0\n",
            "cella-system 1\nprocess p bin/p\nkernel_memory lots\n",
            "cella-system 1\nmodule m m.wasm\nkernel_memory -1\n",
        ] {
            assert!(SystemManifest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn native_processes_are_listed_and_granted_like_modules() {
        let text = "cella-system 1\n\
module console modules/console.wasm\n\
serve console\n\
process crc bin/checksum-native\n\
serve checksum\n\
grant port 0x70 2\n\
grant mmio 0xfec00000 0x20\n\
grant endpoint console\n\
module rtc modules/cmos-rtc.wasm\n\
serve rtc\n";
        let manifest = SystemManifest::parse(text).unwrap();
        assert_eq!(manifest.modules.len(), 2);
        assert_eq!(manifest.processes.len(), 1);
        let process = &manifest.processes[0];
        assert_eq!(process.file, "bin/checksum-native");
        assert_eq!(process.serves, ["checksum"]);
        assert_eq!(process.grants.len(), 3);
        assert_eq!(manifest.modules[1].serves, ["rtc"]);
        // Exclusive grants conflict across modules and processes alike.
        let clash = "cella-system 1\nmodule rtc modules/cmos-rtc.wasm\ngrant port 0x70 2\n\
process p bin/ports\ngrant port 0x71 1\n";
        assert!(SystemManifest::parse(clash).is_err());
        let twice = "cella-system 1\nprocess p bin/a\nprocess p bin/b\n";
        assert!(SystemManifest::parse(twice).is_err());
        let served = "cella-system 1\nmodule a a.wasm\nserve x\nprocess p bin/p\nserve x\n";
        assert!(SystemManifest::parse(served).is_err());
    }

    #[test]
    fn the_push_line_grants_the_channel_once() {
        let manifest =
            SystemManifest::parse("cella-system 1\npush uart16550 shell\nmodule a a.wasm\n")
                .unwrap();
        let grant = manifest.push.unwrap();
        assert!(grant.allows("shell") && !grant.allows("a"));
        assert_eq!(manifest.modules.len(), 1);
        let without = SystemManifest::parse("cella-system 1\nmodule a a.wasm\n").unwrap();
        assert_eq!(without.push, None);
        for bad in [
            "cella-system 1\npush\nmodule a a.wasm\n",
            "cella-system 1\npush *\npush a\nmodule a a.wasm\n",
        ] {
            assert_eq!(
                SystemManifest::parse(bad).unwrap_err().line,
                2 + bad.matches("push").count() - 1
            );
        }
    }

    #[test]
    fn the_kernels_names_name_no_module_or_process() {
        for text in [
            "cella-system 1\nmodule boot boot.wasm\n",
            "cella-system 1\nmodule a a.wasm\nprocess supervisor bin/s\n",
        ] {
            let problem = SystemManifest::parse(text).unwrap_err();
            assert_eq!(problem.line, 0);
            assert!(
                problem.message.contains("name of the kernel's own"),
                "{problem}"
            );
        }
        assert!(reserved_name("uart16550").is_none());
    }
}
