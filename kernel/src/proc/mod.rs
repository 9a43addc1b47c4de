//! Native ring-3 processes: ELF executables from the boot archive, each in its
//! own address space with one thread, entering the kernel through `SYSCALL`.
//!
//! [`elf`], [`abi`], [`exit`] (how a process ended) and [`grant`] (what a process may touch) are
//! hardware-free (host-tested); `kernel` loads
//! processes, dispatches syscalls and contains their faults; `devices` holds
//! the device syscalls (IRQ routes, MMIO maps, port-grant queries), `pci`
//! the granted PCI function's and `dma` the DMA buffers'.
#![forbid(unsafe_code)]

pub mod abi;
pub mod charge;
pub mod elf;
pub mod exit;
pub mod grant;

#[cfg(target_os = "none")]
mod devices;
#[cfg(target_os = "none")]
mod dma;
#[cfg(target_os = "none")]
mod kernel;
#[cfg(target_os = "none")]
mod loans;
#[cfg(target_os = "none")]
mod pci;

#[cfg(target_os = "none")]
pub use devices::deliver_irq;

pub use exit::ExitReason;
pub use grant::ProcessGrant;
#[cfg(target_os = "none")]
pub use kernel::*;
