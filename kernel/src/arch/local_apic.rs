//! The local APIC (xAPIC, registers at QEMU's and the PC's default base):
//! where message-signalled interrupts arrive. The kernel software-enables it
//! and signals end of interrupt to it for the MSI-X vectors; the 8259's
//! lines keep arriving through LINT0 (ExtINT), which needs no end of
//! interrupt here.

use crate::mm::device_memory::DeviceRange;
use crate::mm::paging::{MapError, MmioRegion, map_mmio};
use spin::Once;

/// Physical base of the registers.
const BASE: u64 = 0xfee0_0000;
const ID: u64 = 0x20;
const END_OF_INTERRUPT: u64 = 0xb0;
const SPURIOUS_VECTOR: u64 = 0xf0;
/// Spurious-interrupt vector register: APIC software enable.
const SOFTWARE_ENABLE: u32 = 1 << 8;
/// The vector of spurious interrupts: the last, which nothing else uses.
pub const SPURIOUS: u8 = 0xff;

/// The mapped registers and this CPU's APIC id, once enabled.
static APIC: Once<(MmioRegion, u8)> = Once::new();

/// Maps the registers, software-enables the APIC (spurious vector
/// [`SPURIOUS`]) and returns this CPU's APIC id. Call once, interrupts off.
///
/// # Errors
/// The mapping's.
pub fn initialise() -> Result<u8, MapError> {
    if let Some((_, id)) = APIC.get() {
        return Ok(*id);
    }
    let registers = map_mmio(&DeviceRange::new(BASE, 0x1000)?)?;
    let id = (registers.read::<u32>(ID).unwrap_or(0) >> 24) as u8;
    registers.write::<u32>(SPURIOUS_VECTOR, SOFTWARE_ENABLE | u32::from(SPURIOUS));
    Ok(APIC.call_once(|| (registers, id)).1)
}

/// This CPU's APIC id, once [`initialise`] succeeded.
pub fn id() -> Option<u8> {
    APIC.get().map(|(_, id)| *id)
}

/// Signals end of interrupt for the vector being handled.
pub fn end_of_interrupt() {
    if let Some((registers, _)) = APIC.get() {
        registers.write::<u32>(END_OF_INTERRUPT, 0);
    }
}
