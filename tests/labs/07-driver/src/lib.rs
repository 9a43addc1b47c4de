//! Lab 7's reference solution: the beacon driver (docs/labs/07-driver.md), the template of
//! `cargo cella new driver` with both tasks done. The grader's own test passes it; see
//! tests/tests/labs_driver.rs.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{ErrorCode, Message, Module, Ports, Result};

cella_sdk::module! {
    name: "beacon",
    module: Driver,
    capabilities: {
        device: port(0x2e8, 8),
    },
}

/// Register offsets from the first port.
const ID: u16 = 0;
const CONTROL: u16 = 1;
const DATA: u16 = 2;
/// Control register: device on.
const ENABLE: u8 = 0x01;
/// What a beacon's id register reads.
const BEACON_ID: u8 = 0x42;

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
        // Task 2: nothing is switched on in a device that is not a beacon.
        if id != BEACON_ID {
            cella_sdk::error!("not a beacon (device id {id:#04x}, a beacon's is {BEACON_ID:#04x})");
            return Err(ErrorCode::DeviceError);
        }
        device.write8(CONTROL, ENABLE)?;
        cella_sdk::info!("ready (device id {id:#04x})");
        Ok(Driver { device, id })
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        if !message.is_request() {
            return Ok(());
        }
        // Task 1: the request's length to DATA, and DATA read back in the answer.
        let length = u8::try_from(message.len()).unwrap_or(u8::MAX);
        self.device.write8(DATA, length)?;
        let control = self.device.read8(CONTROL)?;
        let data = self.device.read8(DATA)?;
        message.reply(&[self.id, control, data])
    }
}
