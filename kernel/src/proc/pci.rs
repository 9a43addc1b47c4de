//! The PCI syscalls of native processes: the process's granted function
//! (its first resolved `device` grant) and that function's configuration
//! space, with the same rules as a module's `pci` capability.
#![forbid(unsafe_code)]

use super::abi::{E_DENIED, E_FAULT, E_INVALID, E_NOT_FOUND, E_TOO_LONG};
use super::kernel::{refuse, with_process};
use cella_interfaces::pci::Function;
use cella_interfaces::wire::encode;
use cella_wasm_host::abi::PciAddress;
use cella_wasm_host::abi::pci::{config_access_valid, config_write_allowed, write_touches_msix};

/// The address of the process's granted PCI function.
fn granted() -> Result<PciAddress, i64> {
    with_process(|process| {
        process
            .grant
            .grants
            .devices()
            .iter()
            .find_map(|&(_, _, slot)| slot)
    })
    .flatten()
    .ok_or(E_NOT_FOUND)
}

/// `msix_route(entry, handle) -> line`: a kernel vector for MSI-X table
/// entry `entry` of the granted function, its notifications sent to the
/// endpoint of `handle`, the entry masked; the same line again for an entry
/// the process holds already.
pub(super) fn route_msix(entry: u64, handle: u64) -> Result<i64, i64> {
    let address = granted()?;
    let entry = u16::try_from(entry).map_err(|_| E_INVALID)?;
    super::devices::route_msix(address, entry, handle)
}

/// `pci_function(pointer, capacity) -> length`.
pub(super) fn function(pointer: u64, capacity: u64) -> Result<i64, i64> {
    let address = granted()?;
    let found = crate::pci_bus::found();
    let function: &Function = found
        .iter()
        .find(|function| {
            (function.bus, function.device, function.function)
                == (address.bus, address.device, address.function)
        })
        .ok_or(E_NOT_FOUND)?;
    // As a grant sees it: without the pages of its MSI-X table.
    let function = crate::pci_bus::granted_function(function, crate::pci_bus::found_msix());
    let mut record = [0u8; 256];
    let length = encode(&function, &mut record).map_err(|_| E_INVALID)?;
    if (length as u64) > capacity {
        return Err(E_TOO_LONG);
    }
    let bytes = record.get(..length).ok_or(E_INVALID)?;
    with_process(|process| process.space.write(pointer, bytes).map_err(|_| E_FAULT))
        .unwrap_or(Err(E_FAULT))?;
    Ok(length as i64)
}

/// The offset and width of a configuration access, checked.
fn access(offset: u64, width: u64) -> Result<(u8, u32), i64> {
    let width = u32::try_from(width).map_err(|_| E_INVALID)?;
    let offset = u32::try_from(offset).map_err(|_| E_INVALID)?;
    if !config_access_valid(offset, width) {
        return Err(E_INVALID);
    }
    Ok((offset as u8, width))
}

/// `pci_config_read(offset, width) -> value`.
pub(super) fn config_read(offset: u64, width: u64) -> Result<i64, i64> {
    let address = granted()?;
    let (offset, width) = access(offset, width)?;
    Ok(i64::from(crate::arch::pci_config::read(
        address, offset, width,
    )))
}

/// `pci_config_write(offset, width, value)`.
pub(super) fn config_write(offset: u64, width: u64, value: u64) -> Result<i64, i64> {
    let address = granted()?;
    let (offset, width) = access(offset, width)?;
    if !config_write_allowed(u32::from(offset), width) {
        refuse(&alloc::format!(
            "PCI configuration write at {offset:#x}: a BAR or the ROM address"
        ));
        return Err(E_DENIED);
    }
    let msix = crate::pci_bus::msix_of(address).map(|(_, found)| found.capability);
    if msix.is_some_and(|capability| write_touches_msix(capability, u32::from(offset), width)) {
        refuse(&alloc::format!(
            "PCI configuration write at {offset:#x}: the MSI-X capability, which the kernel programs"
        ));
        return Err(E_DENIED);
    }
    crate::arch::pci_config::write(address, offset, width, value as u32);
    Ok(0)
}
