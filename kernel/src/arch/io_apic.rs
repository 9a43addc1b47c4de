//! The I/O APIC: where the legacy lines arrive when the MADT names one. The
//! kernel programs one redirection entry per pin it uses (fixed delivery to
//! the boot CPU, the line's vector, the pin's polarity and trigger), each
//! masked until the line's holder enables it; end of interrupt goes to the
//! local APIC. Every other pin stays masked.

use crate::mm::device_memory::DeviceRange;
use crate::mm::paging::{MapError, MmioRegion, map_mmio};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

const SELECT: u64 = 0x00;
const WINDOW: u64 = 0x10;
const VERSION: u32 = 0x01;
const FIRST_ENTRY: u32 = 0x10;
/// Redirection entry bit: masked.
const MASKED: u64 = 1 << 16;

/// The registers and the number of pins, once mapped.
static IO_APIC: Mutex<Option<(MmioRegion, u8)>> = Mutex::new(None);

fn read(registers: &MmioRegion, register: u32) -> u32 {
    registers.write::<u32>(SELECT, register);
    registers.read::<u32>(WINDOW).unwrap_or(0)
}

fn write(registers: &MmioRegion, register: u32, value: u32) {
    registers.write::<u32>(SELECT, register);
    registers.write::<u32>(WINDOW, value);
}

/// Maps the I/O APIC at `address` and masks every pin; returns its pin count.
///
/// # Errors
/// The mapping's.
pub fn initialise(address: u64) -> Result<u8, MapError> {
    without_interrupts(|| {
        let mut held = IO_APIC.lock();
        if let Some((_, pins)) = held.as_ref() {
            return Ok(*pins);
        }
        let registers = map_mmio(&DeviceRange::new(address, 0x20)?)?;
        let pins = ((read(&registers, VERSION) >> 16) & 0xff) as u8 + 1;
        for pin in 0..u32::from(pins) {
            write(&registers, FIRST_ENTRY + 2 * pin, MASKED as u32);
            write(&registers, FIRST_ENTRY + 2 * pin + 1, 0);
        }
        *held = Some((registers, pins));
        Ok(pins)
    })
}

/// Programs pin `pin` with `value` (from
/// `interrupt_routing::redirection_entry`); a pin past the last is ignored.
pub fn program(pin: u32, value: u64) {
    without_interrupts(|| {
        if let Some((registers, pins)) = IO_APIC.lock().as_ref()
            && pin < u32::from(*pins)
        {
            write(registers, FIRST_ENTRY + 2 * pin + 1, (value >> 32) as u32);
            write(registers, FIRST_ENTRY + 2 * pin, value as u32);
        }
    });
}

/// Masks or unmasks pin `pin` (interrupts off: the IRQ handler's path too).
pub fn set_masked(pin: u32, masked: bool) {
    if let Some((registers, pins)) = IO_APIC.lock().as_ref()
        && pin < u32::from(*pins)
    {
        let low = read(registers, FIRST_ENTRY + 2 * pin);
        let low = if masked {
            low | MASKED as u32
        } else {
            low & !(MASKED as u32)
        };
        write(registers, FIRST_ENTRY + 2 * pin, low);
    }
}
