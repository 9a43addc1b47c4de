//! The running IOMMU: the unit, its tables and the attached devices, behind
//! one lock, and the API the rest of the kernel calls.

use super::context::ContextTables;
use super::device::source_id;
use super::dmar::{Coverage, RemappingUnit};
use super::frames::KernelTableMemory;
use super::hardware::{StartError, Unit};
use super::page_table::PageTable;
use super::registers::AddressWidth;
use super::{DmaFault, Domain, IommuError, PciAddress};
use alloc::vec::Vec;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Most devices attached at once (each has its own domain).
pub const MAX_DOMAINS: usize = 1024;

/// One attached device.
struct Attached {
    device: PciAddress,
    domain: u16,
    table: PageTable,
}

struct Iommu {
    unit: Unit,
    memory: KernelTableMemory,
    contexts: ContextTables,
    width: AddressWidth,
    coverage: Coverage,
    /// Highest domain id the kernel hands out.
    last_domain: u16,
    attached: Vec<Attached>,
}

static IOMMU: Mutex<Option<Iommu>> = Mutex::new(None);

fn with_iommu<T>(
    action: impl FnOnce(&mut Iommu) -> Result<T, IommuError>,
) -> Result<T, IommuError> {
    without_interrupts(|| match IOMMU.lock().as_mut() {
        Some(iommu) => action(iommu),
        None => Err(IommuError::NotPresent),
    })
}

/// What the boot reports about a unit it brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    pub register_base: u64,
    /// (major, minor).
    pub version: (u32, u32),
    pub width: AddressWidth,
}

/// Brings the unit up with an empty root table and turns translation on:
/// from then on a device's DMA reaches only what [`map`] grants its domain.
/// Called once by the boot, after memory set-up.
///
/// # Errors
/// [`StartError`] says why; the kernel then runs without an IOMMU.
pub fn initialise(found: RemappingUnit) -> Result<Started, StartError> {
    let unit = Unit::open(found.register_base)?;
    let capabilities = unit.capabilities;
    log::debug!(
        "iommu: capability {:#018x}, extended capability {:#018x}",
        capabilities.capability,
        capabilities.extended
    );
    let width = capabilities
        .address_width()
        .ok_or(StartError::NoAddressWidth(capabilities.supported_widths()))?;
    let mut memory = KernelTableMemory {
        coherent: capabilities.coherent(),
    };
    let contexts = ContextTables::new(&mut memory).map_err(StartError::Command)?;
    unit.start(contexts.root()).map_err(StartError::Command)?;
    let started = Started {
        register_base: found.register_base,
        version: unit.version,
        width,
    };
    let last_domain = (capabilities.domain_count() - 1).min(MAX_DOMAINS as u32) as u16;
    without_interrupts(|| {
        *IOMMU.lock() = Some(Iommu {
            unit,
            memory,
            contexts,
            width,
            coverage: found.coverage,
            last_domain,
            attached: Vec::new(),
        });
    });
    Ok(started)
}

/// Whether a remapping unit is translating DMA.
pub fn present() -> bool {
    without_interrupts(|| IOMMU.lock().is_some())
}

impl Iommu {
    fn find(&self, domain: &Domain) -> Result<usize, IommuError> {
        self.attached
            .iter()
            .position(|entry| entry.domain == domain.id && entry.device == domain.device)
            .ok_or(IommuError::NotAttached(domain.device))
    }

    fn free_domain_id(&self) -> Option<u16> {
        // Domain id 0 is reserved when the unit runs in caching mode; never used.
        (1..=self.last_domain).find(|id| self.attached.iter().all(|entry| entry.domain != *id))
    }
}

