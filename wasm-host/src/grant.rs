//! The grant: what the system manifest allows a module, and the capabilities
//! its requests resolve to, with the endpoints it serves. The check itself is
//! `cella-system`'s [`GrantSet`]; [`Grant::from_plan`] makes a grant from the
//! system description, for the kernel and the tool alike.

use crate::capabilities::Capability;
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_abi::{CapabilityRequest, Rights};
use cella_interfaces::pci::Function;
use cella_system::devices::PciFunction;
use cella_system::grants::GrantSet;
use cella_system::system_manifest::{GrantLine, ModuleLimits, ModulePlan};

/// What the system allows one module. A module receives only what its own
/// manifest requests, and every request must fit inside the grant: the
/// check is `cella-system`'s [`GrantSet`], the same one the kernel applies
/// to native processes; this type adds the endpoint ids the embedder knows,
/// the endpoints the module serves and the module's own limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    set: GrantSet,
    endpoint_ids: Vec<(String, u64)>,
    /// The ids of the endpoints the module serves, in the plan's order.
    serves: Vec<u64>,
    limits: ModuleLimits,
    functions: Vec<PciFunction>,
    bus: Option<Arc<[Function]>>,
}

impl Grant {
    /// An empty grant: only logging and time.
    pub fn new() -> Grant {
        Grant::default()
    }

    /// The grant of `plan` (a module of the system manifest): its grant
    /// lines, the endpoints it serves and its own limits. `endpoint_id`
    /// gives the id the embedder knows an endpoint by; an endpoint it does
    /// not know is left out.
    pub fn from_plan(plan: &ModulePlan, endpoint_id: impl Fn(&str) -> Option<u64>) -> Grant {
        let mut grant = Grant::new().limits(plan.limits);
        for name in &plan.serves {
            if let Some(id) = endpoint_id(name) {
                grant = grant.serve(id);
            }
        }
        for line in &plan.grants {
            match line {
                GrantLine::Endpoint { name } => {
                    if let Some(id) = endpoint_id(name) {
                        grant = grant.endpoint(name, id);
                    }
                }
                other => grant.set.add(other),
            }
        }
        grant
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
        self.set = self.set.port_range(base, count);
        self
    }

    /// Allows physical MMIO bytes `base .. base + length`.
    pub fn mmio_region(mut self, base: u64, length: u64) -> Grant {
        self.set = self.set.mmio_region(base, length);
        self
    }

    /// Allows an IRQ line.
    pub fn irq_line(mut self, line: u8) -> Grant {
        self.set = self.set.irq_line(line);
        self
    }

    /// Allows DMA pools totalling `bytes`.
    pub fn dma_bytes(mut self, bytes: u64) -> Grant {
        self.set = self.set.dma_bytes(bytes);
        self
    }

    /// Allows the endpoint `name`, which the embedder knows as `id`.
    pub fn endpoint(mut self, name: &str, id: u64) -> Grant {
        self.set = self.set.endpoint(name);
        self.endpoint_ids.push((name.to_string(), id));
        self
    }

    /// The module serves the endpoint the embedder knows as `id`: every
    /// instance holds it as an endpoint capability with [`Rights::RECEIVE`],
    /// in the top slots of its capability table, counting down.
    pub fn serve(mut self, id: u64) -> Grant {
        self.serves.push(id);
        self
    }

    /// The capabilities of the endpoints the module serves, in order.
    pub(crate) fn served(&self) -> Vec<Capability> {
        self.serves
            .iter()
            .map(|id| Capability::Endpoint {
                id: *id,
                rights: Rights::RECEIVE,
            })
            .collect()
    }

    /// How many endpoints the module serves.
    pub(crate) fn served_count(&self) -> usize {
        self.serves.len()
    }

    /// Allows the PCI function `function`, which the embedder found on the
    /// bus for one of the grant's `device` lines (a `pci` request with its
    /// ids resolves to it).
    pub fn pci_function(mut self, function: PciFunction) -> Grant {
        self.set.add(&GrantLine::Device {
            vendor: function.vendor,
            device: function.device,
            slot: Some(function.address),
        });
        self.functions.push(function);
        self
    }

    /// Allows the list of PCI functions the embedder found on the bus,
    /// read-only (a `pci-bus` request resolves to it).
    pub fn pci_bus(mut self, functions: Arc<[Function]>) -> Grant {
        self.set.add(&GrantLine::PciBus);
        self.bus = Some(functions);
        self
    }

    /// DMA bytes allowed in all, whatever the pools.
    pub(crate) fn dma_total(&self) -> u64 {
        self.set.dma_budget()
    }

