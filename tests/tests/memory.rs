//! Memory management: the kernel heap under stress, and mapping MMIO and fresh pages.

use cella_qemu_tests::boot_scenario;

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
