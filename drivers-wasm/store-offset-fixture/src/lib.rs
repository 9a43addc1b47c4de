//! store-offset-fixture: a test fixture (in no system manifest, never booted) whose rustc output has the store wasmi 2.0.0's translator panics on.
//!
//! Each device is a 64 KiB ring buffer followed by a pointer to the device
//! itself. Linking a device (`device.me = device`, the safe form of
//! `let d = devs.add(i); (*d).me = d;`) compiles at opt-level "s" (set for
//! this package in the workspace's Cargo.toml) to
//! `local.tee X; local.get X; i32.store offset=65536`: address and value are
//! the same local. The loader rewrites that store; the device tests
//! (drivers-wasm/device-tests/tests/store_offset_fixture.rs) load and run it.
//!
//! `init` links every device. A message of one byte `i` links device `i`
//! again and answers 8 bytes: the stored pointer and the device's address
//! computed another way (both little-endian u32); an index out of range is
//! answered with nothing.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{Message, Module, Result, Slot};

cella_sdk::module! {
    name: "store-offset-fixture",
    version: "1.0.0",
    module: Fixture,
    capabilities: {},
}

const RING_BYTES: usize = 65536;
const DEVICES: usize = 2;

/// A device: a ring buffer, then a pointer to itself.
#[repr(C)]
pub struct Device {
    ring: [u8; RING_BYTES],
    me: usize,
}

impl Device {
    const EMPTY: Device = Device {
        ring: [0; RING_BYTES],
        me: 0,
    };
}

/// The devices live in a static: 128 KiB would not fit the shadow stack as
/// a value moved through `init`.
static TABLE: Slot<[Device; DEVICES]> = Slot::new([Device::EMPTY; DEVICES]);

/// Points device `index` at itself; its address, if there is such a device.
/// The table's address goes through `black_box`, as a pointer from elsewhere
/// would: otherwise LLVM folds the static's address into the store's offset
/// and the address and value are no longer the same local.
fn link(devices: &mut [Device], index: usize) -> Option<usize> {
    let devices = core::hint::black_box(devices);
    let device = devices.get_mut(index)?;
    device.me = core::ptr::from_mut(device) as usize;
    Some(device.me)
}

/// The module's state (the devices are in `TABLE`).
pub struct Fixture;

impl Module for Fixture {
    type Capabilities = Capabilities;

    fn init(_capabilities: Capabilities) -> Result<Fixture> {
        TABLE.with(|devices| {
            for index in 0..DEVICES {
                link(devices, index);
            }
        });
        Ok(Fixture)
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        let mut buffer = [0u8; 1];
        let index = usize::from(message.read(&mut buffer)?.first().copied().unwrap_or(0xff));
        let answer = TABLE.with(|devices| {
            let stored = link(devices, index)?;
            let ring = devices.get(index)?.ring.as_ptr() as usize;
            Some((stored, ring))
        });
        let mut reply = [0u8; 8];
        let length = match answer.flatten() {
            Some((stored, address)) => {
                reply[..4].copy_from_slice(&(stored as u32).to_le_bytes());
                reply[4..].copy_from_slice(&(address as u32).to_le_bytes());
                8
            }
            None => 0,
        };
        if message.is_request() {
            message.reply(&reply[..length])?;
        }
        Ok(())
    }
}
