//! The physical frame allocator: hands out 4 KiB frames of usable RAM.
//!
//! It starts from the usable ranges of the memory map (RAM minus the kernel
//! image, the boot archive, the PVH tables and low memory) and takes frames
//! from the front of those ranges. Freed frames go on a free list threaded
//! through the frames themselves: each free frame's first 8 bytes hold the
//! address of the next. Reaching a frame's bytes needs the direct map, which
//! this hardware-free code does not know about, so the caller passes a
//! [`FrameLinks`] that reads and writes those links.

use super::layout::PAGE_SIZE;
use super::regions::{PhysRange, RegionList};

/// Access to the first 8 bytes of a physical frame (through the direct map in the kernel).
pub trait FrameLinks {
    /// Reads the link stored in free frame `frame`.
    fn read_link(&mut self, frame: u64) -> u64;
    /// Stores `next` as the link of free frame `frame`.
    fn write_link(&mut self, frame: u64, next: u64);
}

/// Why a frame could not be freed: a kernel bug, reported rather than corrupting memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// The address is not page aligned.
    Misaligned(u64),
    /// The address is not in usable RAM.
    NotUsableRam(u64),
}

/// Counters the kernel reports (`mem` in the shell, boot log).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStatistics {
    /// Frames of usable RAM in total.
    pub total_frames: u64,
    /// Frames currently handed out.
    pub allocated_frames: u64,
}

impl FrameStatistics {
    /// Whether `frames` more can be handed out for work that may not touch
    /// the last `reserve` free frames (a module's DMA buffers: the kernel's
    /// page tables, stacks and processes keep the reserve).
    pub fn leaves_reserve(&self, frames: u64, reserve: u64) -> bool {
        let free = self.total_frames.saturating_sub(self.allocated_frames);
        frames
            .checked_add(reserve)
            .is_some_and(|needed| needed <= free)
    }
}

/// Sentinel for an empty free list: frame 0 is in low memory, never usable.
const NO_FRAME: u64 = 0;

/// A frame allocator over at most `N` usable ranges.
pub struct FrameAllocator<const N: usize> {
    /// Everything usable, for checking frees.
    usable: RegionList<N>,
    /// Not yet handed out; consumed from the front of each range.
    untouched: RegionList<N>,
    free_list_head: u64,
    statistics: FrameStatistics,
}

impl<const N: usize> FrameAllocator<N> {
    /// Builds the allocator; `usable` is aligned inward to whole frames first.
    pub fn new(mut usable: RegionList<N>) -> Self {
        usable.align_inward(PAGE_SIZE);
        let total_frames = usable.total() / PAGE_SIZE;
        Self {
            untouched: usable.clone(),
            usable,
            free_list_head: NO_FRAME,
            statistics: FrameStatistics {
                total_frames,
                allocated_frames: 0,
            },
        }
    }

    /// The usable ranges this allocator manages.
    pub fn usable(&self) -> &[PhysRange] {
        self.usable.as_slice()
    }

    /// Current counters.
    pub fn statistics(&self) -> FrameStatistics {
        self.statistics
    }

    /// One frame, or `None` when RAM is exhausted. Its contents are arbitrary.
    pub fn allocate(&mut self, links: &mut impl FrameLinks) -> Option<u64> {
        self.allocate_below(u64::MAX, links)
    }

    /// One frame whose whole 4 KiB lie below `limit` (early boot can reach only
    /// the identity-mapped low memory).
    pub fn allocate_below(&mut self, limit: u64, links: &mut impl FrameLinks) -> Option<u64> {
        if self.free_list_head != NO_FRAME && self.free_list_head < limit {
            let frame = self.free_list_head;
            self.free_list_head = links.read_link(frame);
            self.statistics.allocated_frames += 1;
            return Some(frame);
        }
        self.allocate_contiguous_below(1, limit)
    }

    /// `count` physically contiguous frames (for DMA buffers); returns the first.
    /// Taken only from memory never handed out, so the free list is not searched.
    pub fn allocate_contiguous(&mut self, count: u64) -> Option<u64> {
        self.allocate_contiguous_below(count, u64::MAX)
    }

