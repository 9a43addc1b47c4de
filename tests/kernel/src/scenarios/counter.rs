//! A CPU-bound kernel thread that counts as fast as it can: scenarios read it
//! to see whether it ran while something else was busy.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use cella_kernel::sched::{self, Priority};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The running counter; it stops when dropped.
pub struct CountingThread {
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl CountingThread {
    /// Starts the thread (normal priority).
    ///
    /// # Errors
    /// The scheduler could not start it.
    pub fn start() -> Result<Self, String> {
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counting, stopping) = (Arc::clone(&count), Arc::clone(&stop));
        sched::spawn("counter", Priority::Normal, move || {
            while !stopping.load(Ordering::Relaxed) {
                counting.fetch_add(1, Ordering::Relaxed);
            }
        })
        .map_err(|error| format!("{error}"))?;
        Ok(CountingThread { count, stop })
    }

    /// The count so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for CountingThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
