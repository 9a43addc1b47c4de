//! Runs of physically contiguous frames kept for reuse: where DMA buffers go
//! when they are freed, so the next buffer can be carved from them.
//!
//! The frame allocator hands out contiguous runs only from memory never used
//! before (its free list is a stack of single frames, in no order). Without
//! this pool every DMA buffer freed would leave its frames where no later
//! buffer could be made of them, and a driver that allocates and frees
//! buffers would run the contiguous memory out. Runs are taken first fit,
//! split when larger than asked, and merged with their neighbours when they
//! come back. Hardware-free: tested on the host.

use alloc::collections::BTreeMap;

/// The pool: first frame's address -> frames in the run.
#[derive(Debug, Default)]
pub struct FrameRuns {
    runs: BTreeMap<u64, u64>,
    page_size: u64,
}

impl FrameRuns {
    /// An empty pool of frames of `page_size` bytes.
    pub const fn new(page_size: u64) -> Self {
        Self {
            runs: BTreeMap::new(),
            page_size,
        }
    }

    /// Takes `count` contiguous frames; returns the first, or `None` if no
    /// run is long enough.
    pub fn take(&mut self, count: u64) -> Option<u64> {
        let (&start, &length) = self.runs.iter().find(|(_, length)| **length >= count)?;
        let rest = start.checked_add(count.checked_mul(self.page_size)?)?;
        self.runs.remove(&start);
        if length > count {
            self.runs.insert(rest, length - count);
        }
        Some(start)
    }

    /// Gives back `count` frames from `start`, merged with the runs next to them.
    pub fn give(&mut self, start: u64, count: u64) {
        if count == 0 {
            return;
        }
        let (mut start, mut count) = (start, count);
        let bytes = |count: u64| count.saturating_mul(self.page_size);
        if let Some((&before, &length)) = self.runs.range(..start).next_back()
            && before.saturating_add(bytes(length)) == start
        {
            self.runs.remove(&before);
            start = before;
            count += length;
        }
        let end = start.saturating_add(bytes(count));
        if let Some(length) = self.runs.remove(&end) {
            count += length;
        }
        self.runs.insert(start, count);
    }

    /// Frames kept in the pool.
    pub fn frames(&self) -> u64 {
        self.runs.values().sum()
    }

    /// Runs in the pool.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    #[test]
    fn a_freed_run_is_reused_split_and_merged_again() {
        let mut pool = FrameRuns::new(PAGE);
        assert_eq!(pool.take(1), None);
        pool.give(0x10_0000, 16);
        assert_eq!(pool.take(4), Some(0x10_0000));
        assert_eq!(pool.take(4), Some(0x10_4000));
        assert_eq!(pool.frames(), 8);
        // Given back out of order, the pieces merge into one run.
        pool.give(0x10_4000, 4);
        assert_eq!(pool.runs(), 1, "next to the rest: merged");
        pool.give(0x10_0000, 4);
        assert_eq!(pool.runs(), 1);
        assert_eq!(pool.frames(), 16);
        assert_eq!(pool.take(16), Some(0x10_0000));
        assert_eq!(pool.take(1), None);
    }

    #[test]
    fn runs_apart_stay_apart_and_a_long_request_skips_short_runs() {
        let mut pool = FrameRuns::new(PAGE);
        pool.give(0x20_0000, 2);
        pool.give(0x30_0000, 8);
        assert_eq!(pool.runs(), 2);
        assert_eq!(pool.take(4), Some(0x30_0000));
        assert_eq!(pool.take(3), Some(0x30_4000));
        assert_eq!(pool.take(2), Some(0x20_0000));
        assert_eq!(pool.take(2), None, "one frame is left");
        assert_eq!(pool.take(1), Some(0x30_7000));
    }

    #[test]
    fn allocating_and_freeing_forever_needs_no_new_frames() {
        let mut pool = FrameRuns::new(PAGE);
        pool.give(0x40_0000, 64);
        for round in 0..100_000u64 {
            let count = 1 + round % 16;
            let first = pool.take(count).expect("the pool covers every size");
            let second = pool.take(16).expect("and another at once");
            pool.give(first, count);
            pool.give(second, 16);
            assert_eq!(pool.frames(), 64);
        }
        assert_eq!(pool.runs(), 1);
    }
}
