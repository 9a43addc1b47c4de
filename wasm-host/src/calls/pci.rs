//! `pci_config_read` / `pci_config_write` / `pci_bar` / `pci_irq` /
//! `pci_msix` on the one PCI function a module was granted, and
//! `pci_bus_function` on the list of functions the kernel found.
//!
//! A device capability reaches its own function only: the address comes
//! from the grant, never from the module. Writes that would move one of
//! its windows (a BAR, the ROM address) are refused, so the windows the
//! kernel checked at boot stay where they are; so are writes to the MSI-X
//! capability, which the kernel programs alone. The BAR and interrupt
//! capabilities handed out are the resolved grant's own windows and line,
//! so every later MMIO access and interrupt is checked as for any other.

use crate::access::Access;
use crate::capabilities::Capability;
use crate::outbox::Outbox;
use crate::platform::{Platform, Width};
use crate::state::{State, guest_range};
use cella_abi::pci::{config_access_valid, config_write_allowed, write_touches_msix};
use cella_abi::{CapabilityKind, ErrorCode};
use cella_interfaces::wire::encode;
use cella_system::devices::{Bar, PciFunction};

/// The function behind a device handle.
fn function<P, O>(state: &State<P, O>, handle: i32) -> Result<&PciFunction, ErrorCode> {
    let slot = state
        .capabilities
        .resolve(handle, CapabilityKind::PciDevice)?;
    match state.capabilities.get(slot) {
        Some(Capability::PciDevice { function }) => Ok(function),
        _ => Err(ErrorCode::BadHandle),
    }
}

/// The width and offset of a configuration access, checked.
fn access(offset: i32, width: i32) -> Result<(u8, Width), ErrorCode> {
    let width = match width {
        1 => Width::Byte,
        2 => Width::Word,
        4 => Width::Dword,
        _ => return Err(ErrorCode::BadArgument),
    };
    let offset = u32::try_from(offset).map_err(|_| ErrorCode::BadArgument)?;
    if offset >= cella_abi::pci::CONFIG_SPACE_BYTES {
        return Err(ErrorCode::BadArgument);
    }
    if !config_access_valid(offset, width.bytes()) {
        return Err(ErrorCode::Misaligned);
    }
    Ok((offset as u8, width))
}

/// `pci_config_read(device, offset, width)`.
pub(crate) fn config_read<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    handle: i32,
    offset: i32,
    width: i32,
) -> Result<i64, ErrorCode> {
    let address = function(state, handle)?.address;
    let (offset, width) = access(offset, width)?;
    let value = state.platform.pci_config_read(address, offset, width);
    state.record(Access::PciConfigRead {
        address,
        offset,
        width,
        value,
    });
    Ok(i64::from(value))
}

/// `pci_config_write(device, offset, width, value)`.
pub(crate) fn config_write<P: Platform, O: Outbox>(
    state: &mut State<P, O>,
    handle: i32,
    offset: i32,
    width: i32,
    value: i32,
) -> Result<i32, ErrorCode> {
    let granted = function(state, handle)?;
    let (address, msix) = (granted.address, granted.msix_capability);
    let (offset, width) = access(offset, width)?;
    if !config_write_allowed(u32::from(offset), width.bytes())
        || msix.is_some_and(|capability| {
            write_touches_msix(capability, u32::from(offset), width.bytes())
        })
    {
        return Err(ErrorCode::Denied);
    }
    let value = width.truncate(u64::from(value as u32)) as u32;
    state
        .platform
        .pci_config_write(address, offset, width, value);
    state.record(Access::PciConfigWrite {
        address,
        offset,
        width,
        value,
    });
    Ok(0)
}

/// The handle of a capability equal to `capability`, inserting it if this
/// instance holds none yet: asking twice for the same BAR or line gives the
/// same handle and takes no second slot.
fn handle_for<P, O>(state: &mut State<P, O>, capability: Capability) -> Result<i32, ErrorCode> {
    match state.capabilities.handle_of(&capability) {
        Some(handle) => Ok(handle),
        None => state.capabilities.insert(capability),
    }
}

