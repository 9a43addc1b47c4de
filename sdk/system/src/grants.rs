//! One grant and its checks: what the system manifest allows a module or a
//! native process (its `grant` lines), and whether a request fits inside it.
//!
//! The Wasm host resolves a module's manifest requests with
//! [`GrantSet::resolve`] at load; the kernel checks a native process's
//! device syscalls with [`GrantSet::covers_ports`],
//! [`GrantSet::mmio_grant_covering`], [`GrantSet::holds_irq`] and
//! [`GrantSet::holds_endpoint`]. The rules are the same everywhere:
//! - a port range or MMIO region fits when it lies inside ONE granted range
//!   (a request straddling two adjacent grants is refused: each grant line is
//!   one device window);
//! - an empty range (count or length 0) and a range whose end overflows
//!   never fit; ports end at or before 0x10000;
//! - DMA requests draw on one budget, the sum of the `dma` grant lines, and
//!   `timer` requests on the number of `timer` lines, in manifest order.
//!
//! Counts are kept as `u32` (ports: up to 0x10000) and `u64` (MMIO, DMA), so
//! no grant is ever truncated.

#[cfg(feature = "alloc")]
use crate::system_manifest::GrantLine;
#[cfg(feature = "alloc")]
use alloc::string::{String, ToString};
#[cfg(feature = "alloc")]
use alloc::vec::Vec;
#[cfg(feature = "alloc")]
use cella_abi::{CapabilityRequest, PciAddress};

/// The one past the last port.
#[cfg(feature = "alloc")]
const PORT_LIMIT: u64 = 0x1_0000;

/// What one module or process is granted.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantSet {
    ports: Vec<(u16, u32)>,
    mmio: Vec<(u64, u64)>,
    irqs: Vec<u8>,
    dma_bytes: u64,
    endpoints: Vec<String>,
    timers: u32,
    devices: Vec<(u16, u16, Option<PciAddress>)>,
    pci_bus: bool,
    dma_unconfined: bool,
}

/// Whether `base .. base + count` lies inside `granted .. granted + length`:
/// the one rule for every range, a grant's or a held capability's (the SDK's
/// native backend checks each port and MMIO access with it). An empty range
/// and a range or grant whose end overflows `u64` fit nothing.
pub fn range_holds(granted: u64, length: u64, base: u64, count: u64) -> bool {
    let (Some(end), Some(limit)) = (base.checked_add(count), granted.checked_add(length)) else {
        return false;
    };
    count > 0 && base >= granted && end <= limit
}

#[cfg(feature = "alloc")]
impl GrantSet {
    /// Nothing granted.
    pub fn new() -> GrantSet {
        GrantSet::default()
    }

