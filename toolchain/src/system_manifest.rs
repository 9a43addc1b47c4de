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
//! wat = "modules/teaching/oob.wat" # a module written in WAT text instead of a package
//! ```
//!
//! Top-level `[[variant]]` tables name extra builds of a module packed as swap targets (see
//! [`crate::variants`]).
//!
//! Every problem is reported (not only the first), each naming the file, the module and the
//! key. Checks here need no module: ranges, duplicate names, unknown keys, two modules granted
//! the same port, MMIO byte or IRQ line (an error unless both grants say `shared = true`), an
//! endpoint served twice, a granted endpoint nobody serves (the kernel serves
//! [`KERNEL_ENDPOINTS`]), restart settings the kernel would
//! refuse. What each module requests is checked against its grant once it is built
//! ([`crate::modules`]).

use cella_wasm_host::Grant;
use std::fmt::Write;
use toml::{Table, Value};

/// Where the system manifest lives, relative to the workspace root.
pub const SOURCE: &str = "modules/system.toml";

/// The compiled manifest's name in the boot archive.
pub const ARCHIVE_ENTRY: &str = "system.manifest";

/// Endpoints the kernel itself serves (no module may serve them; any module may be granted
/// them): `supervisor`, the kernel's command endpoint (`kernel/src/supervisor/commands.rs`).
pub const KERNEL_ENDPOINTS: [&str; 1] = ["supervisor"];

/// A port range grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortGrant {
    /// First port.
    pub base: u16,
    /// Number of ports.
    pub count: u32,
    /// Other modules may be granted these ports too.
    pub shared: bool,
}

/// An MMIO grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MmioGrant {
    /// Physical base.
    pub base: u64,
    /// Length in bytes.
    pub length: u64,
    /// Other modules may be granted these bytes too.
    pub shared: bool,
}

/// An IRQ grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrqGrant {
    /// Line.
    pub line: u8,
    /// Other modules may be granted this line too.
    pub shared: bool,
}

/// One `[[module]]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleSpec {
    /// Module name (the archive file is `modules/NAME.wasm`).
    pub name: String,
    /// Cargo package.
    pub package: String,
    /// Endpoints served.
    pub serve: Vec<String>,
    /// Port grants.
    pub ports: Vec<PortGrant>,
    /// MMIO grants.
    pub mmio: Vec<MmioGrant>,
    /// IRQ grants.
    pub irqs: Vec<IrqGrant>,
    /// DMA bytes.
    pub dma: Option<u64>,
    /// Endpoints it may send to.
    pub endpoints: Vec<String>,
    /// One-shot timers.
    pub timers: u32,
    /// Restart settings, in the order written.
    pub restart: Vec<(String, String)>,
    /// Started at boot (`boot = false`: loaded, started only by hand).
    pub boot: bool,
    /// WAT source (relative to the workspace root) instead of a cargo package.
    pub wat: Option<String>,
}

impl ModuleSpec {
    /// `modules/NAME.wasm`.
    pub fn archive_file(&self) -> String {
        format!("modules/{}.wasm", self.name)
    }

    /// The grant as cella-wasm-host checks it (endpoint ids are positions in `endpoints`).
    pub fn grant(&self) -> Grant {
        let mut grant = Grant::new();
        for port in &self.ports {
            grant = grant.port_range(port.base, port.count);
        }
        for region in &self.mmio {
            grant = grant.mmio_region(region.base, region.length);
        }
        for irq in &self.irqs {
            grant = grant.irq_line(irq.line);
        }
        if let Some(bytes) = self.dma {
            grant = grant.dma_bytes(bytes);
        }
        for (id, endpoint) in self.endpoints.iter().enumerate() {
            grant = grant.endpoint(endpoint, id as u64 + 1);
        }
        grant.timers(self.timers)
    }

    /// The grant lines, as in `system.manifest` (without `grant `).
    pub fn grant_lines(&self) -> Vec<String> {
        let shared = |shared: bool| if shared { " shared" } else { "" };
        let mut lines = Vec::new();
        for port in &self.ports {
            lines.push(format!(
                "port {:#x} {}{}",
                port.base,
                port.count,
                shared(port.shared)
            ));
        }
        for region in &self.mmio {
            lines.push(format!(
                "mmio {:#x} {:#x}{}",
                region.base,
                region.length,
                shared(region.shared)
            ));
        }
        for irq in &self.irqs {
            lines.push(format!("irq {}{}", irq.line, shared(irq.shared)));
        }
        if let Some(bytes) = self.dma {
            lines.push(format!("dma {bytes}"));
        }
        for endpoint in &self.endpoints {
            lines.push(format!("endpoint {endpoint}"));
        }
        for _ in 0..self.timers {
            lines.push("timer".into());
        }
        lines
    }
}

