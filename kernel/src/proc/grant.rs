//! What a native process may touch: its `serve` names, its kernel memory
//! allowance, and its grant lines as one `cella-system` [`GrantSet`] (ports
//! opened in the TSS I/O bitmap, MMIO regions mapped on request, IRQ lines,
//! endpoint names it may look up), checked with the same rules as a Wasm
//! module's requests. Hardware-free (host-tested).

use crate::system_manifest::{GrantLine, ModulePlan};
use alloc::string::String;
use alloc::vec::Vec;
use cella_system::grants::GrantSet;

/// What a process may touch, as the system manifest (or a test) grants it.
#[derive(Clone, Debug, Default)]
pub struct ProcessGrant {
    /// Ports, MMIO regions, IRQ lines and the endpoint names it may
    /// `lookup` (send and call).
    pub grants: GrantSet,
    /// Endpoint names it may `register` (serve).
    pub serves: Vec<String>,
    /// Bytes of kernel memory it may make the kernel allocate (endpoints,
    /// handles); 0 means [`super::charge::DEFAULT_ALLOWANCE`].
    pub kernel_memory: usize,
}

impl ProcessGrant {
    /// A grant to look up `endpoints` and serve `serves`, no devices.
    pub fn ipc(endpoints: &[&str], serves: &[&str]) -> Self {
        ProcessGrant {
            grants: endpoints
                .iter()
                .fold(GrantSet::new(), |grants, name| grants.endpoint(name)),
            serves: serves.iter().map(|name| String::from(*name)).collect(),
            kernel_memory: 0,
        }
    }

    /// The grant of a `process` block of the system manifest, and the grant
    /// lines a process cannot hold (timers: a native module's timers are
    /// receive deadlines; `pci-bus`: the list is a module's), which are
    /// left out.
    pub fn from_plan(plan: &ModulePlan) -> (Self, Vec<&GrantLine>) {
        let (held, unsupported): (Vec<&GrantLine>, Vec<&GrantLine>) = plan
            .grants
            .iter()
            .partition(|line| !matches!(line, GrantLine::Timer | GrantLine::PciBus));
        let grant = ProcessGrant {
            grants: GrantSet::from_lines(held),
            serves: plan.serves.clone(),
            kernel_memory: plan.kernel_memory,
        };
        (grant, unsupported)
    }

    /// The port, MMIO, PCI and DMA grants as manifest lines, for the
    /// kernel's device checks at spawn (the same ones a module's grant
    /// passes at load).
    pub fn device_lines(&self) -> Vec<GrantLine> {
        let ports = self
            .grants
            .ports()
            .iter()
            .map(|&(base, count)| GrantLine::Port {
                base,
                count,
                shared: false,
            });
        let mmio = self
            .grants
            .mmio()
            .iter()
            .map(|&(base, length)| GrantLine::Mmio {
                base,
                length,
                shared: false,
            });
        let devices =
            self.grants
                .devices()
                .iter()
                .map(|&(vendor, device, slot)| GrantLine::Device {
                    vendor,
                    device,
                    slot,
                });
        let dma = (self.grants.dma_budget() > 0).then(|| GrantLine::Dma {
            bytes: self.grants.dma_budget(),
        });
        let unconfined = self
            .grants
            .dma_unconfined()
            .then_some(GrantLine::DmaUnconfined);
        ports
            .chain(mmio)
            .chain(devices)
            .chain(dma)
            .chain(unconfined)
            .collect()
    }

    /// The address of the PCI function the process was granted (its first
    /// resolved `device` line).
    pub fn pci_function(&self) -> Option<cella_wasm_host::abi::PciAddress> {
        self.grants.devices().iter().find_map(|&(_, _, slot)| slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_keeps_its_device_dma_and_endpoint_lines_and_sets_aside_timers() {
        let plan = ModulePlan {
            name: String::from("p"),
            serves: alloc::vec![String::from("rtc")],
            kernel_memory: 8192,
            grants: alloc::vec![
                GrantLine::Port {
                    base: 0,
                    count: 0x1_0000,
                    shared: false,
                },
                GrantLine::Mmio {
                    base: 0xfec0_0000,
                    length: 0x1000,
                    shared: true,
                },
                GrantLine::Irq {
                    line: 8,
                    shared: false,
                },
                GrantLine::Dma { bytes: 4096 },
                GrantLine::Endpoint {
                    name: String::from("log"),
                },
                GrantLine::Timer,
            ],
            ..ModulePlan::default()
        };
        let (grant, unsupported) = ProcessGrant::from_plan(&plan);
        // All 0x10000 ports, not truncated to 0xffff.
        assert!(grant.grants.covers_ports(0xffff, 1));
        assert!(grant.grants.covers_ports(0, 0x1_0000));
        assert!(grant.grants.covers_mmio(0xfec0_0000, 0x1000));
        assert!(grant.grants.holds_irq(8));
        assert!(grant.grants.holds_endpoint("log"));
        assert_eq!(grant.grants.dma_budget(), 4096);
        assert_eq!(grant.grants.timer_count(), 0);
        assert_eq!(grant.serves, [String::from("rtc")]);
        assert_eq!(grant.kernel_memory, 8192);
        assert_eq!(unsupported, [&GrantLine::Timer]);
        assert_eq!(
            grant.device_lines(),
            [
                GrantLine::Port {
                    base: 0,
                    count: 0x1_0000,
                    shared: false
                },
                GrantLine::Mmio {
                    base: 0xfec0_0000,
                    length: 0x1000,
                    shared: false
                },
                GrantLine::Dma { bytes: 4096 },
            ]
        );
        assert_eq!(grant.pci_function(), None);
    }

    #[test]
    fn an_ipc_grant_names_endpoints_and_no_devices() {
        let grant = ProcessGrant::ipc(&["checksum", "log"], &["fuzz-inbox"]);
        assert!(grant.grants.holds_endpoint("checksum"));
        assert!(grant.grants.holds_endpoint("log"));
        assert!(!grant.grants.holds_endpoint("fs"));
        assert!(grant.device_lines().is_empty());
        assert!(!grant.grants.covers_ports(0x70, 1));
        assert_eq!(grant.serves, [String::from("fuzz-inbox")]);
    }
}
