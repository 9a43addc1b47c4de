//! `modules/system.toml`: which modules boot, in what order, with which grants and restart
//! policy. The tool reads it, checks it, and compiles it into the boot archive's
//! `system.manifest`, the line-based form the kernel reads (no TOML parser in the kernel).
//!
//! ```toml
//! [[module]]                       # one table per module, in boot order
//! name = "uart16550"               # the name in the module's own manifest
//! package = "cella-uart16550"      # the cargo package built to wasm32
//! serve = ["uart"]                 # endpoints whose messages this module receives
//! ports = [{ base = 0x3f8, count = 8 }]
//! irqs = [4]                       # or [{ line = 4, shared = true }]
//! mmio = [{ base = 0xfebf0000, length = 0x1000 }]
//! dma = 65536                      # bytes of DMA memory
//! endpoints = ["console"]          # endpoints it may send to
//! timers = 1                       # one-shot timers
//! restart = { policy = "backoff", backoff = "10ms", max = "5s", hold-after = 5, window = "60s" }
//! boot = false                     # packed and loaded, started only by `start NAME`
//! kernel_memory = 4194304          # kernel heap bytes it may hold (default 4 MiB)
//! limits = { fuel = 2000000, memory_pages = 32, pending_requests = 64, queue = 256 }
//!                                  # its own limits over the defaults (each optional)
//! wat = "modules/teaching/oob.wat" # a module written in WAT text instead of a package
//!
//! [defaults]                       # settings for every [[module]] of this file
//! restart = { policy = "backoff", backoff = "10ms", max = "5s", hold-after = 5, window = "60s" }
//!
//! [[process]]                      # a native ring-3 process, started after the modules
//! name = "checksum"
//! program = "checksum-native"      # a native program the tool builds: bin/PROGRAM
//! serve = ["checksum"]             # and the grant keys above but dma, timers, restart, boot
//! ```
//!
//! A module's own `restart` keys override the same keys of its file's `[defaults] restart`.
//! Top-level `[[variant]]` tables name extra builds of a module packed as swap targets (see
//! [`crate::variants`]).
//!
//! A system can be written in several files read as one ([`SystemPlan::parse_files`]):
//! `modules/system.toml` is the production system; `modules/teaching.toml` adds the teaching
//! modules (`cargo cella run --teaching`), and the test kernel's boot archive adds
//! `tests/kernel/system.toml` too. Each file has its own `[defaults]`; only the first may have
//! a `[push]` table, and the checks across modules and processes run over all files together.
//!
//! Every problem is reported (not only the first), each naming the file, the module or
//! process and the key. Checks here need no build: ranges, duplicate names (across modules
//! and processes), unknown keys, two modules or processes granted the same port, MMIO byte or
//! IRQ line (an error unless both grants say `shared = true`), an endpoint served twice, a
//! granted endpoint nobody serves (the kernel serves [`KERNEL_ENDPOINTS`]), restart settings
//! the kernel would refuse ([`checks`], [`module`], [`process`]). What each module requests is
//! checked against its grant once it is built ([`crate::modules`]); that each process's
//! program is one the tool builds, by [`process::check_programs`].

pub mod devices;
pub mod grants;
pub mod module;
pub mod process;
#[cfg(test)]
mod process_tests;
#[cfg(test)]
mod tests;
mod written;

pub use grants::{Grants, IrqGrant, MmioGrant, PortGrant};
pub use module::ModuleSpec;
pub use process::ProcessSpec;

use cella_system::push_authority::PushGrant;
use cella_system::system_manifest::{SystemManifest, validate};
use toml::{Table, Value};

/// Where the production system manifest lives, relative to the workspace root.
pub const SOURCE: &str = "modules/system.toml";
/// The teaching modules (docs/teaching.md), added by `cargo cella run --teaching` and in the
/// test kernel's boot archive.
pub const TEACHING_SOURCE: &str = "modules/teaching.toml";
/// What only the test kernel's boot archive adds: test modules and swap fixtures.
pub const TEST_SOURCE: &str = "tests/kernel/system.toml";

/// The compiled manifest's name in the boot archive.
pub const ARCHIVE_ENTRY: &str = "system.manifest";

/// Endpoints the kernel itself serves (no module may serve them; any module may be granted
/// them): `supervisor`, the kernel's command endpoint (`kernel/src/supervisor/commands.rs`).
pub use cella_system::system_manifest::KERNEL_ENDPOINTS;