/// The whole system: modules in boot order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemPlan {
    /// Modules in boot order.
    pub modules: Vec<ModuleSpec>,
}

/// Collects problems, each prefixed with the file name.
struct Problems<'a> {
    file: &'a str,
    list: Vec<String>,
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

impl SystemPlan {
    /// Parses and checks `text` (the contents of `file`, named in every message).
    ///
    /// # Errors
    /// Every problem found, one message each.
    pub fn parse(text: &str, file: &str) -> Result<SystemPlan, Vec<String>> {
        let mut problems = Problems {
            file,
            list: Vec::new(),
        };
        let table: Table = match text.parse() {
            Ok(table) => table,
            Err(error) => {
                problems.add(format!("not valid TOML: {error}"));
                return Err(problems.list);
            }
        };
        for key in table
            .keys()
            .filter(|key| *key != "module" && *key != crate::variants::TABLE)
        {
            problems.add(format!(
                "unknown top-level key `{key}` (expected [[module]] and [[variant]] tables)"
            ));
        }
        let mut plan = SystemPlan::default();
        match table.get("module") {
            None => problems.add("no [[module]] tables: nothing would boot"),
            Some(Value::Array(modules)) => {
                for (index, module) in modules.iter().enumerate() {
                    match module {
                        Value::Table(module) => {
                            if let Some(spec) = parse_module(module, index, &mut problems) {
                                plan.modules.push(spec);
                            }
                        }
                        _ => problems.add(format!("module #{}: not a table", index + 1)),
                    }
                }
            }
            Some(_) => problems.add("`module` must be an array of tables: write [[module]]"),
        }
        plan.check(&mut problems);
        if problems.list.is_empty() {
            Ok(plan)
        } else {
            Err(problems.list)
        }
    }

    fn check(&self, problems: &mut Problems<'_>) {
        for (index, module) in self.modules.iter().enumerate() {
            for other in &self.modules[index + 1..] {
                if other.name == module.name {
                    problems.add(format!("module `{}` is listed twice", module.name));
                }
                for port in &module.ports {
                    for other_port in &other.ports {
                        let (start, end) =
                            (u32::from(port.base), u32::from(port.base) + port.count);
                        let (other_start, other_end) = (
                            u32::from(other_port.base),
                            u32::from(other_port.base) + other_port.count,
                        );
                        if start < other_end
                            && other_start < end
                            && !(port.shared && other_port.shared)
                        {
                            problems.add(format!(
                                "modules `{}` and `{}` are both granted ports {:#x}..{:#x}; mark both grants `shared = true` if they really share them",
                                module.name,
                                other.name,
                                start.max(other_start),
                                end.min(other_end)
                            ));
                        }
                    }
                }
                for region in &module.mmio {
                    for other_region in &other.mmio {
                        let end = region.base.saturating_add(region.length);
                        let other_end = other_region.base.saturating_add(other_region.length);
                        if region.base < other_end
                            && other_region.base < end
                            && !(region.shared && other_region.shared)
                        {
                            problems.add(format!(
                                "modules `{}` and `{}` are both granted MMIO {:#x}..{:#x}; mark both grants `shared = true` if they really share it",
                                module.name,
                                other.name,
                                region.base.max(other_region.base),
                                end.min(other_end)
                            ));
                        }
                    }
                }
                for irq in &module.irqs {
                    for other_irq in &other.irqs {
                        if irq.line == other_irq.line && !(irq.shared && other_irq.shared) {
                            problems.add(format!(
                                "modules `{}` and `{}` are both granted IRQ {}; mark both grants `shared = true` if they really share it",
                                module.name, other.name, irq.line
                            ));
                        }
                    }
                }
            }
        }
        let servers = |endpoint: &str| -> Vec<&str> {
            self.modules
                .iter()
                .filter(|module| module.serve.iter().any(|served| served == endpoint))
                .map(|module| module.name.as_str())
                .collect()
        };
        let mut served: Vec<&str> = self
            .modules
            .iter()
            .flat_map(|module| module.serve.iter().map(String::as_str))
            .collect();
        served.sort_unstable();
        served.dedup();
        for endpoint in served {
            let by = servers(endpoint);
            if KERNEL_ENDPOINTS.contains(&endpoint) {
                problems.add(format!(
                    "endpoint `{endpoint}` is the kernel's; {} cannot serve it",
                    by.join(", ")
                ));
                continue;
            }
            if by.len() > 1 {
                problems.add(format!(
                    "endpoint `{endpoint}` is served by {} modules ({}); exactly one may serve it",
                    by.len(),
                    by.join(", ")
                ));
            }
        }
        for module in &self.modules {
            for endpoint in &module.endpoints {
                if servers(endpoint).is_empty() && !KERNEL_ENDPOINTS.contains(&endpoint.as_str()) {
                    problems.add(format!(
                        "module `{}` is granted endpoint `{endpoint}`, but no module serves it (add `serve = [\"{endpoint}\"]` to its server)",
                        module.name
                    ));
                }
            }
        }
    }

