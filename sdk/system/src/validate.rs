//! The one check of a system: run by the `cella` tool on the manifest it
//! compiles from `modules/system.toml`, and by the kernel on the
//! `system.manifest` it reads from the boot archive, so both refuse the same
//! systems with the same words.
//!
//! What it checks, across modules and native processes alike:
//! - names: none of the kernel's own ([`RESERVED_NAMES`]), none twice;
//! - exclusive grants: no two holders granted the same port, MMIO byte or IRQ
//!   line unless both grants say `shared`, and no one granted a port the
//!   kernel drives itself ([`KERNEL_PORTS`]);
//! - endpoints: none served twice, none of the kernel's ([`KERNEL_ENDPOINTS`])
//!   served by a module or process, and every granted endpoint served by
//!   someone (or the kernel).
//!
//! Every problem is reported, not only the first, each naming the holders.
//!
//! [`validate_addition`] runs the same check on a running system with one
//! module more (`cargo cella push --grant`): the problems it reports are
//! those the new module brings.

use crate::system_manifest::{GrantLine, ModulePlan, SystemManifest};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Names no module or process may have: the kernel's own log targets (its
/// top-level modules; deeper ones contain `::`, which no module name can),
/// so a line `LEVEL NAME: text` from a module can never read as the
/// kernel's. The kernel's `console` logs nothing itself (it prints the
/// others' lines), so `console` stays free for the console module.
pub const RESERVED_NAMES: [&str; 28] = [
    "arch",
    "archive",
    "boot",
    "boot_info",
    "cella",
    "cella_kernel",
    "cmdline",
    "fnv",
    "guest_text",
    "interrupt_routing",
    "ipc",
    "irq",
    "kernel",
    "line_limit",
    "log_ring",
    "mm",
    "module_host",
    "module_system",
    "panic",
    "pci_bus",
    "proc",
    "push_authority",
    "push_protocol",
    "scenarios",
    "sched",
    "supervisor",
    "system_manifest",
    "time",
];

/// The ports the kernel drives itself, `(first, count, what)`: no module or
/// process may be granted them (the kernel's port proofs refuse them too).
pub const KERNEL_PORTS: [(u16, u16, &str); 7] = [
    (0x20, 2, "the master PIC"),
    (0xa0, 2, "the slave PIC"),
    (0x40, 4, "the PIT"),
    (0x61, 1, "the PIT channel 2 gate"),
    (0xf4, 1, "QEMU's isa-debug-exit"),
    (0x2f8, 8, "COM2, the push channel"),
    (0xcf8, 8, "PCI configuration mechanism #1"),
];

/// Endpoints the kernel itself serves: no module or process may serve them,
/// any may be granted them. `supervisor` is the kernel's command endpoint.
pub const KERNEL_ENDPOINTS: [&str; 1] = ["supervisor"];

/// Why `name` may not name a module or process, if it may not.
pub fn reserved_name(name: &str) -> Option<String> {
    RESERVED_NAMES.contains(&name).then(|| {
        format!("`{name}` is a name of the kernel's own (its log lines would read as the kernel's)")
    })
}

/// A module or a process, as the checks see it.
struct Holder<'a> {
    /// `module` or `process`.
    kind: &'static str,
    plan: &'a ModulePlan,
}

impl fmt::Display for Holder<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} `{}`", self.kind, self.plan.name)
    }
}

