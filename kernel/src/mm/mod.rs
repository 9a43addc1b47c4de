//! Memory management: physical frames, the layout of virtual memory, page tables, the heap.
//!
//! The hardware-free parts (`layout`, `regions`, `frame_allocator`) are tested
//! on the host; the rest touches page tables and runs only in the kernel.

pub mod frame_allocator;
pub mod layout;
pub mod regions;
