//! ABI v1 PCI calls for a native process: its granted function (the record
//! the kernel sent at start), that function's configuration space through
//! the `pci_config_*` syscalls, its memory BARs mapped as MMIO regions, its
//! line routed as an IRQ. Checks and error codes as in
//! `wasm-host/src/calls/pci.rs`.

use super::process::{conclude, conclude64, with};
use super::syscall::syscall;
use super::table::Entry;
use cella_abi::pci::{config_access_valid, config_write_allowed};
use cella_abi::syscalls::{
    IRQ_ROUTE, MMIO_MAP_RANGE, MSIX_ROUTE, PCI_CONFIG_READ, PCI_CONFIG_WRITE, PORTS_GRANTED,
};
use cella_abi::{CapabilityKind, ErrorCode, HostFunction};
use cella_interfaces::pci::{BarKind, Function};

/// The granted function, if `handle` names the device capability.
fn device(handle: i32) -> Result<Function, ErrorCode> {
    with(|state| {
        state.table.resolve(handle, CapabilityKind::PciDevice)?;
        state.device.ok_or(ErrorCode::DeviceError)
    })
    .unwrap_or(Err(ErrorCode::Busy))
}

/// `(offset, width)` of a configuration access, checked as the Wasm host does.
fn access(offset: i32, width: i32) -> Result<(u64, u64), ErrorCode> {
    let width = u32::try_from(width)
        .ok()
        .filter(|width| matches!(width, 1 | 2 | 4))
        .ok_or(ErrorCode::BadArgument)?;
    let offset = u32::try_from(offset)
        .ok()
        .filter(|offset| *offset < cella_abi::pci::CONFIG_SPACE_BYTES)
        .ok_or(ErrorCode::BadArgument)?;
    if !config_access_valid(offset, width) {
        return Err(ErrorCode::Misaligned);
    }
    Ok((u64::from(offset), u64::from(width)))
}

pub(crate) fn pci_config_read(handle: i32, offset: i32, width: i32) -> i64 {
    let result = device(handle)
        .and_then(|_| access(offset, width))
        .and_then(|(offset, width)| {
            let value = syscall(PCI_CONFIG_READ, [offset, width, 0, 0, 0]);
            u32::try_from(value)
                .map(i64::from)
                .map_err(|_| ErrorCode::DeviceError)
        });
    conclude64(HostFunction::PciConfigRead, result)
}

pub(crate) fn pci_config_write(handle: i32, offset: i32, width: i32, value: i32) -> i32 {
    let result = device(handle)
        .and_then(|_| access(offset, width))
        .and_then(|(offset, width)| {
            if !config_write_allowed(offset as u32, width as u32) {
                return Err(ErrorCode::Denied);
            }
            match syscall(
                PCI_CONFIG_WRITE,
                [offset, width, u64::from(value as u32), 0, 0],
            ) {
                0 => Ok(0),
                _ => Err(ErrorCode::DeviceError),
            }
        });
    conclude(HostFunction::PciConfigWrite, result)
}

pub(crate) fn pci_bar(handle: i32, index: i32) -> i32 {
    let result = device(handle).and_then(|function| {
        let index = usize::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
        let bar = function.bars.get(index).ok_or(ErrorCode::BadArgument)?;
        if !matches!(bar.kind, BarKind::Memory32 | BarKind::Memory64) {
            return Err(ErrorCode::NotFound);
        }
        let mapped = syscall(MMIO_MAP_RANGE, [bar.address, bar.size, 0, 0, 0]);
        let address = u64::try_from(mapped).map_err(|_| ErrorCode::DeviceError)?;
        with(|state| {
            state.table.insert(Entry::Mmio {
                base: bar.address,
                length: bar.size,
                address,
            })
        })
        .unwrap_or(Err(ErrorCode::Busy))
    });
    conclude(HostFunction::PciBar, result)
}

pub(crate) fn pci_io_bar(handle: i32, index: i32) -> i32 {
    let result = device(handle).and_then(|function| {
        let index = usize::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
        let bar = function.bars.get(index).ok_or(ErrorCode::BadArgument)?;
        if bar.kind != BarKind::Io {
            return Err(ErrorCode::NotFound);
        }
        let base = u16::try_from(bar.address).map_err(|_| ErrorCode::DeviceError)?;
        let count = u32::try_from(bar.size).map_err(|_| ErrorCode::DeviceError)?;
        // The kernel opened the BAR's ports with the rest of the grant.
        if syscall(PORTS_GRANTED, [u64::from(base), u64::from(count), 0, 0, 0]) != 0 {
            return Err(ErrorCode::Denied);
        }
        with(|state| state.table.insert(Entry::Ports { base, count }))
            .unwrap_or(Err(ErrorCode::Busy))
    });
    conclude(HostFunction::PciIoBar, result)
}

pub(crate) fn pci_irq(handle: i32) -> i32 {
    let result = device(handle).and_then(|function| {
        let line = function.irq_line;
        if !(1..16).contains(&line) {
            return Err(ErrorCode::NotFound);
        }
        let (known, served) = with(|state| (state.table.handle_for_irq(line), state.served))
            .ok_or(ErrorCode::Busy)?;
        if let Some(handle) = known {
            return Ok(handle);
        }
        if syscall(IRQ_ROUTE, [u64::from(line), served, 0, 0, 0]) != 0 {
            return Err(ErrorCode::DeviceError);
        }
        with(|state| state.table.insert(Entry::Irq { line })).unwrap_or(Err(ErrorCode::Busy))
    });
    conclude(HostFunction::PciIrq, result)
}

pub(crate) fn pci_msix(handle: i32, entry: i32) -> i32 {
    let result = device(handle).and_then(|_| {
        let entry = u16::try_from(entry).map_err(|_| ErrorCode::BadArgument)?;
        let served = with(|state| state.served).ok_or(ErrorCode::Busy)?;
        let routed = syscall(MSIX_ROUTE, [u64::from(entry), served, 0, 0, 0]);
        let line = u8::try_from(routed)
            .map_err(|_| ErrorCode::from_syscall_code(routed).unwrap_or(ErrorCode::DeviceError))?;
        with(|state| match state.table.handle_for_irq(line) {
            Some(known) => Ok(known),
            None => state.table.insert(Entry::Irq { line }),
        })
        .unwrap_or(Err(ErrorCode::Busy))
    });
    conclude(HostFunction::PciMsix, result)
}

/// # Safety
/// None needed: nothing is written (a process holds no `pci-bus`).
pub(crate) unsafe fn pci_bus_function(bus: i32, _index: i32, _pointer: i32, _capacity: i32) -> i32 {
    let result = with(|state| state.table.resolve(bus, CapabilityKind::PciBus))
        .unwrap_or(Err(ErrorCode::Busy))
        .and(Err(ErrorCode::Denied));
    conclude(HostFunction::PciBusFunction, result)
}
