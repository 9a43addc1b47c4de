//! The kernel heap across the cycles of a scenario whose workload keeps
//! running (block_faults, fs_faults): measured with every instance home,
//! and the growth from the first cycle to the last checked against a bound.

use alloc::format;
use alloc::string::String;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;

/// Kernel heap in use once every instance is home (the workload keeps running).
pub fn heap_in_use(system: &mut System) -> usize {
    system.wait_until_all_home();
    cella_kernel::mm::heap::statistics().used
}

/// Prints `SCENARIO: kernel heap W KiB after the first cycle, A KiB after
/// the last (N bytes more)` and fails if the heap grew by more than
/// `tolerated` bytes from `warm` to `after`.
pub fn check_growth(
    scenario: &str,
    warm: usize,
    after: usize,
    tolerated: usize,
) -> Result<(), String> {
    kprintln!(
        "{scenario}: kernel heap {} KiB after the first cycle, {} KiB after the last ({} bytes more)",
        warm / 1024,
        after / 1024,
        after as i64 - warm as i64
    );
    if after.saturating_sub(warm) > tolerated {
        return Err(format!(
            "the kernel heap grew by {} bytes over the swaps and faults",
            after - warm
        ));
    }
    Ok(())
}