    /// Allows `count` one-shot timers.
    pub fn timers(mut self, count: u32) -> Grant {
        self.set = self.set.timers(count);
        self
    }

    /// Resolves each request against the grant, in order
    /// ([`GrantSet::resolve`]), into the capabilities the module starts with.
    ///
    /// # Errors
    /// The first request that does not fit, rendered as its manifest line.
    pub fn resolve<'a>(
        &self,
        requests: impl Iterator<Item = CapabilityRequest<'a>>,
    ) -> Result<Vec<Capability>, String> {
        self.set
            .resolve(requests)?
            .into_iter()
            .map(|request| {
                Ok(match request {
                    CapabilityRequest::PortRange { base, count } => {
                        Capability::PortRange { base, count }
                    }
                    CapabilityRequest::MmioRegion { base, length } => {
                        Capability::MmioRegion { base, length }
                    }
                    CapabilityRequest::IrqLine { line } => Capability::IrqLine {
                        line,
                        enabled: false,
                    },
                    CapabilityRequest::DmaPool { bytes } => Capability::DmaPool {
                        budget: bytes,
                        used: 0,
                    },
                    CapabilityRequest::Endpoint { name } => Capability::Endpoint {
                        id: self
                            .endpoint_ids
                            .iter()
                            .find(|(granted, _)| granted == name)
                            .map(|(_, id)| *id)
                            .ok_or_else(|| request.to_string())?,
                        rights: Rights::SEND,
                    },
                    CapabilityRequest::Timer => Capability::Timer { deadline: None },
                    CapabilityRequest::PciDevice { vendor, device } => Capability::PciDevice {
                        function: Box::new(
                            self.functions
                                .iter()
                                .find(|function| function.matches(vendor, device, None))
                                .cloned()
                                .ok_or_else(|| {
                                    alloc::format!(
                                        "{request} (its grant names no function found on the bus)"
                                    )
                                })?,
                        ),
                    },
                    CapabilityRequest::PciBus => Capability::PciBus {
                        functions: self.bus.clone().unwrap_or_else(|| Arc::from([])),
                    },
                })
            })
            .collect()
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
                Capability::Endpoint {
                    id: 9,
                    rights: Rights::SEND
                }
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

    #[test]
    fn a_plan_grants_its_lines_and_only_the_endpoints_the_embedder_knows() {
        let plan = ModulePlan {
            name: "t".into(),
            grants: alloc::vec![
                GrantLine::Port {
                    base: 0,
                    count: 0x1_0000,
                    shared: false,
                },
                GrantLine::Dma { bytes: 60 },
                GrantLine::Dma { bytes: 40 },
                GrantLine::Endpoint { name: "log".into() },
                GrantLine::Endpoint { name: "fs".into() },
                GrantLine::Timer,
            ],
            ..ModulePlan::default()
        };
        let grant = Grant::from_plan(&plan, |name| (name == "log").then_some(7));
        assert_eq!(grant.dma_total(), 100);
        assert_eq!(
            resolve(&grant, "port 0 65536\ndma 100\nendpoint log\ntimer\n"),
            Ok(alloc::vec![
                Capability::PortRange {
                    base: 0,
                    count: 0x1_0000
                },
                Capability::DmaPool {
                    budget: 100,
                    used: 0
                },
                Capability::Endpoint {
                    id: 7,
                    rights: Rights::SEND
                },
                Capability::Timer { deadline: None },
            ])
        );
        assert_eq!(resolve(&grant, "endpoint fs\n"), Err("endpoint fs".into()));
    }

    #[test]
    fn a_plan_serves_the_endpoints_the_embedder_knows_with_receive_only() {
        let plan = ModulePlan {
            name: "t".into(),
            serves: alloc::vec!["uart".into(), "gone".into(), "console".into()],
            grants: alloc::vec![GrantLine::Endpoint { name: "log".into() }],
            ..ModulePlan::default()
        };
        let grant = Grant::from_plan(&plan, |name| match name {
            "uart" => Some(3),
            "console" => Some(5),
            "log" => Some(7),
            _ => None,
        });
        assert_eq!(
            grant.served(),
            [
                Capability::Endpoint {
                    id: 3,
                    rights: Rights::RECEIVE
                },
                Capability::Endpoint {
                    id: 5,
                    rights: Rights::RECEIVE
                },
            ]
        );
        // Serving an endpoint is no grant to send to it.
        assert_eq!(
            resolve(&grant, "endpoint uart\n"),
            Err("endpoint uart".into())
        );
        assert_eq!(
            resolve(&grant, "endpoint log\n"),
            Ok(alloc::vec![Capability::Endpoint {
                id: 7,
                rights: Rights::SEND
            }])
        );
    }
}
