//! One `[[module]]` table: a Wasm module, its grants, its restart policy.

use super::devices::{self, DeviceGrant};
use super::grants::Grants;
use super::{Problems, integer};
use cella_system::system_manifest::{GrantLine, ModuleLimits, ModulePlan};
use cella_wasm_host::{Grant, PciFunction};
use toml::{Table, Value};

/// One `[[module]]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleSpec {
    /// Module name (the archive file is `modules/NAME.wasm`).
    pub name: String,
    /// Cargo package.
    pub package: String,
    /// Endpoints and devices.
    pub grants: Grants,
    /// DMA bytes.
    pub dma: Option<u64>,
    /// One-shot timers.
    pub timers: u32,
    /// PCI functions granted by identity (`devices`).
    pub devices: Vec<DeviceGrant>,
    /// `pci-bus = true`: read-only configuration space of every function.
    pub pci_bus: bool,
    /// `dma-unconfined = true`: DMA allowed where no IOMMU confines it.
    pub dma_unconfined: bool,
    /// Its own restart settings, in the order written (each overrides the same key of
    /// `restart_defaults`).
    pub restart: Vec<(String, String)>,
    /// The `[defaults] restart` settings of the file it is written in.
    pub restart_defaults: Vec<(String, String)>,
    /// Started at boot (`boot = false`: loaded, started only by hand).
    pub boot: bool,
    /// WAT source (relative to the workspace root) instead of a cargo package.
    pub wat: Option<String>,
    /// `path`: the module's file on the running system's file system (read through the `fs`
    /// server once the boot is done) instead of a module built into the boot archive.
    pub path: Option<String>,
    /// `kernel_memory`: bytes of kernel heap the module may hold, its code and linear memory
    /// included, two instances during a swap (0: the kernel's default, 4 MiB).
    pub kernel_memory: u64,
    /// `limits`: the module's own fuel per event, memory pages, unanswered requests and
    /// queue depth, over the system's defaults.
    pub limits: ModuleLimits,
}

impl ModuleSpec {
    /// `modules/NAME.wasm`, or the module's `path` on the file system.
    pub fn archive_file(&self) -> String {
        match &self.path {
            Some(path) => path.clone(),
            None => format!("modules/{}.wasm", self.name),
        }
    }

    /// Whether the tool builds the module into the boot archive (it has no `path`).
    pub fn is_built(&self) -> bool {
        self.path.is_none()
    }

    /// The grant as cella-wasm-host checks it (endpoint ids are positions in `endpoints`).
    ///
    /// The tool cannot see the machine the system will boot on, so each
    /// granted PCI function is a stand-in with its ids and no windows: a
    /// module's `pci` request is checked against the ids; the kernel finds
    /// the function itself at boot.
    pub fn grant(&self) -> Grant {
        let grant = Grant::from_plan(&self.plan(), |name| {
            self.grants
                .endpoints
                .iter()
                .position(|endpoint| endpoint == name)
                .map(|index| index as u64 + 1)
        });
        self.devices.iter().fold(grant, |grant, device| {
            grant.pci_function(PciFunction::unresolved(
                device.vendor,
                device.device,
                device.slot,
            ))
        })
    }

    /// The grant lines, as in `system.manifest`.
    pub fn grant_lines(&self) -> Vec<GrantLine> {
        let mut lines = self.grants.device_lines();
        lines.extend(self.devices.iter().map(DeviceGrant::line));
        if self.pci_bus {
            lines.push(GrantLine::PciBus);
        }
        if let Some(bytes) = self.dma {
            lines.push(GrantLine::Dma { bytes });
        }
        if self.dma_unconfined {
            lines.push(GrantLine::DmaUnconfined);
        }
        lines.extend(self.grants.endpoint_lines());
        for _ in 0..self.timers {
            lines.push(GrantLine::Timer);
        }
        lines
    }

    /// This module in the system description the kernel reads.
    pub fn plan(&self) -> ModulePlan {
        ModulePlan {
            name: self.name.clone(),
            file: self.archive_file(),
            serves: self.grants.serve.clone(),
            grants: self.grant_lines(),
            restart: self.effective_restart(),
            on_demand: !self.boot,
            kernel_memory: usize::try_from(self.kernel_memory).unwrap_or(usize::MAX),
            limits: self.limits,
        }
    }
}