/// BAR `index` of the function behind a device handle.
fn granted_bar<P, O>(state: &State<P, O>, handle: i32, index: i32) -> Result<Bar, ErrorCode> {
    let index = usize::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
    function(state, handle)?
        .bars
        .get(index)
        .copied()
        .ok_or(ErrorCode::BadArgument)?
        .ok_or(ErrorCode::NotFound)
}

/// `pci_bar(device, index)`: the memory BAR as an MMIO capability.
pub(crate) fn bar<P, O>(
    state: &mut State<P, O>,
    handle: i32,
    index: i32,
) -> Result<i32, ErrorCode> {
    let Bar::Memory { base, length } = granted_bar(state, handle, index)? else {
        return Err(ErrorCode::NotFound);
    };
    handle_for(state, Capability::MmioRegion { base, length })
}

/// `pci_io_bar(device, index)`: the I/O BAR as a port-range capability.
pub(crate) fn io_bar<P, O>(
    state: &mut State<P, O>,
    handle: i32,
    index: i32,
) -> Result<i32, ErrorCode> {
    let Bar::Io { base, count } = granted_bar(state, handle, index)? else {
        return Err(ErrorCode::NotFound);
    };
    handle_for(state, Capability::PortRange { base, count })
}

/// `pci_irq(device)`: the function's interrupt line as an IRQ capability.
pub(crate) fn irq<P, O>(state: &mut State<P, O>, handle: i32) -> Result<i32, ErrorCode> {
    let line = function(state, handle)?.irq.ok_or(ErrorCode::NotFound)?;
    if let Some(handle) = state.capabilities.handle_for_irq(line) {
        return Ok(handle);
    }
    state.capabilities.insert(Capability::IrqLine {
        line,
        enabled: false,
    })
}

/// `pci_msix(device, entry)`: a kernel vector for MSI-X table entry
/// `entry` of the function, as an IRQ capability (the same one each time).
pub(crate) fn msix<P: Platform, O>(
    state: &mut State<P, O>,
    handle: i32,
    entry: i32,
) -> Result<i32, ErrorCode> {
    let granted = function(state, handle)?;
    let (address, has_msix) = (granted.address, granted.msix_capability.is_some());
    let entry = u16::try_from(entry).map_err(|_| ErrorCode::BadArgument)?;
    if !has_msix {
        return Err(ErrorCode::NotFound);
    }
    if let Some(handle) = state.capabilities.handle_for_msix_entry(entry) {
        return Ok(handle);
    }
    let line = state.platform.msix_attach(address, entry)?;
    let inserted = state.capabilities.insert(Capability::MsixVector {
        line,
        entry,
        enabled: false,
    });
    if inserted.is_err() {
        state.platform.msix_release(line);
    }
    inserted
}

/// `pci_bus_function(bus, index, pointer, capacity)`: the `index`-th
/// function found at boot, wire-encoded into linear memory.
pub(crate) fn bus_function<P: Platform, O: Outbox>(
    memory: &mut [u8],
    state: &mut State<P, O>,
    handle: i32,
    index: i32,
    pointer: i32,
    capacity: i32,
) -> Result<i32, ErrorCode> {
    let slot = state.capabilities.resolve(handle, CapabilityKind::PciBus)?;
    let Some(Capability::PciBus { functions }) = state.capabilities.get(slot) else {
        return Err(ErrorCode::BadHandle);
    };
    let index = usize::try_from(index).map_err(|_| ErrorCode::BadArgument)?;
    let capacity = u32::try_from(capacity).map_err(|_| ErrorCode::BadArgument)?;
    let range = guest_range(memory.len(), pointer, capacity)?;
    let function = *functions.get(index).ok_or(ErrorCode::NotFound)?;
    let destination = memory.get_mut(range).ok_or(ErrorCode::BadPointer)?;
    let mut record = [0u8; FUNCTION_RECORD_BYTES];
    let length = encode(&function, &mut record).map_err(|_| ErrorCode::DeviceError)?;
    state.pay_for_bytes(length)?;
    let target = destination.get_mut(..length).ok_or(ErrorCode::TooLong)?;
    let source = record.get(..length).ok_or(ErrorCode::DeviceError)?;
    target.copy_from_slice(source);
    i32::try_from(length).map_err(|_| ErrorCode::DeviceError)
}

/// More than one encoded `pci::Function` takes.
const FUNCTION_RECORD_BYTES: usize = 256;