    /// The `system.manifest` text the kernel reads.
    pub fn render(&self) -> String {
        let mut text = format!(
            "# Generated by `cargo cella build` from {SOURCE}; do not edit.\ncella-system 1\n"
        );
        for module in &self.modules {
            let _ = writeln!(text, "module {} {}", module.name, module.archive_file());
            for endpoint in &module.serve {
                let _ = writeln!(text, "serve {endpoint}");
            }
            for line in module.grant_lines() {
                let _ = writeln!(text, "grant {line}");
            }
            if !module.restart.is_empty() {
                let settings: Vec<String> = module
                    .restart
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                let _ = writeln!(text, "restart {}", settings.join(" "));
            }
            if !module.boot {
                let _ = writeln!(text, "boot no");
            }
        }
        text
    }
}

/// Reads one `[[module]]` table; `None` if it has no usable name.
fn parse_module(table: &Table, index: usize, problems: &mut Problems<'_>) -> Option<ModuleSpec> {
    let name = match table.get("name").and_then(Value::as_str) {
        Some(name) if valid_name(name) => name.to_owned(),
        Some(name) => {
            problems.add(format!(
                "module #{}: name `{name}` must be 1-64 characters of A-Z a-z 0-9 _ - .",
                index + 1
            ));
            return None;
        }
        None => {
            problems.add(format!(
                "module #{}: `name` (a string) is missing",
                index + 1
            ));
            return None;
        }
    };
    let mut say = |message: String| problems.add(format!("module `{name}`: {message}"));
    let mut spec = ModuleSpec {
        name: name.clone(),
        package: name.clone(),
        boot: true,
        ..ModuleSpec::default()
    };
    for (key, value) in table {
        match key.as_str() {
            "name" => {}
            "package" => match value.as_str() {
                Some(package) => spec.package = package.to_owned(),
                None => say("`package` must be a string".into()),
            },
            "serve" | "endpoints" => {
                let names = match value.as_array() {
                    Some(items) => items
                        .iter()
                        .filter_map(|item| match item.as_str() {
                            Some(name) if valid_name(name) => Some(name.to_owned()),
                            _ => {
                                say(format!("`{key}`: `{item}` is not an endpoint name"));
                                None
                            }
                        })
                        .collect(),
                    None => {
                        say(format!("`{key}` must be an array of endpoint names"));
                        Vec::new()
                    }
                };
                if key == "serve" {
                    spec.serve = names;
                } else {
                    spec.endpoints = names;
                }
            }
            "ports" => {
                for (position, item) in value.as_array().into_iter().flatten().enumerate() {
                    let base = item.get("base").and_then(integer);
                    let count = item.get("count").and_then(integer);
                    match (base, count) {
                        (Some(base), Some(count))
                            if count >= 1
                                && base.checked_add(count).is_some_and(|end| end <= 0x1_0000) =>
                        {
                            spec.ports.push(PortGrant {
                                base: base as u16,
                                count: count as u32,
                                shared: shared(item, &mut say, key, position),
                            })
                        }
                        _ => say(format!(
                            "ports[{position}]: expected {{ base = PORT, count = N }} inside 0..0x10000, found {item}"
                        )),
                    }
                }
                if !value.is_array() {
                    say("`ports` must be an array of { base, count } tables".into());
                }
            }
            "mmio" => {
                for (position, item) in value.as_array().into_iter().flatten().enumerate() {
                    let base = item.get("base").and_then(integer);
                    let length = item.get("length").and_then(integer);
                    match (base, length) {
                        (Some(base), Some(length))
                            if (1..=1 << 32).contains(&length)
                                && base.checked_add(length).is_some() =>
                        {
                            spec.mmio.push(MmioGrant {
                                base,
                                length,
                                shared: shared(item, &mut say, key, position),
                            })
                        }
                        _ => say(format!(
                            "mmio[{position}]: expected {{ base = ADDRESS, length = BYTES }} (1 byte to 4 GiB), found {item}"
                        )),
                    }
                }
                if !value.is_array() {
                    say("`mmio` must be an array of { base, length } tables".into());
                }
            }
            "irqs" => {
                for (position, item) in value.as_array().into_iter().flatten().enumerate() {
                    let (line, is_shared) = match item {
                        Value::Integer(_) => (integer(item), false),
                        Value::Table(_) => (
                            item.get("line").and_then(integer),
                            shared(item, &mut say, key, position),
                        ),
                        _ => (None, false),
                    };
                    match line.and_then(|line| u8::try_from(line).ok()) {
                        Some(line) => spec.irqs.push(IrqGrant {
                            line,
                            shared: is_shared,
                        }),
                        None => say(format!(
                            "irqs[{position}]: expected a line 0-255 or {{ line = N, shared = true }}, found {item}"
                        )),
                    }
                }
                if !value.is_array() {
                    say("`irqs` must be an array".into());
                }
            }
            "dma" => match integer(value) {
                Some(bytes) if bytes > 0 => spec.dma = Some(bytes),
                _ => say(format!(
                    "`dma` must be a positive number of bytes, found {value}"
                )),
            },
            "timers" => match integer(value).and_then(|count| u32::try_from(count).ok()) {
                Some(count) if count <= 64 => spec.timers = count,
                _ => say(format!("`timers` must be a count 0-64, found {value}")),
            },
            "restart" => match value.as_table() {
                Some(settings) => {
                    for (setting, value) in settings {
                        let text = match value {
                            Value::String(text) => text.clone(),
                            Value::Integer(number) => number.to_string(),
                            other => other.to_string(),
                        };
                        if let Err(problem) = check_restart(setting, &text) {
                            say(format!("restart: {problem}"));
                        }
                        spec.restart.push((setting.clone(), text));
                    }
                }
                None => say(
                    "`restart` must be a table, e.g. { policy = \"backoff\", max = \"5s\" }".into(),
                ),
            },
            "boot" => match value.as_bool() {
                Some(boot) => spec.boot = boot,
                None => say(format!("`boot` must be true or false, found {value}")),
            },
            "wat" => match value.as_str() {
                Some(path) if path.ends_with(".wat") => spec.wat = Some(path.to_owned()),
                _ => say(format!(
                    "`wat` must be the path of a .wat file, found {value}"
                )),
            },
            other => say(format!(
                "unknown key `{other}` (known: name, package, serve, ports, mmio, irqs, dma, endpoints, timers, restart, boot, wat)"
            )),
        }
    }
    Some(spec)
}