    fn allocate_contiguous_below(&mut self, count: u64, limit: u64) -> Option<u64> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        let range = self.untouched.as_mut_slice().iter_mut().find(|range| {
            range.len() >= bytes
                && range
                    .start
                    .checked_add(bytes)
                    .is_some_and(|end| end <= limit)
        })?;
        let first = range.start;
        range.start += bytes;
        self.statistics.allocated_frames += count;
        Some(first)
    }

    /// Returns a frame to the allocator.
    ///
    /// # Errors
    /// [`FreeError`] if `frame` is misaligned or not usable RAM; nothing changes then.
    pub fn free(&mut self, frame: u64, links: &mut impl FrameLinks) -> Result<(), FreeError> {
        if !frame.is_multiple_of(PAGE_SIZE) {
            return Err(FreeError::Misaligned(frame));
        }
        if !self.usable.contains(frame) {
            return Err(FreeError::NotUsableRam(frame));
        }
        links.write_link(frame, self.free_list_head);
        self.free_list_head = frame;
        self.statistics.allocated_frames = self.statistics.allocated_frames.saturating_sub(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    #[derive(Default)]
    struct FakeMemory(HashMap<u64, u64>);

    impl FrameLinks for FakeMemory {
        fn read_link(&mut self, frame: u64) -> u64 {
            self.0[&frame]
        }
        fn write_link(&mut self, frame: u64, next: u64) {
            self.0.insert(frame, next);
        }
    }

    fn allocator() -> FrameAllocator<8> {
        let mut usable = RegionList::new();
        usable
            .add(PhysRange {
                start: 0x10_0000,
                end: 0x10_4000,
            })
            .unwrap();
        usable
            .add(PhysRange {
                start: 0x20_0800,
                end: 0x20_3000,
            })
            .unwrap();
        FrameAllocator::new(usable)
    }

    #[test]
    fn hands_out_every_frame_once_then_none() {
        let mut frames = allocator();
        let mut memory = FakeMemory::default();
        assert_eq!(frames.statistics().total_frames, 4 + 2);
        let mut seen = BTreeSet::new();
        while let Some(frame) = frames.allocate(&mut memory) {
            assert_eq!(frame % PAGE_SIZE, 0);
            assert!(seen.insert(frame), "frame {frame:#x} handed out twice");
        }
        assert_eq!(seen.len(), 6);
        assert!(seen.contains(&0x20_1000) && !seen.contains(&0x20_0000));
        assert_eq!(frames.statistics().allocated_frames, 6);
    }

    #[test]
    fn work_that_would_eat_into_the_reserve_is_refused() {
        let statistics = FrameStatistics {
            total_frames: 2_000,
            allocated_frames: 900,
        };
        // 1,100 free: 100 may go while 1,000 stay.
        assert!(statistics.leaves_reserve(100, 1_000));
        assert!(!statistics.leaves_reserve(101, 1_000));
        assert!(!statistics.leaves_reserve(u64::MAX, 1));
        let full = FrameStatistics {
            total_frames: 10,
            allocated_frames: 10,
        };
        assert!(full.leaves_reserve(0, 0));
        assert!(!full.leaves_reserve(1, 0));
    }

    #[test]
    fn freed_frames_come_back_last_in_first_out() {
        let mut frames = allocator();
        let mut memory = FakeMemory::default();
        let first = frames.allocate(&mut memory).unwrap();
        let second = frames.allocate(&mut memory).unwrap();
        frames.free(first, &mut memory).unwrap();
        frames.free(second, &mut memory).unwrap();
        assert_eq!(frames.statistics().allocated_frames, 0);
        assert_eq!(frames.allocate(&mut memory), Some(second));
        assert_eq!(frames.allocate(&mut memory), Some(first));
    }

    #[test]
    fn bad_frees_are_refused() {
        let mut frames = allocator();
        let mut memory = FakeMemory::default();
        assert_eq!(
            frames.free(0x10_0008, &mut memory),
            Err(FreeError::Misaligned(0x10_0008))
        );
        assert_eq!(
            frames.free(0x50_0000, &mut memory),
            Err(FreeError::NotUsableRam(0x50_0000))
        );
        assert!(memory.0.is_empty());
    }

    #[test]
    fn limits_and_contiguous_runs() {
        let mut frames = allocator();
        let mut memory = FakeMemory::default();
        assert_eq!(frames.allocate_contiguous(3), Some(0x10_0000));
        assert_eq!(frames.allocate_contiguous(3), None);
        assert_eq!(frames.allocate_contiguous(2), Some(0x20_1000));
        assert_eq!(frames.allocate_below(0x10_3000, &mut memory), None);
        assert_eq!(
            frames.allocate_below(0x10_4000, &mut memory),
            Some(0x10_3000)
        );
        assert_eq!(frames.allocate(&mut memory), None);
    }
}