    /// The grant that `lines` (a plan's `grant` lines) describe.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a GrantLine>) -> GrantSet {
        let mut set = GrantSet::new();
        for line in lines {
            set.add(line);
        }
        set
    }

    /// Adds one grant line: DMA lines add to the budget, timer lines count.
    pub fn add(&mut self, line: &GrantLine) {
        match line {
            GrantLine::Port { base, count, .. } => self.ports.push((*base, *count)),
            GrantLine::Mmio { base, length, .. } => self.mmio.push((*base, *length)),
            GrantLine::Irq { line, .. } => self.irqs.push(*line),
            GrantLine::Dma { bytes } => self.dma_bytes = self.dma_bytes.saturating_add(*bytes),
            GrantLine::Endpoint { name } => self.endpoints.push(name.clone()),
            GrantLine::Timer => self.timers = self.timers.saturating_add(1),
            GrantLine::Device {
                vendor,
                device,
                slot,
            } => self.devices.push((*vendor, *device, *slot)),
            GrantLine::PciBus => self.pci_bus = true,
            GrantLine::DmaUnconfined => self.dma_unconfined = true,
        }
    }

    /// Allows ports `base .. base + count`.
    pub fn port_range(mut self, base: u16, count: u32) -> GrantSet {
        self.ports.push((base, count));
        self
    }

    /// Allows physical MMIO bytes `base .. base + length`.
    pub fn mmio_region(mut self, base: u64, length: u64) -> GrantSet {
        self.mmio.push((base, length));
        self
    }

    /// Allows an IRQ line.
    pub fn irq_line(mut self, line: u8) -> GrantSet {
        self.irqs.push(line);
        self
    }

    /// Sets the DMA budget: `bytes` in all, whatever the pools.
    pub fn dma_bytes(mut self, bytes: u64) -> GrantSet {
        self.dma_bytes = bytes;
        self
    }

    /// Allows the endpoint `name`.
    pub fn endpoint(mut self, name: &str) -> GrantSet {
        self.endpoints.push(name.to_string());
        self
    }

    /// Sets the number of one-shot timers allowed.
    pub fn timers(mut self, count: u32) -> GrantSet {
        self.timers = count;
        self
    }

    /// The granted port ranges `(base, count)`, in grant order.
    pub fn ports(&self) -> &[(u16, u32)] {
        &self.ports
    }

    /// The granted MMIO regions `(base, length)`, in grant order.
    pub fn mmio(&self) -> &[(u64, u64)] {
        &self.mmio
    }

    /// The granted IRQ lines.
    pub fn irqs(&self) -> &[u8] {
        &self.irqs
    }

    /// The granted endpoint names.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The DMA budget in bytes.
    pub fn dma_budget(&self) -> u64 {
        self.dma_bytes
    }

    /// The number of timers allowed.
    pub fn timer_count(&self) -> u32 {
        self.timers
    }

    /// Whether one port grant holds all of ports `base .. base + count`
    /// (`count` above 0, the range ending at or before 0x10000).
    pub fn covers_ports(&self, base: u64, count: u64) -> bool {
        base.checked_add(count).is_some_and(|end| end <= PORT_LIMIT)
            && self.ports.iter().any(|&(granted, length)| {
                range_holds(u64::from(granted), u64::from(length), base, count)
            })
    }

    /// The index of the first MMIO grant that holds all of `base .. base +
    /// length` (`length` above 0).
    pub fn mmio_grant_covering(&self, base: u64, length: u64) -> Option<usize> {
        self.mmio
            .iter()
            .position(|&(granted, size)| range_holds(granted, size, base, length))
    }

    /// Whether one MMIO grant holds all of `base .. base + length`.
    pub fn covers_mmio(&self, base: u64, length: u64) -> bool {
        self.mmio_grant_covering(base, length).is_some()
    }

    /// Whether IRQ `line` is granted.
    pub fn holds_irq(&self, line: u8) -> bool {
        self.irqs.contains(&line)
    }

    /// The granted PCI functions `(vendor, device, slot)`; the slot is the
    /// function's address once the kernel resolved the grant.
    pub fn devices(&self) -> &[(u16, u16, Option<PciAddress>)] {
        &self.devices
    }

    /// Whether a PCI function with these ids is granted.
    pub fn holds_device(&self, vendor: u16, device: u16) -> bool {
        self.devices
            .iter()
            .any(|&(granted_vendor, granted_device, _)| {
                granted_vendor == vendor && granted_device == device
            })
    }

    /// Whether the grant says its DMA may be unconfined (no IOMMU).
    pub fn dma_unconfined(&self) -> bool {
        self.dma_unconfined
    }

    /// Whether the endpoint `name` is granted.
    pub fn holds_endpoint(&self, name: &str) -> bool {
        self.endpoints.iter().any(|granted| granted == name)
    }

    /// Resolves a manifest's requests against the grant, in order: each
    /// range must fit inside one grant, each line and endpoint be granted,
    /// and the DMA pools and timers together stay within their budgets.
    ///
    /// # Errors
    /// The first request that does not fit, as its manifest line
    /// (`port 0x3fc 5`, `dma 41 bytes`, `timer`).
    pub fn resolve<'a>(
        &self,
        requests: impl IntoIterator<Item = CapabilityRequest<'a>>,
    ) -> Result<Vec<CapabilityRequest<'a>>, String> {
        let mut dma_left = self.dma_bytes;
        let mut timers_left = self.timers;
        let mut resolved = Vec::new();
        for request in requests {
            let fits = match request {
                CapabilityRequest::PortRange { base, count } => {
                    self.covers_ports(u64::from(base), u64::from(count))
                }
                CapabilityRequest::MmioRegion { base, length } => self.covers_mmio(base, length),
                CapabilityRequest::IrqLine { line } => self.holds_irq(line),
                CapabilityRequest::DmaPool { bytes } => match dma_left.checked_sub(bytes) {
                    Some(left) => {
                        dma_left = left;
                        true
                    }
                    None => false,
                },
                CapabilityRequest::Endpoint { name } => self.holds_endpoint(name),
                CapabilityRequest::Timer => match timers_left.checked_sub(1) {
                    Some(left) => {
                        timers_left = left;
                        true
                    }
                    None => false,
                },
                CapabilityRequest::PciDevice { vendor, device } => {
                    self.holds_device(vendor, device)
                }
                CapabilityRequest::PciBus => self.pci_bus,
            };
            if !fits {
                return Err(request.to_string());
            }
            resolved.push(request);
        }
        Ok(resolved)
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests;
