//! The grant: what the system manifest allows a module, and the check that a
//! module's requests fit inside it. [`Grant::from_plan`] makes it from the
//! system description (`cella-system`), for the kernel and the tool alike.

use crate::capabilities::Capability;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use cella_abi::CapabilityRequest;
use cella_system::system_manifest::{GrantLine, ModuleLimits, ModulePlan};

/// What the system allows one module. A module receives only what its own
/// manifest requests, and every request must fit inside the grant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    ports: Vec<(u16, u32)>,
    mmio: Vec<(u64, u64)>,
    irqs: Vec<u8>,
    dma_bytes: u64,
    endpoints: Vec<(String, u64)>,
    timers: u32,
    limits: ModuleLimits,
}

impl Grant {
    /// An empty grant: only logging and time.
    pub fn new() -> Grant {
        Grant::default()
    }

    /// The grant of `plan` (a module of the system manifest): its grant
    /// lines and its own limits. `endpoint_id` gives the id the embedder
    /// knows a granted endpoint by; an endpoint it does not know is left out.
    pub fn from_plan(plan: &ModulePlan, endpoint_id: impl Fn(&str) -> Option<u64>) -> Grant {
        let mut grant = Grant::new();
        let mut dma_bytes = 0u64;
        let mut timers = 0u32;
        for line in &plan.grants {
            grant = match line {
                GrantLine::Port { base, count, .. } => grant.port_range(*base, *count),
                GrantLine::Mmio { base, length, .. } => grant.mmio_region(*base, *length),
                GrantLine::Irq { line, .. } => grant.irq_line(*line),
                GrantLine::Dma { bytes } => {
                    dma_bytes = dma_bytes.saturating_add(*bytes);
                    grant
                }
                GrantLine::Endpoint { name } => match endpoint_id(name) {
                    Some(id) => grant.endpoint(name, id),
                    None => grant,
                },
                GrantLine::Timer => {
                    timers = timers.saturating_add(1);
                    grant
                }
            };
        }
        grant
            .dma_bytes(dma_bytes)
            .timers(timers)
            .limits(plan.limits)
    }

    /// The module's own limits, over the runtime's (see [`crate::Limits`]).
    pub fn limits(mut self, limits: ModuleLimits) -> Grant {
        self.limits = limits;
        self
    }

    /// The module's own limits.
    pub(crate) fn own_limits(&self) -> ModuleLimits {
        self.limits
    }

    /// Allows ports `base .. base + count`.
    pub fn port_range(mut self, base: u16, count: u32) -> Grant {
        self.ports.push((base, count));
        self
    }

    /// Allows physical MMIO bytes `base .. base + length`.
    pub fn mmio_region(mut self, base: u64, length: u64) -> Grant {
        self.mmio.push((base, length));
        self
    }

    /// Allows an IRQ line.
    pub fn irq_line(mut self, line: u8) -> Grant {
        self.irqs.push(line);
        self
    }

    /// Allows DMA pools totalling `bytes`.
    pub fn dma_bytes(mut self, bytes: u64) -> Grant {
        self.dma_bytes = bytes;
        self
    }

    /// Allows the endpoint `name`, which the embedder knows as `id`.
    pub fn endpoint(mut self, name: &str, id: u64) -> Grant {
        self.endpoints.push((name.to_string(), id));
        self
    }

    /// DMA bytes allowed in all, whatever the pools.
    pub(crate) fn dma_total(&self) -> u64 {
        self.dma_bytes
    }

    /// Allows `count` one-shot timers.
    pub fn timers(mut self, count: u32) -> Grant {
        self.timers = count;
        self
    }