/// Reads one `[[module]]` table; `None` if it has no usable name.
pub(super) fn parse_module(
    table: &Table,
    index: usize,
    problems: &mut Problems<'_>,
) -> Option<ModuleSpec> {
    let name = super::table_name(table, "module", index, problems)?;
    let written = problems.written;
    let found = |key: &str, position: Option<usize>| {
        written
            .text("module", index, key, position)
            .map(str::to_owned)
    };
    let mut say = |message: String| problems.add(format!("module `{name}`: {message}"));
    let mut spec = ModuleSpec {
        name: name.clone(),
        package: name.clone(),
        boot: true,
        ..ModuleSpec::default()
    };
    if table.contains_key("path") && (table.contains_key("package") || table.contains_key("wat")) {
        say(
            "`path` names the module's file on the file system; it goes without `package` or `wat`"
                .into(),
        );
    }
    for (key, value) in table {
        if spec.grants.parse_key(key, value, &mut say, &found) {
            continue;
        }
        let shown = || found(key, None).unwrap_or_else(|| value.to_string());
        match key.as_str() {
            "name" => {}
            "package" => match value.as_str() {
                Some(package) => spec.package = package.to_owned(),
                None => say("`package` must be a string".into()),
            },
            "dma" => match integer(value) {
                Some(bytes) if bytes > 0 => spec.dma = Some(bytes),
                _ => say(format!(
                    "`dma` must be a positive number of bytes, found {}", shown()
                )),
            },
            "devices" => spec.devices = devices::parse_devices(value, &mut say),
            "pci-bus" => spec.pci_bus = devices::parse_flag(key, value, &mut say),
            "dma-unconfined" => spec.dma_unconfined = devices::parse_flag(key, value, &mut say),
            "timers" => match integer(value).and_then(|count| u32::try_from(count).ok()) {
                Some(count) if count <= 64 => spec.timers = count,
                _ => say(format!("`timers` must be a count 0-64, found {}", shown())),
            },
            "restart" => spec.restart = parse_restart(value, &mut say),
            "boot" => match value.as_bool() {
                Some(boot) => spec.boot = boot,
                None => say(format!("`boot` must be true or false, found {value}")),
            },
            "kernel_memory" => match value.as_integer() {
                Some(bytes) if bytes > 0 => spec.kernel_memory = bytes as u64,
                _ => say(format!(
                    "`kernel_memory` must be a number of bytes above 0, such as 4194304, found {}", shown()
                )),
            },
            "limits" => match value.as_table() {
                Some(limits) => {
                    for (limit, value) in limits {
                        let set = integer(value)
                            .ok_or_else(|| format!("limit `{limit}` must be a number, found {value}"))
                            .and_then(|number| spec.limits.set(limit, number));
                        if let Err(problem) = set {
                            say(format!("{problem} (in `limits = {}`)", shown()));
                        }
                    }
                }
                None => say(
                    "`limits` must be a table, e.g. { fuel = 2000000, memory_pages = 32, pending_requests = 64, queue = 256 }".into(),
                ),
            },
            "path" => match value.as_str().map(file_system_path) {
                Some(Ok(path)) => spec.path = Some(path),
                Some(Err(why)) => say(format!("`path` {why}, found {}", shown())),
                None => say(format!("`path` must be a string, found {}", shown())),
            },
            "wat" => match value.as_str() {
                Some(path) if path.ends_with(".wat") => spec.wat = Some(path.to_owned()),
                _ => say(format!(
                    "`wat` must be the path of a .wat file, found {value}"
                )),
            },
            other => say(format!(
                "unknown key `{other}` (known: name, package, serve, ports, mmio, irqs, devices, pci-bus, dma, dma-unconfined, endpoints, timers, restart, boot, wat, path, kernel_memory, limits)"
            )),
        }
    }
    Some(spec)
}

/// Checks a `path`: absolute, `/`-separated names without `.` or `..`, at
/// most the file system's 255 bytes.
fn file_system_path(path: &str) -> Result<String, &'static str> {
    if !path.starts_with('/') || path.len() < 2 {
        return Err("must be an absolute path on the file system, such as /modules/blink.wasm");
    }
    if path.len() > 255 {
        return Err("is longer than the file system's 255 bytes");
    }
    if path[1..]
        .split('/')
        .any(|name| name.is_empty() || name == "." || name == "..")
    {
        return Err("must name a file by names without `.`, `..` or empty ones");
    }
    Ok(path.to_owned())
}

impl ModuleSpec {
    /// The restart settings that apply: the defaults, each overridden by the module's own.
    pub fn effective_restart(&self) -> Vec<(String, String)> {
        let mut settings = self.restart_defaults.clone();
        for (key, value) in &self.restart {
            match settings.iter_mut().find(|(known, _)| known == key) {
                Some(setting) => setting.1 = value.clone(),
                None => settings.push((key.clone(), value.clone())),
            }
        }
        settings
    }
}

/// Reads a `restart` table (a module's, or `[defaults]`'s), checking each setting the way
/// the kernel's supervisor reads it; problems go to `say`, prefixed `restart: `.
pub(super) fn parse_restart(value: &Value, say: &mut impl FnMut(String)) -> Vec<(String, String)> {
    let Some(settings) = value.as_table() else {
        say("`restart` must be a table, e.g. { policy = \"backoff\", max = \"5s\" }".into());
        return Vec::new();
    };
    let mut parsed = Vec::new();
    for (setting, value) in settings {
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Integer(number) => number.to_string(),
            other => other.to_string(),
        };
        if let Err(problem) = check_restart(setting, &text) {
            say(format!("restart: {problem}"));
        }
        parsed.push((setting.clone(), text));
    }
    parsed
}

/// Checks one restart setting the way the kernel's supervisor reads it.
fn check_restart(key: &str, value: &str) -> Result<(), String> {
    let duration = |value: &str| {
        let split = value
            .find(|character: char| !character.is_ascii_digit())
            .unwrap_or(value.len());
        let (digits, unit) = value.split_at(split);
        !digits.is_empty()
            && digits.parse::<u64>().is_ok()
            && matches!(unit, "" | "ns" | "us" | "ms" | "s")
    };
    match key {
        "policy" if matches!(value, "backoff" | "never") => Ok(()),
        "policy" => Err(format!(
            "policy = \"{value}\": expected \"backoff\" or \"never\""
        )),
        "backoff" | "max" | "window" if duration(value) => Ok(()),
        "backoff" | "max" | "window" => Err(format!(
            "{key} = \"{value}\": expected a duration such as \"10ms\", \"5s\", \"250us\""
        )),
        "hold-after" if value.parse::<u32>().is_ok() => Ok(()),
        "hold-after" => Err(format!("hold-after = {value}: expected a count")),
        _ => Err(format!(
            "unknown setting `{key}` (known: policy, backoff, max, hold-after, window)"
        )),
    }
}
