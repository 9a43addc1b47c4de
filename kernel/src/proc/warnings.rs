//! The rate limit of a guest's WARN lines (refused calls): a burst, then a
//! steady trickle; what is held back is counted (shown by `ps`), not printed.

/// Lines printed at most per window.
pub const LINES_PER_WINDOW: u32 = 5;
/// The window, in nanoseconds (one second).
pub const WINDOW_NS: u64 = 1_000_000_000;

/// One guest's warning budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarningLimit {
    window_start: u64,
    printed: u32,
    dropped: u64,
    dropped_unreported: u64,
}

/// What to do with one warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Print it; `held_back` lines were dropped since the last printed one.
    Print {
        /// Lines dropped in between (0: none).
        held_back: u64,
    },
    /// Drop it (counted).
    Drop,
}

impl WarningLimit {
    /// Decides for a warning at time `now` (nanoseconds).
    pub fn admit(&mut self, now: u64) -> Verdict {
        if now.saturating_sub(self.window_start) >= WINDOW_NS {
            self.window_start = now;
            self.printed = 0;
        }
        if self.printed < LINES_PER_WINDOW {
            self.printed += 1;
            let held_back = core::mem::take(&mut self.dropped_unreported);
            Verdict::Print { held_back }
        } else {
            self.dropped += 1;
            self.dropped_unreported += 1;
            Verdict::Drop
        }
    }

    /// Warnings dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_prints_a_burst_per_window_and_counts_the_rest() {
        let mut limit = WarningLimit::default();
        let mut printed = 0;
        // 10,000 warnings over 2.5 s: three windows of 5 lines.
        for index in 0..10_000u64 {
            if let Verdict::Print { .. } = limit.admit(index * 250_000) {
                printed += 1;
            }
        }
        assert_eq!(printed, 15);
        assert_eq!(limit.dropped(), 10_000 - 15);
    }

    #[test]
    fn the_first_line_after_a_drop_says_how_many_were_held_back() {
        let mut limit = WarningLimit::default();
        for _ in 0..LINES_PER_WINDOW {
            assert_eq!(limit.admit(0), Verdict::Print { held_back: 0 });
        }
        assert_eq!(limit.admit(1), Verdict::Drop);
        assert_eq!(limit.admit(2), Verdict::Drop);
        assert_eq!(limit.admit(WINDOW_NS), Verdict::Print { held_back: 2 });
        assert_eq!(limit.admit(WINDOW_NS), Verdict::Print { held_back: 0 });
        assert_eq!(limit.dropped(), 2);
    }
}
