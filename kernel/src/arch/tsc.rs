//! The time-stamp counter: a fast monotonic cycle count.

/// Reads the time-stamp counter.
pub fn read() -> u64 {
    // SAFETY: `rdtsc` only reads a counter; it is available on every x86_64 CPU.
    unsafe { core::arch::x86_64::_rdtsc() }
}