/// The whole system: modules in boot order, then native processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemPlan {
    /// Modules in boot order.
    pub modules: Vec<ModuleSpec>,
    /// Native processes, started after the modules in this order.
    pub processes: Vec<ProcessSpec>,
    /// `[push] targets`: the modules `cargo cella push` may replace or load (`*`: any);
    /// `None`: the push channel is off.
    pub push: Option<Vec<String>>,
    /// The files it was read from, in order.
    pub sources: Vec<String>,
}

/// Collects problems, each prefixed with the file name; `written` quotes the
/// file's values as written.
struct Problems<'a> {
    file: &'a str,
    list: Vec<String>,
    written: &'a written::Written<'a>,
}

impl Problems<'_> {
    fn add(&mut self, message: impl std::fmt::Display) {
        self.list.push(format!("{}: {message}", self.file));
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= cella_abi::manifest::MAX_NAME_BYTES
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
}

fn integer(value: &Value) -> Option<u64> {
    value
        .as_integer()
        .and_then(|number| u64::try_from(number).ok())
}

/// The `name` of table #`index + 1` of kind `kind` (`module`, `process`); `None` (and a
/// problem) if it is missing or not a valid name.
fn table_name(
    table: &Table,
    kind: &str,
    index: usize,
    problems: &mut Problems<'_>,
) -> Option<String> {
    match table.get("name").and_then(Value::as_str) {
        Some(name) if valid_name(name) => Some(name.to_owned()),
        Some(name) => {
            problems.add(format!(
                "{kind} #{}: name `{name}` must be 1-64 characters of A-Z a-z 0-9 _ - .",
                index + 1
            ));
            None
        }
        None => {
            problems.add(format!(
                "{kind} #{}: `name` (a string) is missing",
                index + 1
            ));
            None
        }
    }
}

/// Reads every table of the array `kind` (`[[kind]]`) with `parse`.
fn parse_tables<T>(
    table: &Table,
    kind: &str,
    problems: &mut Problems<'_>,
    parse: fn(&Table, usize, &mut Problems<'_>) -> Option<T>,
) -> Vec<T> {
    let mut specs = Vec::new();
    match table.get(kind) {
        None => {}
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::Table(item) => specs.extend(parse(item, index, problems)),
                    _ => problems.add(format!("{kind} #{}: not a table", index + 1)),
                }
            }
        }
        Some(_) => problems.add(format!(
            "`{kind}` must be an array of tables: write [[{kind}]]"
        )),
    }
    specs
}

/// The `[push]` table: `targets = ["NAME", ...]` or `["*"]`.
fn parse_push(table: &Table, problems: &mut Problems<'_>) -> Option<Vec<String>> {
    let push = match table.get("push")? {
        Value::Table(push) => push,
        _ => {
            problems.add("`push` must be a table: write [push] with `targets = [...]`");
            return None;
        }
    };
    for key in push.keys().filter(|key| key.as_str() != "targets") {
        problems.add(format!("[push]: unknown key `{key}` (expected `targets`)"));
    }
    let Some(Value::Array(items)) = push.get("targets") else {
        problems.add("[push]: `targets` (an array of module names, or [\"*\"] for any) is missing");
        return None;
    };
    let mut targets = Vec::new();
    for item in items {
        match item.as_str() {
            Some(target) if target == "*" || valid_name(target) => targets.push(target.to_owned()),
            _ => problems.add(format!(
                "[push]: target {item} is not a module name or \"*\""
            )),
        }
    }
    if targets.is_empty() {
        problems.add("[push]: `targets` is empty; leave out the [push] table to turn pushing off");
        return None;
    }
    Some(targets)
}

/// The `[defaults]` table: `restart = { ... }`, the restart settings of every module of the
/// file that does not set them itself.
fn parse_defaults(table: &Table, problems: &mut Problems<'_>) -> Vec<(String, String)> {
    let defaults = match table.get("defaults") {
        None => return Vec::new(),
        Some(Value::Table(defaults)) => defaults,
        Some(_) => {
            problems.add("`defaults` must be a table: write [defaults] with `restart = { ... }`");
            return Vec::new();
        }
    };
    for key in defaults.keys().filter(|key| key.as_str() != "restart") {
        problems.add(format!("[defaults]: unknown key `{key}` (known: restart)"));
    }
    match defaults.get("restart") {
        Some(value) => module::parse_restart(value, &mut |message| {
            problems.add(format!("[defaults]: {message}"))
        }),
        None => Vec::new(),
    }
}