/// Every problem of `manifest`, in a stable order (names and grants pair by
/// pair, then endpoints); empty if there is none.
pub fn validate(manifest: &SystemManifest) -> Vec<String> {
    let modules = manifest.modules.iter().map(|plan| Holder {
        kind: "module",
        plan,
    });
    let processes = manifest.processes.iter().map(|plan| Holder {
        kind: "process",
        plan,
    });
    let all: Vec<Holder<'_>> = modules.chain(processes).collect();
    let mut problems = Vec::new();
    for holder in &all {
        if let Some(why) = reserved_name(&holder.plan.name) {
            problems.push(format!("{holder}: {why}"));
        }
        for grant in &holder.plan.grants {
            let GrantLine::Port { base, count, .. } = grant else {
                continue;
            };
            let (start, end) = (u64::from(*base), u64::from(*base) + u64::from(*count));
            for (first, kernel_count, what) in KERNEL_PORTS {
                let kernel_end = u64::from(first) + u64::from(kernel_count);
                if start < kernel_end && u64::from(first) < end {
                    problems.push(format!(
                        "{holder} is granted port {:#x}, which the kernel drives itself ({what})",
                        start.max(u64::from(first))
                    ));
                }
            }
        }
        if holder.kind == "process" && !holder.plan.limits.is_empty() {
            problems.push(format!(
                "{holder}: a native process takes no `limit` (fuel, memory pages, queues are a Wasm module's)"
            ));
        }
    }
    for (index, first) in all.iter().enumerate() {
        for second in &all[index + 1..] {
            check_pair(first, second, &mut problems);
        }
    }
    check_servers(&all, &mut problems);
    problems
}

/// The problems `entry` would bring into `running` (a system that passed
/// [`validate`]): [`validate`] of `running` with `entry` added, less the
/// problems `running` already has. Empty: the module may join it.
pub fn validate_addition(running: &SystemManifest, entry: &ModulePlan) -> Vec<String> {
    let mut known = validate(running);
    let mut with = running.clone();
    with.modules.push(entry.clone());
    validate(&with)
        .into_iter()
        .filter(
            |problem| match known.iter().position(|old| old == problem) {
                Some(at) => {
                    known.swap_remove(at);
                    false
                }
                None => true,
            },
        )
        .collect()
}

fn check_pair(first: &Holder<'_>, second: &Holder<'_>, problems: &mut Vec<String>) {
    if first.plan.name == second.plan.name {
        if first.kind == second.kind {
            problems.push(format!("{first} is listed twice"));
        } else {
            problems.push(format!(
                "`{}` is the name of a module and of a process; names must be unique",
                first.plan.name
            ));
        }
    }
    for grant in &first.plan.grants {
        for other in &second.plan.grants {
            if let Some(what) = overlap(grant, other) {
                problems.push(format!(
                    "{first} and {second} are both granted {what}; mark both grants `shared = true` if they really share it"
                ));
            }
        }
    }
}

/// The exclusive resource two grants both cover, if any (`None` when both
/// say `shared`).
fn overlap(first: &GrantLine, second: &GrantLine) -> Option<String> {
    match (first, second) {
        (
            GrantLine::Port {
                base,
                count,
                shared,
            },
            GrantLine::Port {
                base: other_base,
                count: other_count,
                shared: other_shared,
            },
        ) if !(*shared && *other_shared) => {
            let (start, end) = (u64::from(*base), u64::from(*base) + u64::from(*count));
            let (other_start, other_end) = (
                u64::from(*other_base),
                u64::from(*other_base) + u64::from(*other_count),
            );
            (start < other_end && other_start < end).then(|| {
                format!(
                    "ports {:#x}..{:#x}",
                    start.max(other_start),
                    end.min(other_end)
                )
            })
        }
        (
            GrantLine::Mmio {
                base,
                length,
                shared,
            },
            GrantLine::Mmio {
                base: other_base,
                length: other_length,
                shared: other_shared,
            },
        ) if !(*shared && *other_shared) => {
            let end = base.saturating_add(*length);
            let other_end = other_base.saturating_add(*other_length);
            (*base < other_end && *other_base < end).then(|| {
                format!(
                    "MMIO {:#x}..{:#x}",
                    (*base).max(*other_base),
                    end.min(other_end)
                )
            })
        }
        (
            GrantLine::Irq { line, shared },
            GrantLine::Irq {
                line: other,
                shared: other_shared,
            },
        ) if !(*shared && *other_shared) => (line == other).then(|| format!("IRQ {line}")),
        _ => None,
    }
}