/// The optional `shared` flag of a grant table.
fn shared(item: &Value, say: &mut impl FnMut(String), key: &str, position: usize) -> bool {
    match item.get("shared") {
        None => false,
        Some(Value::Boolean(shared)) => *shared,
        Some(other) => {
            say(format!(
                "{key}[{position}]: `shared` must be true or false, found {other}"
            ));
            false
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[module]]
name = "uart16550"
package = "cella-uart16550"
serve = ["uart"]
ports = [{ base = 0x3f8, count = 8 }]
irqs = [4]
endpoints = ["console"]
restart = { policy = "backoff", max = "5s", hold-after = 5 }

[[module]]
name = "console"
package = "cella-console"
serve = ["console"]
endpoints = ["uart"]
timers = 2
mmio = [{ base = 0xfebf0000, length = 0x1000, shared = true }]
irqs = [{ line = 9, shared = true }]
dma = 4096
"#;

    #[test]
    fn renders_the_kernel_form() {
        let plan = SystemPlan::parse(EXAMPLE, SOURCE).unwrap();
        assert_eq!(
            plan.render(),
            "# Generated by `cargo cella build` from modules/system.toml; do not edit.\n\
             cella-system 1\n\
             module uart16550 modules/uart16550.wasm\n\
             serve uart\n\
             grant port 0x3f8 8\n\
             grant irq 4\n\
             grant endpoint console\n\
             restart hold-after=5 max=5s policy=backoff\n\
             module console modules/console.wasm\n\
             serve console\n\
             grant mmio 0xfebf0000 0x1000 shared\n\
             grant irq 9 shared\n\
             grant dma 4096\n\
             grant endpoint uart\n\
             grant timer\n\
             grant timer\n"
        );
        assert_eq!(plan.modules[1].package, "cella-console");
        assert!(plan.modules.iter().all(|module| module.boot));
    }

    #[test]
    fn modules_started_by_hand_and_written_in_wat() {
        let text = r#"
[[module]]
name = "oob"
wat = "modules/teaching/oob.wat"
boot = false
[[variant]]
module = "oob"
file = "modules/oob-v2.wasm"
package = "cella-oob"
"#;
        let plan = SystemPlan::parse(text, SOURCE).unwrap();
        assert!(!plan.modules[0].boot);
        assert_eq!(
            plan.modules[0].wat.as_deref(),
            Some("modules/teaching/oob.wat")
        );
        assert!(
            plan.render()
                .ends_with("module oob modules/oob.wasm\nboot no\n")
        );
        let found = problems("[[module]]\nname = \"a\"\nboot = \"no\"\nwat = \"a.wasm\"\n");
        assert_eq!(found.len(), 2, "{found:#?}");
    }

    fn problems(text: &str) -> Vec<String> {
        SystemPlan::parse(text, SOURCE).unwrap_err()
    }

    #[test]
    fn overlaps_need_both_sides_shared() {
        let text = r#"
[[module]]
name = "a"
ports = [{ base = 0x60, count = 1 }]
irqs = [{ line = 1, shared = true }]
mmio = [{ base = 0x1000, length = 0x100, shared = true }]
[[module]]
name = "b"
ports = [{ base = 0x5f, count = 2, shared = true }]
irqs = [1]
mmio = [{ base = 0x10f0, length = 0x100, shared = true }]
"#;
        let found = problems(text);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            found[0].contains("`a` and `b` are both granted ports 0x60..0x61"),
            "{}",
            found[0]
        );
        assert!(found[1].contains("both granted IRQ 1"), "{}", found[1]);
        assert!(found[0].starts_with("modules/system.toml: "));
    }

    #[test]
    fn endpoints_need_exactly_one_server() {
        let text = r#"
[[module]]
name = "a"
serve = ["x"]
endpoints = ["y"]
[[module]]
name = "b"
serve = ["x"]
endpoints = ["supervisor"]
"#;
        let found = problems(text);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(
            problems("[[module]]\nname = \"c\"\nserve = [\"supervisor\"]\n")[0]
                .contains("endpoint `supervisor` is the kernel's; c cannot serve it")
        );
        assert!(found[0].contains("endpoint `x` is served by 2 modules (a, b)"));
        assert!(found[1].contains("module `a` is granted endpoint `y`, but no module serves it"));
    }

    #[test]
    fn reports_every_mistake_with_its_module() {
        let text = r#"
colour = "blue"
[[module]]
name = "a"
ports = [{ base = 0xffff, count = 2 }]
irqs = [256]
dma = 0
restart = { policy = "sometimes", max = "5 minutes", mood = 1 }
prots = []
[[module]]
name = "a"
[[module]]
name = "b@d"
"#;
        let found = problems(text);
        let expected = [
            "unknown top-level key `colour`",
            "module `a`: ports[0]: expected",
            "module `a`: irqs[0]: expected a line 0-255",
            "module `a`: `dma` must be a positive",
            "module `a`: restart: policy = \"sometimes\"",
            "module `a`: restart: max = \"5 minutes\"",
            "module `a`: restart: unknown setting `mood`",
            "module `a`: unknown key `prots`",
            "module #3: name `b@d`",
            "module `a` is listed twice",
        ];
        for want in expected {
            assert!(
                found.iter().any(|problem| problem.contains(want)),
                "missing {want}: {found:#?}"
            );
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        assert!(problems("not toml [")[0].contains("not valid TOML"));
        assert!(problems("")[0].contains("nothing would boot"));
    }
}