/// Gives `device` a domain with an empty page table: until [`map`] grants
/// pages, its DMA stays blocked.
///
/// # Errors
/// [`IommuError::NotPresent`], [`IommuError::BadDevice`],
/// [`IommuError::NotCovered`], [`IommuError::AlreadyAttached`], [`IommuError::TooManyDomains`],
/// [`IommuError::OutOfMemory`], or [`IommuError::Timeout`] if the unit did
/// not confirm the invalidation (the device stays detached).
pub fn attach(device: PciAddress) -> Result<Domain, IommuError> {
    let source = source_id(device).ok_or(IommuError::BadDevice(device))?;
    with_iommu(|iommu| {
        if !iommu.coverage.covers(source) {
            return Err(IommuError::NotCovered(device));
        }
        if iommu.attached.iter().any(|entry| entry.device == device) {
            return Err(IommuError::AlreadyAttached(device));
        }
        let domain = iommu.free_domain_id().ok_or(IommuError::TooManyDomains)?;
        iommu
            .attached
            .try_reserve(1)
            .map_err(|_| IommuError::OutOfMemory)?;
        let table = PageTable::new(&mut iommu.memory, iommu.width)?;
        let attached =
            iommu
                .contexts
                .attach(&mut iommu.memory, device, table.root(), iommu.width, domain);
        if let Err(error) = attached {
            table.destroy(&mut iommu.memory);
            return Err(error);
        }
        // A unit in caching mode may hold the not-present entry: drop it.
        let invalidated = iommu
            .unit
            .invalidate_context_cache()
            .and_then(|()| iommu.unit.invalidate_domain(domain));
        if let Err(error) = invalidated {
            // A unit that does not answer may still read the table: its frames stay
            // allocated (the handle goes, the memory is never freed), a leak, not a hazard.
            let _ = iommu.contexts.detach(&mut iommu.memory, device);
            return Err(error);
        }
        iommu.attached.push(Attached {
            device,
            domain,
            table,
        });
        Ok(Domain { id: domain, device })
    })
}

/// Lets `domain`'s device reach the `length` bytes at I/O virtual address
/// `iova`, which lead to `physical`; writes only if `writable`. The kernel
/// passes `iova == physical` (see the module docs). Both addresses and the
/// length are whole pages; one call maps at most 1 GiB.
///
/// # Errors
/// [`IommuError::NotAttached`] for a detached domain, a bad range
/// ([`IommuError::Misaligned`], [`IommuError::BadLength`],
/// [`IommuError::OutOfRange`]), [`IommuError::AlreadyMapped`],
/// [`IommuError::OutOfMemory`]: nothing new is mapped then.
pub fn map(
    domain: &Domain,
    iova: u64,
    physical: u64,
    length: u64,
    writable: bool,
) -> Result<(), IommuError> {
    with_iommu(|iommu| {
        let index = iommu.find(domain)?;
        let entry = &mut iommu.attached[index];
        entry
            .table
            .map(&mut iommu.memory, iova, physical, length, writable)?;
        if iommu.unit.capabilities.caching_mode() {
            iommu.unit.invalidate_domain(domain.id)?;
        }
        Ok(())
    })
}

/// Takes the `length` bytes at `iova` away from `domain`'s device: clears
/// the entries, then invalidates the domain's IOTLB entries and waits for
/// the unit to confirm (draining DMA in flight where the unit can). When it
/// returns `Ok`, the device can no longer reach that memory.
///
/// # Errors
/// [`IommuError::NotAttached`], a bad range, [`IommuError::NotMapped`] (nothing
/// is cleared then), or [`IommuError::Timeout`]: the entries are cleared but
/// the unit did not confirm the invalidation, so the memory must not be reused.
pub fn unmap(domain: &Domain, iova: u64, length: u64) -> Result<(), IommuError> {
    with_iommu(|iommu| {
        let index = iommu.find(domain)?;
        iommu.attached[index]
            .table
            .unmap(&mut iommu.memory, iova, length)?;
        iommu.unit.invalidate_domain(domain.id)
    })
}

/// Takes `device`'s domain away: its context entry is cleared, the context
/// cache and the domain's IOTLB entries are invalidated, and its page tables
/// freed. Its DMA is blocked again.
///
/// # Errors
/// [`IommuError::NotPresent`], [`IommuError::NotAttached`], or
/// [`IommuError::Timeout`] (the device is detached, its tables are kept).
pub fn detach(device: PciAddress) -> Result<(), IommuError> {
    with_iommu(|iommu| {
        let index = iommu
            .attached
            .iter()
            .position(|entry| entry.device == device)
            .ok_or(IommuError::NotAttached(device))?;
        iommu.contexts.detach(&mut iommu.memory, device)?;
        let entry = iommu.attached.swap_remove(index);
        // On a timeout the tables stay allocated (as in `attach`), not freed under the unit.
        iommu
            .unit
            .invalidate_context_cache()
            .and_then(|()| iommu.unit.invalidate_domain(entry.domain))?;
        entry.table.destroy(&mut iommu.memory);
        Ok(())
    })
}

/// The DMA faults recorded since the last call, oldest records first; the
/// records and the overflow flag are cleared. Empty without an IOMMU.
///
/// The unit has few fault records (QEMU's has one) and records nothing new
/// while they are full, so the kernel should poll: after a device reports a
/// DMA error or a transfer that did not complete, and after tearing down a
/// device's mappings.
pub fn take_faults() -> Vec<DmaFault> {
    let mut faults = Vec::new();
    let _ = with_iommu(|iommu| {
        iommu.unit.take_faults(&mut faults);
        Ok(())
    });
    faults
}
