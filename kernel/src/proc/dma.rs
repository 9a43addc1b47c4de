//! DMA for native processes: buffers from the process's `dma` grant, mapped
//! into its address space, reachable by its granted PCI function, freed when
//! it frees them or ends. The same pool accounting as a module's: the
//! buffers alive at once add up to at most the grant.
#![forbid(unsafe_code)]

use super::abi::{E_DENIED, E_FAULT, E_INVALID, E_NO_MEMORY};
use super::kernel::{refuse, with_process};
use crate::mm::device_memory::DmaBuffer;
use crate::mm::layout::PAGE_SIZE;
use crate::module_host::device_access;
use alloc::vec::Vec;
use cella_wasm_host::abi::PciAddress;

/// Where a process's DMA buffers are mapped: below its MMIO window.
pub const USER_DMA_BASE: u64 = 0x5000_0000;
/// The end of that range.
const USER_DMA_END: u64 = super::kernel::USER_MMIO_BASE;

/// One mapped buffer and the bytes asked for (the budget counts those, as
/// a module's pool does; the buffer itself is whole pages).
struct Mapped {
    address: u64,
    buffer: DmaBuffer,
    requested: u64,
}

/// A buffer another holder lent with a call this process received, mapped
/// at `address` until the process answers the call (see `super::loans`).
pub(super) struct LentMapping {
    pub token: u64,
    pub address: u64,
    pub device_address: u64,
    pub size: u64,
}

impl LentMapping {
    /// Whole pages it takes.
    pub fn pages(&self) -> u64 {
        self.size.div_ceil(PAGE_SIZE)
    }
}

/// A process's DMA buffers, and the buffers lent to it. Dropped after its
/// address space (so nothing maps the frames any more), releasing each
/// from its device first.
#[derive(Default)]
pub struct ProcessDma {
    buffers: Vec<Mapped>,
    pub(super) lent: Vec<LentMapping>,
    pub(super) device: Option<PciAddress>,
}

impl ProcessDma {
    /// Buffers for `device` (the process's granted PCI function, if any).
    pub fn for_device(device: Option<PciAddress>) -> ProcessDma {
        ProcessDma {
            buffers: Vec::new(),
            lent: Vec::new(),
            device,
        }
    }

    /// Bytes allocated now, as asked for.
    pub fn used(&self) -> u64 {
        self.buffers.iter().map(|mapped| mapped.requested).sum()
    }

    /// The lowest address in the DMA range where `pages` pages fit between
    /// the buffers (own and lent) mapped now.
    pub(super) fn free_address(&self, pages: u64) -> Option<u64> {
        let mut taken: Vec<(u64, u64)> = self
            .buffers
            .iter()
            .map(|mapped| (mapped.address, mapped.address + mapped.buffer.size()))
            .chain(
                self.lent
                    .iter()
                    .map(|lent| (lent.address, lent.address + lent.pages() * PAGE_SIZE)),
            )
            .collect();
        taken.sort_unstable();
        let length = pages.checked_mul(PAGE_SIZE)?;
        let mut candidate = USER_DMA_BASE;
        for (start, end) in taken {
            if candidate + length <= start {
                break;
            }
            candidate = candidate.max(end);
        }
        (candidate.checked_add(length)? <= USER_DMA_END).then_some(candidate)
    }
}

impl Drop for ProcessDma {
    fn drop(&mut self) {
        for mapped in self.buffers.drain(..) {
            device_access::release_for(self.device, mapped.buffer);
        }
        for lent in self.lent.drain(..) {
            crate::module_host::dma_loans::give_back(self.device, lent.device_address);
        }
    }
}

/// `dma_alloc(size, device_address_pointer) -> address`.
pub(super) fn allocate(size: u64, device_address_pointer: u64) -> Result<i64, i64> {
    if size == 0 || size > u64::from(u32::MAX) {
        return Err(E_INVALID);
    }
    let pages = size.div_ceil(PAGE_SIZE);
    let (budget, used, device, address) = with_process(|process| {
        (
            process.grant.grants.dma_budget(),
            process.dma.used(),
            process.dma.device,
            process.dma.free_address(pages),
        )
    })
    .ok_or(E_FAULT)?;
    if used.saturating_add(size) > budget {
        refuse(&alloc::format!(
            "DMA of {size} bytes: over its grant of {budget} bytes ({used} in use)"
        ));
        return Err(if budget == 0 { E_DENIED } else { E_NO_MEMORY });
    }
    let address = address.ok_or(E_NO_MEMORY)?;
    let buffer = device_access::allocate_for(device, size).ok_or(E_NO_MEMORY)?;
    let device_address = buffer.device_address();
    let outcome = with_process(|process| {
        process
            .space
            .write(device_address_pointer, &device_address.to_le_bytes())
            .map_err(|_| E_FAULT)?;
        process
            .space
            .map_dma(address, &buffer)
            .map_err(|_| E_NO_MEMORY)?;
        Ok(())
    })
    .unwrap_or(Err(E_FAULT));
    match outcome {
        Ok(()) => {
            with_process(|process| {
                process.dma.buffers.push(Mapped {
                    address,
                    buffer,
                    requested: size,
                })
            });
            Ok(address as i64)
        }
        Err(error) => {
            device_access::release_for(device, buffer);
            Err(error)
        }
    }
}

/// `dma_free(address)`.
pub(super) fn free(address: u64) -> Result<i64, i64> {
    let taken = with_process(|process| {
        let index = process
            .dma
            .buffers
            .iter()
            .position(|mapped| mapped.address == address)?;
        let mapped = process.dma.buffers.swap_remove(index);
        process.space.unmap_dma(mapped.address, &mapped.buffer);
        Some((process.dma.device, mapped.buffer))
    })
    .flatten();
    match taken {
        Some((device, buffer)) => {
            device_access::release_for(device, buffer);
            Ok(0)
        }
        None => Err(E_INVALID),
    }
}
