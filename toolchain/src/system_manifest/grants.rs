//! The grant keys a `[[module]]` and a `[[process]]` table share: `serve`, `endpoints`,
//! `ports`, `mmio`, `irqs`. Both are read by [`Grants::parse_key`] and written as the same
//! `serve` / `grant` lines of `system.manifest`.

use super::{integer, valid_name};
use cella_system::system_manifest::GrantLine;
use toml::Value;

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

/// Endpoints and devices granted to one module or process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    /// Endpoints served.
    pub serve: Vec<String>,
    /// Port grants.
    pub ports: Vec<PortGrant>,
    /// MMIO grants.
    pub mmio: Vec<MmioGrant>,
    /// IRQ grants.
    pub irqs: Vec<IrqGrant>,
    /// Endpoints it may send to.
    pub endpoints: Vec<String>,
}

impl Grants {
    /// Reads `key = value` if `key` is one of the shared grant keys; `false` if it is not.
    /// Problems go to `say`, without the table's name (the caller adds it).
    ///
    /// `written` gives the text of the value of a key (or of its element at a
    /// position) as the file has it, for messages.
    pub fn parse_key(
        &mut self,
        key: &str,
        value: &Value,
        say: &mut impl FnMut(String),
        written: &dyn Fn(&str, Option<usize>) -> Option<String>,
    ) -> bool {
        match key {
            "serve" | "endpoints" => {
                let names = endpoint_names(key, value, say);
                if key == "serve" {
                    self.serve = names;
                } else {
                    self.endpoints = names;
                }
            }
            "ports" => self.parse_ports(value, say, written),
            "mmio" => self.parse_mmio(value, say, written),
            "irqs" => self.parse_irqs(value, say, written),
            _ => return false,
        }
        true
    }

    fn parse_ports(
        &mut self,
        value: &Value,
        say: &mut impl FnMut(String),
        written: &dyn Fn(&str, Option<usize>) -> Option<String>,
    ) {
        for (position, item) in value.as_array().into_iter().flatten().enumerate() {
            let shown = || written("ports", Some(position)).unwrap_or_else(|| item.to_string());
            unknown_keys(item, &["base", "count", "shared"], say, "ports", position);
            let base = item.get("base").and_then(integer);
            let count = item.get("count").and_then(integer);
            match (base, count) {
                (Some(base), Some(count))
                    if count >= 1 && base.checked_add(count).is_some_and(|end| end <= 0x1_0000) =>
                {
                    self.ports.push(PortGrant {
                        base: base as u16,
                        count: count as u32,
                        shared: shared(item, say, "ports", position),
                    })
                }
                _ => say(format!(
                    "ports[{position}]: expected {{ base = PORT, count = N }} inside 0..0x10000, found {}",
                    shown()
                )),
            }
        }
        if !value.is_array() {
            say("`ports` must be an array of { base, count } tables".into());
        }
    }

    fn parse_mmio(
        &mut self,
        value: &Value,
        say: &mut impl FnMut(String),
        written: &dyn Fn(&str, Option<usize>) -> Option<String>,
    ) {
        for (position, item) in value.as_array().into_iter().flatten().enumerate() {
            let shown = || written("mmio", Some(position)).unwrap_or_else(|| item.to_string());
            unknown_keys(item, &["base", "length", "shared"], say, "mmio", position);
            let base = item.get("base").and_then(integer);
            let length = item.get("length").and_then(integer);
            match (base, length) {
                (Some(base), Some(length))
                    if (1..=1 << 32).contains(&length) && base.checked_add(length).is_some() =>
                {
                    self.mmio.push(MmioGrant {
                        base,
                        length,
                        shared: shared(item, say, "mmio", position),
                    })
                }
                _ => say(format!(
                    "mmio[{position}]: expected {{ base = ADDRESS, length = BYTES }} (1 byte to 4 GiB), found {}",
                    shown()
                )),
            }
        }
        if !value.is_array() {
            say("`mmio` must be an array of { base, length } tables".into());
        }
    }

    fn parse_irqs(
        &mut self,
        value: &Value,
        say: &mut impl FnMut(String),
        written: &dyn Fn(&str, Option<usize>) -> Option<String>,
    ) {
        for (position, item) in value.as_array().into_iter().flatten().enumerate() {
            let shown = || written("irqs", Some(position)).unwrap_or_else(|| item.to_string());
            let (line, is_shared) = match item {
                Value::Integer(_) => (integer(item), false),
                Value::Table(_) => {
                    unknown_keys(item, &["line", "shared"], say, "irqs", position);
                    (
                        item.get("line").and_then(integer),
                        shared(item, say, "irqs", position),
                    )
                }
                _ => (None, false),
            };
            match line.and_then(|line| u8::try_from(line).ok()) {
                Some(line) => self.irqs.push(IrqGrant {
                    line,
                    shared: is_shared,
                }),
                None => say(format!(
                    "irqs[{position}]: expected a line 0-255 or {{ line = N, shared = true }}, found {}",
                    shown()
                )),
            }
        }
        if !value.is_array() {
            say("`irqs` must be an array".into());
        }
    }

    /// The device grant lines (`port`, `mmio`, `irq`), as in `system.manifest` without `grant `.
    pub fn device_lines(&self) -> Vec<GrantLine> {
        let mut lines = Vec::new();
        for port in &self.ports {
            lines.push(GrantLine::Port {
                base: port.base,
                count: port.count,
                shared: port.shared,
            });
        }
        for region in &self.mmio {
            lines.push(GrantLine::Mmio {
                base: region.base,
                length: region.length,
                shared: region.shared,
            });
        }
        for irq in &self.irqs {
            lines.push(GrantLine::Irq {
                line: irq.line,
                shared: irq.shared,
            });
        }
        lines
    }

    /// The `endpoint NAME` grant lines.
    pub fn endpoint_lines(&self) -> Vec<GrantLine> {
        self.endpoints
            .iter()
            .map(|endpoint| GrantLine::Endpoint {
                name: endpoint.clone(),
            })
            .collect()
    }
}

/// `serve` or `endpoints`: an array of endpoint names.
fn endpoint_names(key: &str, value: &Value, say: &mut impl FnMut(String)) -> Vec<String> {
    let Some(items) = value.as_array() else {
        say(format!("`{key}` must be an array of endpoint names"));
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item.as_str() {
            Some(name) if valid_name(name) => Some(name.to_owned()),
            _ => {
                say(format!("`{key}`: `{item}` is not an endpoint name"));
                None
            }
        })
        .collect()
}

/// The optional `shared` flag of a grant table.
/// Names each key of the table `item` (element `position` of `key`) that is not one of
/// `allowed`: a misspelt `count` is named, not taken for a missing one.
fn unknown_keys(
    item: &Value,
    allowed: &[&str],
    say: &mut impl FnMut(String),
    key: &str,
    position: usize,
) {
    let Value::Table(table) = item else {
        return;
    };
    for name in table.keys() {
        if !allowed.contains(&name.as_str()) {
            say(format!(
                "{key}[{position}]: unknown key `{name}` (expected {})",
                allowed.join(", ")
            ));
        }
    }
}

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
