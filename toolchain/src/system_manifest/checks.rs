//! Checks across the whole system, modules and processes alike: unique names, no two
//! exclusive grants of one port, MMIO byte or IRQ line, exactly one server per endpoint, and
//! a server for every granted endpoint.

use super::grants::Grants;
use super::{KERNEL_ENDPOINTS, Problems, SystemPlan};

/// A module or a process, as the checks see it.
struct Holder<'a> {
    /// `module` or `process`.
    kind: &'static str,
    name: &'a str,
    grants: &'a Grants,
}

impl std::fmt::Display for Holder<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} `{}`", self.kind, self.name)
    }
}

fn holders(plan: &SystemPlan) -> Vec<Holder<'_>> {
    let modules = plan.modules.iter().map(|module| Holder {
        kind: "module",
        name: &module.name,
        grants: &module.grants,
    });
    let processes = plan.processes.iter().map(|process| Holder {
        kind: "process",
        name: &process.name,
        grants: &process.grants,
    });
    modules.chain(processes).collect()
}

/// Runs every check, adding one problem per finding.
pub(super) fn check(plan: &SystemPlan, problems: &mut Problems<'_>) {
    let all = holders(plan);
    for (index, first) in all.iter().enumerate() {
        for second in &all[index + 1..] {
            check_pair(first, second, problems);
        }
    }
    check_servers(&all, problems);
}

fn check_pair(first: &Holder<'_>, second: &Holder<'_>, problems: &mut Problems<'_>) {
    if first.name == second.name {
        if first.kind == second.kind {
            problems.add(format!("{first} is listed twice"));
        } else {
            problems.add(format!(
                "`{}` is the name of a module and of a process; names must be unique",
                first.name
            ));
        }
    }
    for port in &first.grants.ports {
        for other in &second.grants.ports {
            let (start, end) = (u32::from(port.base), u32::from(port.base) + port.count);
            let (other_start, other_end) =
                (u32::from(other.base), u32::from(other.base) + other.count);
            if start < other_end && other_start < end && !(port.shared && other.shared) {
                problems.add(format!(
                    "{first} and {second} are both granted ports {:#x}..{:#x}; mark both grants `shared = true` if they really share them",
                    start.max(other_start),
                    end.min(other_end)
                ));
            }
        }
    }
    for region in &first.grants.mmio {
        for other in &second.grants.mmio {
            let end = region.base.saturating_add(region.length);
            let other_end = other.base.saturating_add(other.length);
            if region.base < other_end && other.base < end && !(region.shared && other.shared) {
                problems.add(format!(
                    "{first} and {second} are both granted MMIO {:#x}..{:#x}; mark both grants `shared = true` if they really share it",
                    region.base.max(other.base),
                    end.min(other_end)
                ));
            }
        }
    }
    for irq in &first.grants.irqs {
        for other in &second.grants.irqs {
            if irq.line == other.line && !(irq.shared && other.shared) {
                problems.add(format!(
                    "{first} and {second} are both granted IRQ {}; mark both grants `shared = true` if they really share it",
                    irq.line
                ));
            }
        }
    }
}

fn check_servers(all: &[Holder<'_>], problems: &mut Problems<'_>) {
    let servers = |endpoint: &str| -> Vec<String> {
        all.iter()
            .filter(|holder| holder.grants.serve.iter().any(|served| served == endpoint))
            .map(ToString::to_string)
            .collect()
    };
    let mut served: Vec<&str> = all
        .iter()
        .flat_map(|holder| holder.grants.serve.iter().map(String::as_str))
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
        } else if by.len() > 1 {
            problems.add(format!(
                "endpoint `{endpoint}` is served by {} ({}); exactly one may serve it",
                by.len(),
                by.join(", ")
            ));
        }
    }
    for holder in all {
        for endpoint in &holder.grants.endpoints {
            if servers(endpoint).is_empty() && !KERNEL_ENDPOINTS.contains(&endpoint.as_str()) {
                problems.add(format!(
                    "{holder} is granted endpoint `{endpoint}`, but no module or process serves it (add `serve = [\"{endpoint}\"]` to its server)"
                ));
            }
        }
    }
}
