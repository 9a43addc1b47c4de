//! tour: a Cella teaching module that uses the SDK's MMIO, DMA, timer and request wrappers against an imaginary device (not booted by default; its host test is the tour's checker).
//!
//! At `init` it reads the device's 64-bit id from MMIO, hands it a DMA
//! buffer holding a greeting, and arms a one-shot timer. When the timer
//! fires it rings the device's doorbell. Any request is answered with the
//! number of doorbells rung.
#![no_std]
#![forbid(unsafe_code)]

use cella_sdk::{DmaBuffer, Handle, Message, Mmio, Module, Result, Timer};

cella_sdk::module! {
    name: "tour",
    version: "1.0.0",
    module: Tour,
    capabilities: {
        registers: mmio(0xfeb00000, 0x1000),
        memory: dma(8192),
        tick: timer(),
    },
}

/// Device registers (offsets into the MMIO window).
const ID: u32 = 0x00; // 64-bit, read-only
const BUFFER_ADDRESS: u32 = 0x08; // 64-bit
const BUFFER_LENGTH: u32 = 0x10; // 32-bit
const DOORBELL: u32 = 0x14; // 8-bit
const GREETING: &[u8] = b"hello, device";
/// Ring the doorbell this long after start.
const DELAY_NANOSECONDS: u64 = 1_000_000;

/// The module's state.
pub struct Tour {
    registers: Mmio,
    tick: Timer,
    _buffer: DmaBuffer,
    rings: u32,
}

impl Module for Tour {
    type Capabilities = Capabilities;

    fn init(capabilities: Capabilities) -> Result<Tour> {
        let Capabilities {
            registers,
            memory,
            tick,
        } = capabilities;
        let id = registers.read64(ID)?;
        let buffer = memory.allocate(4096)?;
        buffer.write(0, GREETING)?;
        let mut check = [0u8; GREETING.len()];
        buffer.read(0, &mut check)?;
        let address = buffer.device_address()?;
        registers.write64(BUFFER_ADDRESS, address)?;
        registers.write32(BUFFER_LENGTH, GREETING.len() as u32)?;
        tick.set_after(DELAY_NANOSECONDS)?;
        cella_sdk::info!(
            "device {id:#x}: buffer at {address:#x} holds {:?}",
            core::str::from_utf8(&check).unwrap_or("?")
        );
        Ok(Tour {
            registers,
            tick,
            _buffer: buffer,
            rings: 0,
        })
    }

    fn on_timer(&mut self, timer: Handle) -> Result<()> {
        if self.tick.is(timer) {
            self.registers.write8(DOORBELL, 1)?;
            self.rings += 1;
            cella_sdk::info!("doorbell rung at {} ns", cella_sdk::time::now());
        }
        Ok(())
    }

    fn on_message(&mut self, message: Message) -> Result<()> {
        if message.is_request() {
            message.reply(&self.rings.to_le_bytes())?;
        }
        Ok(())
    }
}
