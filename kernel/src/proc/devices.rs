//! Device syscalls of native processes: IRQ lines routed to a process as
//! notifications, MMIO grants mapped into it, and the port-grant query (the
//! ports themselves open in the TSS I/O bitmap, see `kernel`).
//!
//! Every call checks the process's grant first; nothing is touched otherwise.

use super::abi::{E_DENIED, E_FAULT, E_INVALID};
use super::kernel::{
    create_owned_endpoint, destroy_owned_endpoint, endpoint_of, refuse, with_process,
};
use crate::ipc::{self, Rights};
use crate::mm::device_memory::DeviceRange;
use crate::mm::layout::PAGE_SIZE;
use crate::sched::{self, ThreadId};
use cella_wasm_host::abi::PciAddress;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// IRQ line (the 8259's and the MSI-X vectors) → (endpoint the line's
/// notifications go to, thread of the owning process); 0: none.
static IRQ_ROUTES: Mutex<[(ipc::EndpointId, ThreadId); crate::irq::LINES as usize]> =
    Mutex::new([(0, 0); crate::irq::LINES as usize]);

/// Called by the IRQ handler (interrupts off) for a masked device line: if a
/// process holds it, queue the notification `[line]` for it and return
/// `true`. The line stays masked until the process acknowledges it.
pub fn deliver_irq(line: u8) -> bool {
    let Some(&(endpoint, _)) = IRQ_ROUTES.lock().get(usize::from(line)) else {
        return false;
    };
    if endpoint == 0 {
        return false;
    }
    if ipc::notify(endpoint, &[line]).is_err() {
        log::warn!("IRQ {line}: the holding process's queue is full; line stays masked");
    }
    true
}

/// `msix_route` for the granted function at `function`: an MSI-X vector
/// for `entry`, routed to the endpoint of `handle` (masked); the line this
/// thread holds for that entry already, if it does.
pub(super) fn route_msix(function: PciAddress, entry: u16, handle: u64) -> Result<i64, i64> {
    let endpoint = endpoint_of(handle, Rights::RECEIVE)?;
    let me = sched::current();
    let held = without_interrupts(|| {
        let routes = IRQ_ROUTES.lock();
        (crate::irq::MSI_FIRST_LINE..crate::irq::LINES).find(|&line| {
            routes[usize::from(line)].1 == me
                && routes[usize::from(line)].0 != 0
                && crate::pci_bus::vectors::route(line)
                    .is_some_and(|route| (route.function, route.entry) == (function, entry))
        })
    });
    if let Some(line) = held {
        return Ok(i64::from(line));
    }
    let line = crate::pci_bus::vectors::attach(function, entry).map_err(|error| {
        refuse(&alloc::format!("MSI-X entry {entry}: {error}"));
        error.syscall_code()
    })?;
    if let Err(error) = take_route(line, endpoint) {
        crate::irq::revoke(line);
        return Err(error);
    }
    Ok(i64::from(line))
}

/// Masks and frees every line `thread`'s process held (it is ending).
pub(super) fn release_irqs(thread: ThreadId) {
    let mut routes = IRQ_ROUTES.lock();
    for (line, route) in routes.iter_mut().enumerate() {
        if route.0 != 0 && route.1 == thread {
            *route = (0, 0);
            crate::irq::revoke(line as u8);
        }
    }
}

/// A device line number (1..=15) the process is granted.
fn granted_line(line: u64) -> Result<u8, i64> {
    let line = u8::try_from(line)
        .ok()
        .filter(|&line| line > 0 && line < 16)
        .ok_or(E_INVALID)?;
    if with_process(|process| process.grant.grants.holds_irq(line)) != Some(true) {
        refuse(&alloc::format!("IRQ {line}: not granted"));
        return Err(E_DENIED);
    }
    Ok(line)
}

/// Whether the current thread may take `line` (no other thread holds it).
fn route_free(line: u8) -> bool {
    let me = sched::current();
    without_interrupts(|| {
        let route = IRQ_ROUTES.lock()[usize::from(line)];
        route.0 == 0 || route.1 == me
    })
}

/// Routes `line` to `endpoint` for the current thread unless another holds it.
fn take_route(line: u8, endpoint: ipc::EndpointId) -> Result<(), i64> {
    let me = sched::current();
    without_interrupts(|| {
        let mut routes = IRQ_ROUTES.lock();
        let route = &mut routes[usize::from(line)];
        if route.0 != 0 && route.1 != me {
            return Err(E_DENIED);
        }
        *route = (endpoint, me);
        Ok(())
    })
}

