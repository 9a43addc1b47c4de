//! The state a PCI driver can leave behind in the devices: every function's
//! command register, BARs and interrupt line on bus 0, read by the kernel
//! through configuration mechanism #1. The campaign takes it at the start and
//! compares it after each fault; a change is device state outside the faulty
//! driver's memory (it can move another driver's MMIO window) and is counted,
//! then written back so that the next fault starts from the same devices.

use alloc::vec::Vec;
use cella_kernel::arch::pci_config;
use cella_wasm_host::abi::PciAddress;

/// Command/status, BAR0-BAR5, interrupt line/pin.
const REGISTERS: [u8; 8] = [0x04, 0x10, 0x14, 0x18, 0x1c, 0x20, 0x24, 0x3c];

fn address(device: u8, function: u8) -> PciAddress {
    PciAddress {
        bus: 0,
        device,
        function,
    }
}

fn read(device: u8, function: u8, register: u8) -> u32 {
    pci_config::read(address(device, function), register, 4)
}

fn write(device: u8, function: u8, register: u8, value: u32) {
    pci_config::write(address(device, function), register, 4, value);
}

/// The writable registers of every function present on bus 0.
#[derive(Clone, PartialEq, Eq)]
pub struct PciState {
    functions: Vec<(u8, u8, [u32; 8])>,
}

/// Reads it now.
pub fn read_all() -> PciState {
    let mut functions = Vec::new();
    for device in 0..32u8 {
        for function in 0..8u8 {
            if read(device, function, 0) & 0xffff == 0xffff {
                continue;
            }
            let mut registers = [0u32; 8];
            for (value, register) in registers.iter_mut().zip(REGISTERS) {
                *value = read(device, function, register);
            }
            functions.push((device, function, registers));
        }
    }
    PciState { functions }
}

impl PciState {
    /// How many functions differ from `now`; writes this state back into them.
    pub fn restore_into_changed(&self, now: &PciState) -> u64 {
        let mut changed = 0;
        for (device, function, registers) in &self.functions {
            let current = now
                .functions
                .iter()
                .find(|(d, f, _)| d == device && f == function)
                .map(|(_, _, current)| current);
            // The status half of 0x04 holds write-one-to-clear bits: compare the command half.
            let differs = match current {
                Some(current) => {
                    current
                        .iter()
                        .zip(registers)
                        .enumerate()
                        .any(|(index, (now, then))| {
                            if index == 0 {
                                now & 0xffff != then & 0xffff
                            } else {
                                now != then
                            }
                        })
                }
                None => true,
            };
            if differs {
                changed += 1;
                // BARs first with decoding off, then the command register.
                write(*device, *function, 0x04, registers[0] & 0xffff & !0b11);
                for (value, register) in registers.iter().zip(REGISTERS).skip(1) {
                    write(*device, *function, register, *value);
                }
                write(*device, *function, 0x04, registers[0] & 0xffff);
            }
        }
        changed
    }
}
