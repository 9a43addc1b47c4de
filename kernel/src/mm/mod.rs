//! Memory management: physical frames, the layout of virtual memory, page tables, the heap.
//!
//! The hardware-free parts (`accounts`, `layout`, `regions`, `frame_allocator`, `frame_runs`, and
//! `iommu`'s parsing and table logic) are tested on the host; the rest touches page tables and runs only in the kernel.

pub mod accounts;
pub mod frame_allocator;
pub mod frame_runs;
pub mod iommu;
pub mod layout;
pub mod regions;

#[cfg(target_os = "none")]
pub mod budget;
#[cfg(target_os = "none")]
pub mod device_memory;
#[cfg(target_os = "none")]
pub mod heap;
#[cfg(target_os = "none")]
pub mod paging;
#[cfg(target_os = "none")]
pub mod physical;
#[cfg(all(target_os = "none", feature = "test-hooks"))]
pub mod self_test;
#[cfg(target_os = "none")]
pub mod setup;
#[cfg(target_os = "none")]
pub mod user;
