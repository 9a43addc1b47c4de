//! Kernel time: a monotonic nanosecond clock from the calibrated time-stamp
//! counter, and the PIT tick count that wakes the idle loop.
#![forbid(unsafe_code)]

use crate::arch::{pit, tsc};
use core::sync::atomic::{AtomicU64, Ordering};

static TICKS: AtomicU64 = AtomicU64::new(0);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// Time-stamp counter cycles per second; 0 until calibrated (then ticks are used).
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Records the boot instant; call first thing.
pub fn mark_boot() {
    BOOT_TSC.store(tsc::read(), Ordering::Relaxed);
}

/// Measures the counter's rate against the PIT (10 ms). Returns the rate found.
pub fn calibrate() -> Option<u64> {
    let hz = pit::measure_tsc_hz(10).filter(|&hz| hz > 0)?;
    TSC_HZ.store(hz, Ordering::Relaxed);
    Some(hz)
}

/// One PIT tick passed (called from the IRQ 0 handler).
pub fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Monotonic nanoseconds since boot.
pub fn now_nanoseconds() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return TICKS.load(Ordering::Relaxed) * (1_000_000_000 / pit::TICK_HZ);
    }
    let cycles = tsc::read().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
    (u128::from(cycles) * 1_000_000_000 / u128::from(hz)) as u64
}
