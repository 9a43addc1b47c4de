//! Deliberate faults for the self-test scenarios: each breaks one rule on purpose
//! so a test can check that the kernel reports it.

/// Reads `address`, which the caller knows is unmapped: a page fault follows.
pub fn read_unmapped(address: u64) -> u64 {
    // SAFETY: deliberately not sound: the read faults, and the page-fault
    // handler ends the run before any value is produced.
    unsafe { core::ptr::read_volatile(address as *const u64) }
}

/// Writes to `address`, which the caller knows is mapped read-only: a page fault follows.
pub fn write_read_only(address: u64) {
    // SAFETY: deliberately not sound: the write faults (CR0.WP is set), and
    // the page-fault handler ends the run; memory is never modified.
    unsafe { core::ptr::write_volatile(address as *mut u64, 0x0bad) };
}

/// Recurses until the stack's guard page is hit: a page fault that cannot be
/// delivered on the same stack, so a double fault on its own stack follows.
#[allow(
    unconditional_recursion,
    reason = "the recursion is the point: it ends in a fault"
)]
pub fn overflow_stack(depth: u64) -> u64 {
    let mut frame = [depth; 64];
    // Keep the frame and the call alive so the compiler cannot fold the recursion.
    core::hint::black_box(&mut frame);
    overflow_stack(depth + 1).wrapping_add(frame[(depth % 64) as usize])
}