/// A line routed to the current thread's process.
fn held_line(line: u64) -> Result<u8, i64> {
    let me = sched::current();
    u8::try_from(line)
        .ok()
        .filter(|&line| {
            without_interrupts(|| {
                IRQ_ROUTES
                    .lock()
                    .get(usize::from(line))
                    .is_some_and(|route| route.0 != 0 && route.1 == me)
            })
        })
        .ok_or(E_DENIED)
}

/// `irq_attach(line) -> handle`: a new endpoint for the line, unmasked at
/// once. The endpoint and handle are charged to the process; if any step
/// fails, none of them is left behind.
pub(super) fn attach_irq(line: u64) -> Result<i64, i64> {
    let line = granted_line(line)?;
    if !route_free(line) {
        return Err(E_DENIED);
    }
    let (endpoint, handle) = create_owned_endpoint(None, Rights::RECEIVE)?;
    if let Err(error) = take_route(line, endpoint) {
        destroy_owned_endpoint(endpoint, handle);
        return Err(error);
    }
    crate::irq::set_enabled(line, true);
    Ok(handle)
}

/// `irq_route(line, handle)`: the line's notifications go to an endpoint the
/// process receives on; the line stays masked.
pub(super) fn route_irq(line: u64, handle: u64) -> Result<i64, i64> {
    let line = granted_line(line)?;
    let endpoint = endpoint_of(handle, Rights::RECEIVE)?;
    take_route(line, endpoint)?;
    Ok(0)
}

/// `irq_set_enabled(line, enabled)` on a held line.
pub(super) fn set_irq_enabled(line: u64, enabled: u64) -> Result<i64, i64> {
    let line = held_line(line)?;
    let enabled = match enabled {
        0 => false,
        1 => true,
        _ => return Err(E_INVALID),
    };
    crate::irq::set_enabled(line, enabled);
    Ok(0)
}

/// `irq_ack(line)`: unmasks a held line again if it is enabled.
pub(super) fn acknowledge_irq(line: u64) -> Result<i64, i64> {
    let line = held_line(line)?;
    crate::irq::acknowledge(line);
    Ok(0)
}

/// `ports_granted(first, count)`: 0 if one port grant covers the range.
pub(super) fn ports_granted(first: u64, count: u64) -> Result<i64, i64> {
    let end = first.checked_add(count).ok_or(E_INVALID)?;
    if count == 0 || end > 0x1_0000 {
        return Err(E_INVALID);
    }
    let covered = with_process(|process| process.grant.grants.covers_ports(first, count));
    if covered == Some(true) {
        Ok(0)
    } else {
        refuse(&alloc::format!("ports {first:#x}+{count}: not granted"));
        Err(E_DENIED)
    }
}

/// `mmio_map(index) -> address`: maps MMIO grant `index` (once) and returns
/// the user address of its physical base.
pub(super) fn map_mmio_grant(index: u64) -> Result<i64, i64> {
    let index = usize::try_from(index).map_err(|_| E_INVALID)?;
    let granted = with_process(|process| process.grant.grants.mmio().get(index).copied()).flatten();
    let &(physical, length) = granted.as_ref().ok_or(E_DENIED)?;
    // Spawn refused grants the kernel's device check refuses; checked again
    // here (outside `with_process`: `refuse` takes the process table too).
    let device = DeviceRange::new(physical, length).map_err(|error| {
        refuse(&alloc::format!("MMIO grant {index}: {error}"));
        E_DENIED
    })?;
    with_process(|process| {
        if let Some(&address) = process.mapped_mmio.get(&index) {
            return Ok(address as i64);
        }
        let (first, pages) = device.pages();
        let base = process.next_mmio;
        process
            .space
            .map_device(base, &device)
            .map_err(|_| E_INVALID)?;
        process.next_mmio += (pages + 1) * PAGE_SIZE;
        let address = base + (physical - first);
        process.mapped_mmio.insert(index, address);
        Ok(address as i64)
    })
    .unwrap_or(Err(E_FAULT))
}

/// `mmio_map_range(physical, length) -> address`: maps the MMIO grant that
/// holds the whole range and returns the user address of `physical`.
pub(super) fn map_mmio_range(physical: u64, length: u64) -> Result<i64, i64> {
    if length == 0 || physical.checked_add(length).is_none() {
        return Err(E_INVALID);
    }
    let found = with_process(|process| {
        let grants = &process.grant.grants;
        let index = grants.mmio_grant_covering(physical, length)?;
        grants.mmio().get(index).map(|&(base, _)| (index, base))
    })
    .flatten();
    let Some((index, base)) = found else {
        refuse(&alloc::format!(
            "MMIO {physical:#x}+{length:#x}: not granted"
        ));
        return Err(E_DENIED);
    };
    let mapped = map_mmio_grant(index as u64)?;
    Ok(mapped + (physical - base) as i64)
}
