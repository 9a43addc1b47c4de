//! pci: Cella's PCI bus server — publishes the PCI functions the kernel found at boot on the `pci` endpoint.
//!
//! The kernel walks configuration space once at boot (bus 0 and every bus
//! behind a bridge, every function, each BAR sized), because it grants
//! drivers their devices by identity from that list. This module holds the
//! `pci-bus` capability: the list, read-only. It reaches no configuration
//! space, so it can move no BAR and enable no device. At `init` it reads
//! the list and logs one line per function:
//!
//! ```text
//! 00:03.0 8086:100e class 02.00.00 header 0 irq 11 bar0=mem32 0xfebc0000 size 0x20000 bar1=io 0xc000 size 0x40
//! ```
//!
//! It serves the typed interface `cella_sdk::interfaces::pci`: how many
//! functions it found, each by index, and the first with given vendor and
//! device ids.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::interfaces::pci::{self, Function, PciError};
use cella_sdk::{Message, Module, Result, TextBuffer};
use core::fmt::Write;

cella_sdk::module! {
    name: "pci",
    version: "1.0.0",
    module: Pci,
    capabilities: {
        bus: pci_bus(),
    },
}

/// Functions the driver keeps to answer requests about; any past these are
/// logged at boot but not served.
const MAX_FUNCTIONS: usize = 64;

/// The driver's state: what enumeration found.
pub struct Pci {
    functions: [Function; MAX_FUNCTIONS],
    count: usize,
}

impl Module for Pci {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Pci> {
        let mut pci = Pci {
            functions: [Function::default(); MAX_FUNCTIONS],
            count: 0,
        };
        let mut found = 0usize;
        while let Some(function) = capabilities.bus.function(found as u32)? {
            found += 1;
            let mut line = TextBuffer::<256>::new();
            let _ = write!(line, "{function}");
            cella_sdk::info!("{line}");
            if let Some(slot) = pci.functions.get_mut(pci.count) {
                *slot = function;
                pci.count += 1;
            }
        }
        if found > pci.count {
            cella_sdk::warn!(
                "{} functions past the first {MAX_FUNCTIONS} are not served",
                found - pci.count
            );
        }
        cella_sdk::info!("{found} functions");
        Ok(pci)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        message.answer(|request, reply| pci::serve(self, request, reply))
    }
}

impl Pci {
    fn found(&self) -> &[Function] {
        &self.functions[..self.count]
    }
}

impl pci::Server for Pci {
    fn count(&mut self) -> u32 {
        self.count as u32
    }

    fn function(&mut self, index: u32) -> core::result::Result<Function, PciError> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.found().get(index))
            .copied()
            .ok_or(PciError::NoSuchFunction)
    }

    fn find(&mut self, vendor_id: u16, device_id: u16) -> core::result::Result<Function, PciError> {
        self.found()
            .iter()
            .find(|function| function.vendor_id == vendor_id && function.device_id == device_id)
            .copied()
            .ok_or(PciError::NoSuchFunction)
    }
}