/// Reads one file of the system without the checks across the whole system. `first`: the
/// file the system starts from (it must have modules; only it may have `[push]`).
fn parse_file(text: &str, problems: &mut Problems<'_>, first: bool) -> SystemPlan {
    let table: Table = match text.parse() {
        Ok(table) => table,
        Err(error) => {
            problems.add(format!("not valid TOML: {error}"));
            return SystemPlan::default();
        }
    };
    for key in table.keys().filter(|key| {
        !matches!(
            key.as_str(),
            "module" | "process" | "push" | "defaults" | crate::variants::TABLE
        )
    }) {
        problems.add(format!(
            "unknown top-level key `{key}` (expected [[module]], [[process]] and [[variant]] tables and [defaults] and [push] tables)"
        ));
    }
    if first && !table.contains_key("module") {
        problems.add("no [[module]] tables: nothing would boot");
    }
    if !first && table.contains_key("push") {
        problems.add("[push] belongs in the system's first file (modules/system.toml)");
    }
    let defaults = parse_defaults(&table, problems);
    let mut modules = parse_tables(&table, "module", problems, module::parse_module);
    for module in &mut modules {
        module.restart_defaults = defaults.clone();
    }
    SystemPlan {
        modules,
        processes: parse_tables(&table, "process", problems, process::parse_process),
        push: if first {
            parse_push(&table, problems)
        } else {
            None
        },
        sources: Vec::new(),
    }
}

impl SystemPlan {
    /// Parses and checks `text` (the contents of `file`, named in every message).
    ///
    /// # Errors
    /// Every problem found, one message each.
    pub fn parse(text: &str, file: &str) -> Result<SystemPlan, Vec<String>> {
        Self::parse_files(&[(file, text)])
    }

    /// Parses `files` (name, contents), the first being the system's base, as one system:
    /// their modules and processes in order, then the checks across all of them.
    ///
    /// # Errors
    /// Every problem found, one message each, naming its file.
    pub fn parse_files(files: &[(&str, &str)]) -> Result<SystemPlan, Vec<String>> {
        let mut plan = SystemPlan {
            sources: files.iter().map(|(file, _)| (*file).to_owned()).collect(),
            ..SystemPlan::default()
        };
        let mut list = Vec::new();
        for (index, (file, text)) in files.iter().enumerate() {
            let written = written::Written::parse(text);
            let mut problems = Problems {
                file,
                list: Vec::new(),
                written: &written,
            };
            let part = parse_file(text, &mut problems, index == 0);
            list.extend(problems.list);
            plan.modules.extend(part.modules);
            plan.processes.extend(part.processes);
            if index == 0 {
                plan.push = part.push;
            }
        }
        let names: Vec<&str> = files.iter().map(|(file, _)| *file).collect();
        let joined = names.join(" + ");
        let nothing_written = written::Written::default();
        let mut problems = Problems {
            file: &joined,
            list,
            written: &nothing_written,
        };
        // The one check of a system, the kernel's too.
        for problem in validate(&plan.to_manifest()) {
            problems.add(problem);
        }
        if problems.list.is_empty() {
            Ok(plan)
        } else {
            Err(problems.list)
        }
    }

    /// Reads a manifest entry: a file of one `[[module]]` table written as in
    /// `modules/system.toml` (what `cargo cella push --grant` sends, and the host-side store
    /// of installed modules keeps), without the checks across a system (those run against
    /// the system it joins).
    ///
    /// # Errors
    /// Every problem found, naming `file`: TOML, keys and values as in a system file, and
    /// anything but exactly one `[[module]]` table.
    pub fn parse_entry(text: &str, file: &str) -> Result<ModuleSpec, Vec<String>> {
        let written = written::Written::parse(text);
        let mut problems = Problems {
            file,
            list: Vec::new(),
            written: &written,
        };
        let part = parse_file(text, &mut problems, false);
        if part.modules.len() != 1 || !part.processes.is_empty() {
            problems.add(format!(
                "a manifest entry is one [[module]] table and nothing else; found {} [[module]] and {} [[process]] tables",
                part.modules.len(),
                part.processes.len()
            ));
        }
        if problems.list.is_empty() {
            Ok(part.modules.into_iter().next().unwrap_or_default())
        } else {
            Err(problems.list)
        }
    }

    /// The system description the kernel reads, as the kernel reads it.
    pub fn to_manifest(&self) -> SystemManifest {
        SystemManifest {
            modules: self.modules.iter().map(ModuleSpec::plan).collect(),
            processes: self.processes.iter().map(ProcessSpec::plan).collect(),
            push: self.push.as_ref().map(|targets| PushGrant {
                targets: targets.clone(),
            }),
        }
    }

    /// The `system.manifest` text the kernel reads (the shared codec's
    /// [`SystemManifest::render`], after a comment line).
    pub fn render(&self) -> String {
        format!(
            "# Generated by `cargo cella build` from {}; do not edit.
{}",
            self.sources.join(" + "),
            self.to_manifest().render()
        )
    }
}
