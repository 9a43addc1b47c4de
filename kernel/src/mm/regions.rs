//! Sets of physical address ranges: the usable RAM the frame allocator starts from.
//!
//! The PVH memory map lists RAM and reserved ranges in any order, possibly
//! overlapping. [`RegionList`] keeps a sorted list of disjoint half-open ranges
//! in a fixed-size array (it is built before the heap exists) and supports the
//! two operations the boot code needs: add RAM, then subtract what is taken.

use core::fmt;

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    /// The range `[start, start + size)`, clamped at the top of the address space.
    pub fn from_start_size(start: u64, size: u64) -> Self {
        Self {
            start,
            end: start.saturating_add(size),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range holds no byte.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `address` lies inside.
    pub fn contains(&self, address: u64) -> bool {
        self.start <= address && address < self.end
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:#012x}..{:#012x}", self.start, self.end)
    }
}

/// The list is full: the memory map is more fragmented than the kernel supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyRegions;

/// A sorted set of disjoint, non-adjacent ranges with room for `N` of them.
#[derive(Clone, Debug)]
pub struct RegionList<const N: usize> {
    ranges: [PhysRange; N],
    len: usize,
}

impl<const N: usize> Default for RegionList<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RegionList<N> {
    /// An empty set.
    pub const fn new() -> Self {
        Self {
            ranges: [PhysRange { start: 0, end: 0 }; N],
            len: 0,
        }
    }

    /// The ranges, sorted by address.
    pub fn as_slice(&self) -> &[PhysRange] {
        &self.ranges[..self.len]
    }

    /// Mutable access for allocators that consume ranges from the front.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [PhysRange] {
        &mut self.ranges[..self.len]
    }

    /// Total bytes covered.
    pub fn total(&self) -> u64 {
        self.as_slice().iter().map(PhysRange::len).sum()
    }

    /// Whether `address` lies in one of the ranges.
    pub fn contains(&self, address: u64) -> bool {
        self.as_slice().iter().any(|range| range.contains(address))
    }

    /// Whether any byte of `range` lies in one of the ranges.
    pub fn overlaps(&self, range: PhysRange) -> bool {
        !range.is_empty()
            && self
                .as_slice()
                .iter()
                .any(|held| held.start < range.end && range.start < held.end)
    }

    /// Adds a range, merging with any it overlaps or touches.
    ///
    /// # Errors
    /// [`TooManyRegions`] if the result would need more than `N` ranges; the
    /// set is unchanged then.
    pub fn add(&mut self, range: PhysRange) -> Result<(), TooManyRegions> {
        if range.is_empty() {
            return Ok(());
        }
        let mut merged = range;
        let mut kept = [PhysRange::default(); N];
        let mut kept_len = 0;
        let mut insert_at = None;
        // The list is sorted and disjoint, so once a range lies wholly above the
        // merged one, so do all after it: nothing later can merge.
        for existing in self.as_slice() {
            let disjoint = existing.end < merged.start || existing.start > merged.end;
            if disjoint {
                if insert_at.is_none() && existing.start > merged.end {
                    insert_at = Some(kept_len);
                }
                kept[kept_len] = *existing;
                kept_len += 1;
            } else {
                merged.start = merged.start.min(existing.start);
                merged.end = merged.end.max(existing.end);
            }
        }
        if kept_len >= N {
            return Err(TooManyRegions);
        }
        let insert_at = insert_at.unwrap_or(kept_len);
        kept.copy_within(insert_at..kept_len, insert_at + 1);
        kept[insert_at] = merged;
        self.ranges = kept;
        self.len = kept_len + 1;
        Ok(())
    }

    /// Removes every address in `range`.
    ///
    /// # Errors
    /// [`TooManyRegions`] if cutting a hole would need more than `N` ranges; the
    /// set is unchanged then.
    pub fn subtract(&mut self, range: PhysRange) -> Result<(), TooManyRegions> {
        if range.is_empty() {
            return Ok(());
        }
        let mut kept = [PhysRange::default(); N];
        let mut kept_len = 0;
        for existing in self.as_slice() {
            let pieces = [
                PhysRange {
                    start: existing.start,
                    end: existing.end.min(range.start),
                },
                PhysRange {
                    start: existing.start.max(range.end),
                    end: existing.end,
                },
            ];
            for piece in pieces.into_iter().filter(|piece| !piece.is_empty()) {
                if kept_len >= N {
                    return Err(TooManyRegions);
                }
                kept[kept_len] = piece;
                kept_len += 1;
            }
        }
        self.ranges = kept;
        self.len = kept_len;
        Ok(())
    }

    /// Shrinks every range inward to multiples of `align` (a power of two) and
    /// drops ranges that become empty.
    pub fn align_inward(&mut self, align: u64) {
        let mut kept_len = 0;
        for index in 0..self.len {
            let range = self.ranges[index];
            let start = super::layout::align_up(range.start, align);
            let end = super::layout::align_down(range.end, align);
            if let Some(start) = start.filter(|&start| start < end) {
                self.ranges[kept_len] = PhysRange { start, end };
                kept_len += 1;
            }
        }
        self.len = kept_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_means_sharing_a_byte() {
        let mut list = RegionList::<4>::new();
        list.add(PhysRange {
            start: 0x1000,
            end: 0x3000,
        })
        .unwrap();
        list.add(PhysRange {
            start: 0x8000,
            end: 0x9000,
        })
        .unwrap();
        let overlaps = |start, end| list.overlaps(PhysRange { start, end });
        assert!(overlaps(0x2fff, 0x4000));
        assert!(overlaps(0x0, 0x1001));
        assert!(overlaps(0x0, 0x10000));
        assert!(overlaps(0x8800, 0x8801));
        assert!(!overlaps(0x0, 0x1000));
        assert!(!overlaps(0x3000, 0x8000));
        assert!(!overlaps(0x9000, 0xa000));
        assert!(!overlaps(0x2000, 0x2000));
    }

    fn range(start: u64, end: u64) -> PhysRange {
        PhysRange { start, end }
    }

    #[test]
    fn add_merges_overlapping_and_touching_ranges() {
        let mut list = RegionList::<8>::new();
        list.add(range(0x5000, 0x6000)).unwrap();
        list.add(range(0x1000, 0x2000)).unwrap();
        list.add(range(0x2000, 0x3000)).unwrap();
        list.add(range(0x8000, 0x9000)).unwrap();
        assert_eq!(
            list.as_slice(),
            &[
                range(0x1000, 0x3000),
                range(0x5000, 0x6000),
                range(0x8000, 0x9000)
            ]
        );
        list.add(range(0x2800, 0x8800)).unwrap();
        assert_eq!(list.as_slice(), &[range(0x1000, 0x9000)]);
        assert_eq!(list.total(), 0x8000);
    }

    #[test]
    fn subtract_cuts_holes_and_edges() {
        let mut list = RegionList::<8>::new();
        list.add(range(0x1000, 0x9000)).unwrap();
        list.subtract(range(0x3000, 0x4000)).unwrap();
        list.subtract(range(0x0, 0x1800)).unwrap();
        list.subtract(range(0x8000, 0x10000)).unwrap();
        assert_eq!(
            list.as_slice(),
            &[range(0x1800, 0x3000), range(0x4000, 0x8000)]
        );
        assert!(list.contains(0x1800));
        assert!(!list.contains(0x3000));
    }

    #[test]
    fn full_list_refuses_and_stays_unchanged() {
        let mut list = RegionList::<2>::new();
        list.add(range(0x1000, 0x2000)).unwrap();
        list.add(range(0x4000, 0x5000)).unwrap();
        assert_eq!(list.add(range(0x7000, 0x8000)), Err(TooManyRegions));
        assert_eq!(list.subtract(range(0x1400, 0x1800)), Err(TooManyRegions));
        assert_eq!(
            list.as_slice(),
            &[range(0x1000, 0x2000), range(0x4000, 0x5000)]
        );
        // Merging into an existing range needs no new slot.
        list.add(range(0x1800, 0x4800)).unwrap();
        assert_eq!(list.as_slice(), &[range(0x1000, 0x5000)]);
    }

    #[test]
    fn align_inward_drops_slivers() {
        let mut list = RegionList::<4>::new();
        list.add(range(0x1001, 0x3fff)).unwrap();
        list.add(range(0x5100, 0x5f00)).unwrap();
        list.align_inward(0x1000);
        assert_eq!(list.as_slice(), &[range(0x2000, 0x3000)]);
    }

    #[test]
    fn random_operations_keep_the_list_sorted_and_disjoint() {
        let mut seed = 0x1234_5678_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut list = RegionList::<64>::new();
        let mut model = [false; 256];
        for _ in 0..2000 {
            let start = next() % 256;
            let end = (start + next() % 16).min(256);
            let add = next() % 3 != 0;
            let piece = range(start * 0x1000, end * 0x1000);
            let result = if add {
                list.add(piece)
            } else {
                list.subtract(piece)
            };
            if result.is_ok() {
                for slot in &mut model[start as usize..end as usize] {
                    *slot = add;
                }
            }
            let slices = list.as_slice();
            for pair in slices.windows(2) {
                assert!(pair[0].end < pair[1].start, "{slices:?}");
            }
            for (index, &present) in model.iter().enumerate() {
                assert_eq!(list.contains(index as u64 * 0x1000), present);
            }
        }
    }
}
