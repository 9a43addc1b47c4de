//! pci: Cella's PCI bus driver — enumerates configuration space through ports 0xCF8/0xCFC (configuration mechanism #1) and publishes the device list on the `pci` endpoint.
//!
//! At `init` it walks bus 0 and every bus behind a PCI-to-PCI or CardBus
//! bridge, every device and (for multi-function devices) every function,
//! sizes each BAR with the write-all-ones probe (restoring the original
//! value, with decoding switched off meanwhile), and logs one line per
//! function:
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

mod config;

use cella_sdk::interfaces::pci::{self, PciError};
use cella_sdk::{Message, Module, Result, TextBuffer};
use config::{ConfigSpace, Function};
use core::fmt::Write;

cella_sdk::module! {
    name: "pci",
    version: "1.0.0",
    module: Pci,
    capabilities: {
        config: port(0xcf8, 8),
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
        let space = ConfigSpace::new(capabilities.config);
        let mut pci = Pci {
            functions: [Function::default(); MAX_FUNCTIONS],
            count: 0,
        };
        let mut found = 0usize;
        space.enumerate(|function| {
            found += 1;
            let mut line = TextBuffer::<256>::new();
            let _ = write!(line, "{function}");
            cella_sdk::info!("{line}");
            if let Some(slot) = pci.functions.get_mut(pci.count) {
                *slot = function;
                pci.count += 1;
            }
        })?;
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