fn check_servers(all: &[Holder<'_>], problems: &mut Vec<String>) {
    let servers = |endpoint: &str| -> Vec<String> {
        all.iter()
            .filter(|holder| holder.plan.serves.iter().any(|served| served == endpoint))
            .map(ToString::to_string)
            .collect()
    };
    let mut served: Vec<&str> = all
        .iter()
        .flat_map(|holder| holder.plan.serves.iter().map(String::as_str))
        .collect();
    served.sort_unstable();
    served.dedup();
    for endpoint in served {
        let by = servers(endpoint);
        if KERNEL_ENDPOINTS.contains(&endpoint) {
            problems.push(format!(
                "endpoint `{endpoint}` is the kernel's; {} cannot serve it",
                by.join(", ")
            ));
        } else if by.len() > 1 {
            problems.push(format!(
                "endpoint `{endpoint}` is served by {} ({}); exactly one may serve it",
                by.len(),
                by.join(", ")
            ));
        }
    }
    for holder in all {
        for grant in &holder.plan.grants {
            let GrantLine::Endpoint { name: endpoint } = grant else {
                continue;
            };
            if servers(endpoint).is_empty() && !KERNEL_ENDPOINTS.contains(&endpoint.as_str()) {
                problems.push(format!(
                    "{holder} is granted endpoint `{endpoint}`, but no module or process serves it (add `serve = [\"{endpoint}\"]` to its server)"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        validate(&SystemManifest::read(text).expect("readable"))
    }

    #[test]
    fn a_sound_system_has_no_problem() {
        let text = "cella-system 1\nmodule uart u.wasm\nserve uart\ngrant port 0x3f8 8\ngrant irq 4 shared\n\
module console c.wasm\nserve console\ngrant endpoint uart\ngrant endpoint supervisor\n\
process p bin/p\ngrant endpoint console\ngrant irq 4 shared\ngrant port 0x60 1\n";
        assert_eq!(problems(text), Vec::<String>::new());
    }

    #[test]
    fn exclusive_grants_clash_unless_both_are_shared() {
        let two = |first: &str, second: &str| {
            problems(&format!(
                "cella-system 1\nmodule a f\ngrant {first}\nprocess b g\ngrant {second}\n"
            ))
        };
        assert_eq!(
            two("port 0x60 1", "port 0x5e 3"),
            [
                "module `a` and process `b` are both granted ports 0x60..0x61; mark both grants `shared = true` if they really share it"
            ]
        );
        assert_eq!(two("irq 4", "irq 4 shared").len(), 1);
        assert!(two("irq 4 shared", "irq 4 shared").is_empty());
        assert_eq!(two("mmio 0x1000 0x100", "mmio 0x10ff 1").len(), 1);
        assert!(two("mmio 0x1000 0x100", "mmio 0x1100 1").is_empty());
        assert!(two("port 0x60 1", "port 0x64 1").is_empty());
        assert!(two("dma 4096", "dma 4096").is_empty());
    }

    #[test]
    fn the_kernels_own_ports_are_granted_to_no_one() {
        let found = problems(
            "cella-system 1\nmodule a f\ngrant port 0x1e 4\nprocess p q\ngrant port 0x2f8 8 shared\nmodule b g\ngrant port 0x3f8 8\n",
        );
        assert_eq!(
            found,
            [
                "module `a` is granted port 0x20, which the kernel drives itself (the master PIC)",
                "process `p` is granted port 0x2f8, which the kernel drives itself (COM2, the push channel)",
            ]
        );
    }

    #[test]
    fn names_are_unique_and_not_the_kernels() {
        let found = problems(
            "cella-system 1\nmodule a f\nmodule a g\nprocess a p\nmodule boot b\nprocess supervisor s\n",
        );
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].contains("module `boot`: `boot` is a name of the kernel's own"));
        assert!(found[1].contains("process `supervisor`"));
        assert!(found[2].contains("module `a` is listed twice"));
        assert!(found[3].contains("`a` is the name of a module and of a process"));
        assert!(reserved_name("uart16550").is_none());
    }

    /// The running system the addition tests add to: a UART driver serving
    /// `uart`, a shell serving `console`, a process on port 0x60.
    const RUNNING: &str = "cella-system 1\nmodule uart u.wasm\nserve uart\ngrant port 0x3f8 8\ngrant irq 4\n\
module shell s.wasm\nserve console\ngrant endpoint uart\ngrant endpoint supervisor\n\
process keys bin/keys\ngrant port 0x60 1\ngrant irq 1\ngrant endpoint console\n";

    /// What adding the module block `entry` to [`RUNNING`] brings.
    fn added(entry: &str) -> Vec<String> {
        let running = SystemManifest::read(RUNNING).expect("readable");
        assert!(validate(&running).is_empty());
        let text = format!("cella-system 1\n{entry}");
        let plan = SystemManifest::read(&text).expect("readable entry").modules[0].clone();
        validate_addition(&running, &plan)
    }

    #[test]
    fn an_addition_that_fits_the_running_system_brings_no_problem() {
        assert_eq!(
            added(
                "module blink b.wasm\nserve blink\ngrant port 0x510 2\ngrant irq 5\ngrant endpoint console\ngrant endpoint uart\ngrant endpoint blink\ngrant endpoint supervisor\nlimit fuel=1000 queue=8\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_addition_overlapping_a_module_or_a_process_names_the_holder() {
        assert_eq!(
            added("module blink b.wasm\ngrant port 0x3fc 8\n"),
            [
                "module `uart` and module `blink` are both granted ports 0x3fc..0x400; mark both grants `shared = true` if they really share it"
            ]
        );
        assert_eq!(
            added("module blink b.wasm\ngrant irq 1\ngrant port 0x5f 2\n"),
            [
                "module `blink` and process `keys` are both granted IRQ 1; mark both grants `shared = true` if they really share it",
                "module `blink` and process `keys` are both granted ports 0x60..0x61; mark both grants `shared = true` if they really share it",
            ]
        );
    }

    #[test]
    fn an_addition_granted_a_kernel_port_is_refused() {
        assert_eq!(
            added("module blink b.wasm\ngrant port 0x2f8 1\n"),
            [
                "module `blink` is granted port 0x2f8, which the kernel drives itself (COM2, the push channel)"
            ]
        );
    }

    #[test]
    fn an_addition_serving_a_served_endpoint_or_using_an_unknown_one_is_refused() {
        assert_eq!(
            added("module blink b.wasm\nserve console\n"),
            [
                "endpoint `console` is served by 2 (module `shell`, module `blink`); exactly one may serve it"
            ]
        );
        assert_eq!(
            added("module blink b.wasm\ngrant endpoint nowhere\n"),
            [
                "module `blink` is granted endpoint `nowhere`, but no module or process serves it (add `serve = [\"nowhere\"]` to its server)"
            ]
        );
        assert_eq!(
            added("module uart u2.wasm\n"),
            ["module `uart` is listed twice"]
        );
        assert_eq!(added("module keys k.wasm\n").len(), 1);
        assert!(added("module boot b.wasm\n")[0].contains("name of the kernel's own"));
    }

    #[test]
    fn every_endpoint_has_exactly_one_server_and_the_kernels_none() {
        let found = problems(
            "cella-system 1\nmodule a f\nserve x\ngrant endpoint y\nmodule b g\nserve x\nmodule c h\nserve supervisor\n",
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains("endpoint `supervisor` is the kernel's; module `c` cannot serve it")
        );
        assert!(found[1].contains("endpoint `x` is served by 2 (module `a`, module `b`)"));
        assert!(
            found[2]
                .contains("module `a` is granted endpoint `y`, but no module or process serves it")
        );
    }
}
