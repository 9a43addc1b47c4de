//! PCI configuration space through configuration mechanism #1 (ports
//! 0xcf8, the address, and 0xcfc-0xcff, the data): the one way the kernel
//! and, through it, the modules reach configuration space.
//!
//! The ports are the kernel's own (`KERNEL_PORTS`): no module or process is
//! granted them, so nobody can change the address between the kernel's
//! write of it and its access of the data. Each access runs with interrupts
//! off under one lock, so two kernel threads never interleave either.

use cella_wasm_host::abi::PciAddress;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::instructions::port::Port;

const ADDRESS_PORT: u16 = 0xcf8;
const DATA_PORT: u16 = 0xcfc;

/// Held across the address write and the data access.
static CONFIG: Mutex<()> = Mutex::new(());

/// The value of the address port for `offset` (its dword) of `address`.
fn selector(address: PciAddress, offset: u8) -> u32 {
    0x8000_0000 | u32::from(address.packed()) << 8 | u32::from(offset & 0xfc)
}

/// Reads `width` bytes (1, 2 or 4, aligned) at `offset` of `address`'s
/// configuration space; all ones where no function answers.
pub fn read(address: PciAddress, offset: u8, width: u32) -> u32 {
    let shift = 8 * u32::from(offset & 3);
    let dword = without_interrupts(|| {
        let _held = CONFIG.lock();
        // SAFETY: ports 0xcf8 and 0xcfc are the configuration mechanism,
        // which only this file drives (they are in KERNEL_PORTS); selecting a
        // register and reading it touches no memory.
        unsafe {
            Port::<u32>::new(ADDRESS_PORT).write(selector(address, offset));
            Port::<u32>::new(DATA_PORT).read()
        }
    });
    match width {
        1 => (dword >> shift) & 0xff,
        2 => (dword >> shift) & 0xffff,
        _ => dword,
    }
}

/// Writes `width` bytes (1, 2 or 4, aligned) of `value` at `offset` of
/// `address`'s configuration space. The caller decided the write is
/// allowed (the Wasm host refuses BAR and ROM writes of drivers).
pub fn write(address: PciAddress, offset: u8, width: u32, value: u32) {
    let data = DATA_PORT + u16::from(offset & 3);
    without_interrupts(|| {
        let _held = CONFIG.lock();
        // SAFETY: as in `read`; the data port of a narrower access is the
        // byte lane of `offset` inside 0xcfc-0xcff, still the mechanism's.
        unsafe {
            Port::<u32>::new(ADDRESS_PORT).write(selector(address, offset));
            match width {
                1 => Port::<u8>::new(data).write(value as u8),
                2 => Port::<u16>::new(data).write(value as u16),
                _ => Port::<u32>::new(DATA_PORT).write(value),
            }
        }
    });
}
