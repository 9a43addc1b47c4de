//! The kernel log ring: the last few dozen KiB of console output, kept in
//! memory so `log` in the shell can show what happened, including the reports
//! of modules that have long since been restarted.
#![forbid(unsafe_code)]

use alloc::collections::VecDeque;
use alloc::string::String;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Bytes kept; older output is dropped first.
pub const CAPACITY: usize = 32 * 1024;

static RING: Mutex<VecDeque<u8>> = Mutex::new(VecDeque::new());

/// Appends console output (called by the console for everything it prints).
pub fn append(bytes: &[u8]) {
    without_interrupts(|| {
        let mut ring = RING.lock();
        let missing = CAPACITY - ring.len();
        if ring.capacity() < CAPACITY && ring.try_reserve_exact(missing).is_err() {
            return;
        }
        for &byte in bytes {
            if ring.len() == CAPACITY {
                ring.pop_front();
            }
            ring.push_back(byte);
        }
    });
}

/// The last `lines` lines kept, oldest first.
pub fn tail(lines: usize) -> String {
    let bytes: alloc::vec::Vec<u8> = without_interrupts(|| RING.lock().iter().copied().collect());
    let text = String::from_utf8_lossy(&bytes);
    let all: alloc::vec::Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = String::new();
    for line in &all[start..] {
        out.push_str(line.trim_end_matches('\r'));
        out.push('\n');
    }
    out
}
