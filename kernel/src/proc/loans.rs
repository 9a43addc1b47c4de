//! Buffers lent to a native process with a call it received
//! (`ipc::call_lending`): the `loan` syscall maps the buffer into the
//! process, read-only unless lent read-write, and into its PCI function's
//! IOMMU domain; answering the call (`reply`) or the process's end takes
//! both mappings away again. The lender's memory outlives them (see
//! `module_host::dma_loans`).
#![forbid(unsafe_code)]

use super::abi::{E_DENIED, E_FAULT, E_INVALID, E_NO_MEMORY, E_NOT_FOUND};
use super::dma::LentMapping;
use super::kernel::with_process;
use crate::ipc;
use crate::mm::layout::PAGE_SIZE;
use crate::module_host::dma_loans;
use crate::sched;

/// `loan(token, access, info_pointer) -> address`: maps the buffer lent
/// with call `token` (received by this thread and not answered) and writes
/// `[address, device address, size, writable]` (four 8-byte words) at the
/// pointer.
/// `access` 2 asks for a buffer lent read-write ([`E_NOT_FOUND`] if it was
/// lent read-only); 1 takes either. The same call asked again gives the
/// same mapping.
pub(super) fn map(token: u64, access: u64, info_pointer: u64) -> Result<i64, i64> {
    let needs_write = match access {
        1 => false,
        2 => true,
        _ => return Err(E_INVALID),
    };
    let loan = ipc::loan_for(token, sched::current()).ok_or(E_NOT_FOUND)?;
    if needs_write && !loan.writable {
        return Err(E_NOT_FOUND);
    }
    let pages = loan.size.div_ceil(PAGE_SIZE);
    let (known, device, address) = with_process(|process| {
        let known = process
            .dma
            .lent
            .iter()
            .find(|lent| lent.token == token)
            .map(|lent| lent.address);
        (known, process.dma.device, process.dma.free_address(pages))
    })
    .ok_or(E_FAULT)?;
    let address = match known {
        Some(address) => address,
        None => {
            let address = address.ok_or(E_NO_MEMORY)?;
            if !dma_loans::lend(device, loan.device_address, loan.size, loan.writable) {
                return Err(E_DENIED);
            }
            let mapped = with_process(|process| {
                process
                    .space
                    .map_lent(address, loan.device_address, pages, loan.writable)
                    .map_err(|_| E_NO_MEMORY)?;
                process.dma.lent.push(LentMapping {
                    token,
                    address,
                    device_address: loan.device_address,
                    size: loan.size,
                });
                Ok(())
            })
            .unwrap_or(Err(E_FAULT));
            if let Err(error) = mapped {
                dma_loans::give_back(device, loan.device_address);
                return Err(error);
            }
            address
        }
    };
    let mut info = [0u8; 32];
    info[..8].copy_from_slice(&address.to_le_bytes());
    info[8..16].copy_from_slice(&loan.device_address.to_le_bytes());
    info[16..24].copy_from_slice(&loan.size.to_le_bytes());
    info[24..].copy_from_slice(&u64::from(loan.writable).to_le_bytes());
    with_process(|process| {
        process
            .space
            .write(info_pointer, &info)
            .map_err(|_| E_FAULT)
    })
    .unwrap_or(Err(E_FAULT))?;
    Ok(address as i64)
}

/// The process answered call `token` (or tried to): the buffer lent with
/// it, if mapped, is unmapped from the process and its device.
pub(super) fn end(token: u64) {
    let ended = with_process(|process| {
        let index = process
            .dma
            .lent
            .iter()
            .position(|lent| lent.token == token)?;
        let lent = process.dma.lent.swap_remove(index);
        process.space.unmap_lent(lent.address, lent.pages());
        Some((process.dma.device, lent))
    })
    .flatten();
    if let Some((device, lent)) = ended {
        dma_loans::give_back(device, lent.device_address);
    }
}
