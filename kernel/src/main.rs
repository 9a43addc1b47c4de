//! cella-kernel binary: the production kernel, the kernel library (whose PVH entry point starts the boot) with no boot hooks.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

cella_kernel::kernel_binary!(&cella_kernel::boot::PRODUCTION);
