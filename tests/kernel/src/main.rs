//! cella-test-kernel: the kernel library with the QEMU test scenarios as its boot hooks; `test=NAME` on the command line picks one.
//!
//! The production kernel (`kernel/src/main.rs`) is the same library with no hooks, so none
//! of this code is in the image users boot. `cargo cella test`, `cargo cella bench` and
//! `cargo cella faults` boot this kernel; `cargo cella run` boots the production one.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod scenarios;
mod wasm_server;

cella_kernel::kernel_binary!(&scenarios::SCENARIO_HOOKS);
