//! Lab 7: the beacon driver, your driver (docs/labs/07-driver.md). It is what
//! `cargo cella new driver beacon` writes, with the package named `cella-lab-beacon` and
//! kept in `labs/07-driver`; `cargo cella lab 7 --grade` grades it against the model of
//! the beacon device in `tests/tests/labs_driver.rs`.
//!
//! A starting point: it requests a range of I/O ports, reads the device's id
//! register and switches the device on at `init`, and answers every request
//! with `[id, control]`. Replace the ports and registers with your device's;
//! docs/drivers.md walks through each part.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{Message, Module, Ports, Result};

cella_sdk::module! {
    name: "beacon",
    // The version is this crate's, from its Cargo.toml (`version: "..."` overrides it).
    module: Driver,
    capabilities: {
        device: port(0x2e8, 8), // placeholder: your device's ports
    },
}

/// Register offsets from the first port.
const ID: u16 = 0;
const CONTROL: u16 = 1;
/// Control register: device on.
const ENABLE: u8 = 0x01;

// Task 1: the beacon's DATA register is at offset 2.
// Task 2: a beacon's id register reads 0x42.

/// The driver's state between events.
pub struct Driver {
    device: Ports,
    id: u8,
}

impl Module for Driver {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Driver> {
        let device = capabilities.device;
        let id = device.read8(ID)?;
        // Task 2: refuse a device whose id is not a beacon's.
        device.write8(CONTROL, ENABLE)?;
        cella_sdk::info!("ready (device id {id:#04x})");
        Ok(Driver { device, id })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        if !message.is_request() {
            return Ok(());
        }
        // Task 1: write the request's length to DATA and answer `[id, control, data]`,
        // DATA read back from the device.
        let control = self.device.read8(CONTROL)?;
        message.reply(&[self.id, control])
    }
}
