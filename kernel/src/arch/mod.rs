//! x86_64 machine code: boot entry, serial port, segments, interrupts, QEMU exit.
//!
//! This is one of the two places (with `mm`) where `unsafe` is allowed; every
//! block says which invariant makes it sound. Only `port_io`'s range checks
//! are built on the host too, for their tests.

#[cfg(target_os = "none")]
pub mod context;
#[cfg(all(target_os = "none", feature = "test-hooks"))]
pub mod deliberate;
#[cfg(target_os = "none")]
pub mod gdt;
#[cfg(target_os = "none")]
pub mod handlers;
#[cfg(target_os = "none")]
pub mod interrupts;
#[cfg(target_os = "none")]
pub mod io_apic;
#[cfg(target_os = "none")]
pub mod local_apic;
#[cfg(target_os = "none")]
pub mod pci_config;
#[cfg(target_os = "none")]
pub mod pic;
#[cfg(target_os = "none")]
pub mod pit;
pub mod port_io;
#[cfg(target_os = "none")]
pub mod qemu;
#[cfg(target_os = "none")]
pub mod serial;
#[cfg(target_os = "none")]
pub mod stacks;
#[cfg(target_os = "none")]
pub mod syscall;
#[cfg(target_os = "none")]
pub mod tsc;
#[cfg(target_os = "none")]
pub mod user;

/// Emits the PVH note and the 32-bit entry code (see `pvh_entry.s`), which
/// ends by calling `$entry`, an `extern "C" fn(u64) -> !` that takes the
/// physical address of `hvm_start_info`, on the boot stack.
///
/// The crate root invokes it once with the boot sequence's entry, so `arch`
/// names no part of the kernel above it (the path of `pvh_entry.s` is
/// relative to the crate root, where the macro is invoked).
#[macro_export]
macro_rules! pvh_entry {
    ($entry:path) => {
        core::arch::global_asm!(
            include_str!("arch/pvh_entry.s"),
            kernel_entry = sym $entry,
            boot_stack = sym $crate::arch::stacks::BOOT_STACK,
            boot_stack_top_offset = const $crate::arch::stacks::BOOT_STACK_TOP_OFFSET,
            options(att_syntax)
        );
    };
}

// SAFETY: the one item is defined by `kernel_binary!` below, in safe Rust, with exactly this
// signature; a kernel binary without it does not link, so the declaration cannot dangle.
#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// The boot hooks of the kernel binary being linked, which defines this symbol with
    /// [`kernel_binary!`](crate::kernel_binary). A binary that does not fails to link.
    ///
    /// `safe`: the definition is the safe function the macro writes, with this signature.
    safe fn cella_kernel_boot_hooks() -> &'static dyn crate::boot::BootHooks;
}

/// The boot hooks the kernel binary chose (see [`crate::boot::BootHooks`]).
#[cfg(target_os = "none")]
pub fn boot_hooks() -> &'static dyn crate::boot::BootHooks {
    cella_kernel_boot_hooks()
}

/// Makes a crate the kernel binary: defines the boot hooks [`boot_hooks`] returns (`$hooks`,
/// a `&'static` value of a type that implements [`crate::boot::BootHooks`]) and the panic
/// handler. The production kernel (`kernel/src/main.rs`) passes
/// [`crate::boot::PRODUCTION`]; the test kernel (`tests/kernel`) passes its scenarios.
#[macro_export]
macro_rules! kernel_binary {
    ($hooks:expr) => {
        // SAFETY: `cella_kernel_boot_hooks` is a name only this macro defines, once per
        // kernel binary, with the signature `boot_hooks` declares.
        #[unsafe(no_mangle)]
        fn cella_kernel_boot_hooks() -> &'static dyn $crate::boot::BootHooks {
            $hooks
        }

        #[panic_handler]
        fn panic(info: &::core::panic::PanicInfo<'_>) -> ! {
            $crate::panic::report(info)
        }
    };
}

#[cfg(target_os = "none")]
/// Stops this CPU for good: interrupts off, then `hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}
