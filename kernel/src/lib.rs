//! cella-kernel: the native Cella kernel; this library half holds its modules, and the hardware-free ones are tested on the host.
//!
//! # Principles
//! 1. The kernel is small: boot, memory, interrupts, scheduling, capabilities,
//!    IPC, the Wasm host, the supervisor. Everything else is a Wasm module.
//! 2. Logic that needs no hardware (parsing the command line and the boot
//!    archive, memory-map arithmetic, frame allocation) is plain `no_std` code
//!    tested with `cargo test -p cella-kernel --lib` on Linux.
//! 3. `unsafe` lives only in `arch` and `mm`, each block with a `// SAFETY:`
//!    comment naming the invariant it relies on; every other module starts
//!    with `#![forbid(unsafe_code)]`, which a host test checks.
//! 4. Test code is not part of the production kernel: the QEMU scenarios live in the
//!    test kernel (`tests/kernel`), a second binary over this library. What they need
//!    beyond the public API (deliberate faults, the page-mapping self-test, the
//!    scheduler's wake records) is compiled only with the `test-hooks` feature.
//! 5. Input from outside (the PVH start info, the command line, the boot
//!    archive) is validated and never trusted to be well formed.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod arch;
pub mod archive;
pub mod boot_info;
pub mod cmdline;
pub mod guest_text;
pub mod interrupt_routing;
pub mod ipc;
pub mod line_limit;
pub mod mm;
pub mod module_system;
pub mod pci_bus;
pub mod proc;
pub mod sched;
pub mod supervisor;
#[cfg(test)]
mod unsafe_confinement;

// The system description the kernel shares with the `cella` tool.
pub use cella_system::{
    command_protocol, fnv, grants, install_protocol, push_authority, push_protocol, system_manifest,
};

#[cfg(target_os = "none")]
pub mod boot;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod irq;
#[cfg(target_os = "none")]
pub mod log_ring;
#[cfg(target_os = "none")]
pub mod module_host;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod time;

// The PVH entry code, calling the boot sequence: the one place that wires
// `arch` to the kernel above it, besides the handlers `boot` registers.
#[cfg(target_os = "none")]
pvh_entry!(boot::kernel_entry);