    /// Resolves each request against the grant, in order.
    ///
    /// # Errors
    /// The first request that does not fit, rendered as its manifest line.
    pub fn resolve<'a>(
        &self,
        requests: impl Iterator<Item = CapabilityRequest<'a>>,
    ) -> Result<Vec<Capability>, String> {
        let mut dma_left = self.dma_bytes;
        let mut timers_left = self.timers;
        let mut resolved = Vec::new();
        for request in requests {
            let denied = || request.to_string();
            let capability = match request {
                CapabilityRequest::PortRange { base, count } => {
                    let end = u64::from(base) + u64::from(count);
                    let inside = self.ports.iter().any(|&(granted, length)| {
                        u64::from(base) >= u64::from(granted)
                            && end <= u64::from(granted) + u64::from(length)
                    });
                    if !inside {
                        return Err(denied());
                    }
                    Capability::PortRange { base, count }
                }
                CapabilityRequest::MmioRegion { base, length } => {
                    let end = base.checked_add(length).ok_or_else(denied)?;
                    let inside = self.mmio.iter().any(|&(granted, granted_length)| {
                        base >= granted
                            && granted
                                .checked_add(granted_length)
                                .is_some_and(|limit| end <= limit)
                    });
                    if !inside {
                        return Err(denied());
                    }
                    Capability::MmioRegion { base, length }
                }
                CapabilityRequest::IrqLine { line } => {
                    if !self.irqs.contains(&line) {
                        return Err(denied());
                    }
                    Capability::IrqLine {
                        line,
                        enabled: false,
                    }
                }
                CapabilityRequest::DmaPool { bytes } => {
                    dma_left = dma_left.checked_sub(bytes).ok_or_else(denied)?;
                    Capability::DmaPool {
                        budget: bytes,
                        used: 0,
                    }
                }
                CapabilityRequest::Endpoint { name } => {
                    let id = self
                        .endpoints
                        .iter()
                        .find(|(granted, _)| granted == name)
                        .map(|(_, id)| *id)
                        .ok_or_else(denied)?;
                    Capability::Endpoint { id }
                }
                CapabilityRequest::Timer => {
                    timers_left = timers_left.checked_sub(1).ok_or_else(denied)?;
                    Capability::Timer { deadline: None }
                }
            };
            resolved.push(capability);
        }
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cella_abi::Manifest;

    fn resolve(grant: &Grant, capabilities: &str) -> Result<Vec<Capability>, String> {
        let text = alloc::format!("cella 1\nname t\nversion 1\n{capabilities}");
        let manifest = Manifest::parse(&text).unwrap();
        grant.resolve(manifest.capabilities())
    }

    #[test]
    fn requests_must_fit_inside_the_grant() {
        let grant = Grant::new()
            .port_range(0x3f8, 8)
            .mmio_region(0x1000, 0x2000)
            .irq_line(4)
            .dma_bytes(100)
            .endpoint("log", 9)
            .timers(1);
        assert_eq!(
            resolve(&grant, "port 0x3fc 4\nendpoint log\n"),
            Ok(alloc::vec![
                Capability::PortRange {
                    base: 0x3fc,
                    count: 4
                },
                Capability::Endpoint { id: 9 }
            ])
        );
        assert_eq!(
            resolve(&grant, "port 0x3fc 5\n"),
            Err("port 0x3fc 5".into())
        );
        assert_eq!(
            resolve(&grant, "port 0x3f7 1\n"),
            Err("port 0x3f7 1".into())
        );
        assert!(resolve(&grant, "mmio 0x2000 0x1000\n").is_ok());
        assert_eq!(
            resolve(&grant, "mmio 0x2000 0x1001\n"),
            Err("mmio 0x2000 4097".into())
        );
        assert_eq!(resolve(&grant, "irq 5\n"), Err("irq 5".into()));
        assert!(resolve(&grant, "dma 60\ndma 40\n").is_ok());
        assert_eq!(
            resolve(&grant, "dma 60\ndma 41\n"),
            Err("dma 41 bytes".into())
        );
        assert_eq!(resolve(&grant, "endpoint fs\n"), Err("endpoint fs".into()));
        assert_eq!(resolve(&grant, "timer\ntimer\n"), Err("timer".into()));
        assert_eq!(resolve(&Grant::new(), "irq 4\n"), Err("irq 4".into()));
    }
}
