//! Memory management: the kernel heap under stress, and mapping MMIO and fresh pages.

use cella_qemu_tests::{BootRequest, boot, boot_scenario};

/// The kernel's allocation stress: many sizes, frees, reallocations, checksummed contents.
#[test]
fn heap_survives_allocation_stress() {
    let run = boot_scenario("heap");
    run.expect_kernel_success();
    run.expect_line("scenario heap: passed");
}

/// Maps an MMIO region uncached and a fresh page, writes and reads both back.
#[test]
fn map_writes_and_reads_back_mmio_and_a_fresh_page() {
    let run = boot_scenario("map");
    run.expect_kernel_success();
    run.expect_line("scenario map: passed");
}

/// 500 hot swaps of the UART driver (v1 <-> v2, state carried) and 250 restarts leave the
/// kernel heap within 64 KiB of where it was after a warm-up (each swap leaked ~51 KiB when
/// all modules shared one compiled-code store).
#[test]
fn hundreds_of_swaps_and_restarts_leave_the_kernel_heap_flat() {
    let run = boot(BootRequest {
        cmdline: "test=swap_soak swaps=250".to_owned(),
        ..BootRequest::scenario("swap_soak")
    });
    run.expect_kernel_success();
    let line = run.expect_line("swap_soak: 500 swaps and 250 restarts");
    println!("{line}");
    run.expect_line("scenario swap_soak: passed");
}
