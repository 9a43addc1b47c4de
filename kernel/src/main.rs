//! cella-kernel binary: links the kernel library (whose PVH entry point starts the boot) and owns the panic handler.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    cella_kernel::panic::report(info)
}
