//! The injector's pseudo-random numbers: SplitMix64, so one seed always gives
//! the same fault.

/// A SplitMix64 generator.
pub struct Random {
    state: u64,
}

impl Random {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            return 0;
        }
        (self.next() % bound as u64) as usize
    }

    /// A value with exactly one bit set among the low `bits`.
    pub fn one_bit(&mut self, bits: u32) -> u64 {
        1u64 << (self.next() % u64::from(bits.max(1)))
    }
}
