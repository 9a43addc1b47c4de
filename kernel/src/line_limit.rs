//! Rate limits of what a guest (a Wasm module or a native process) prints on
//! the kernel console: a burst per window of time, then nothing until the
//! next window. What is held back is counted (`ps` shows it), and the next
//! line printed says how many lines were held back before it.
//!
//! Two limits apply to every guest: one to all its console lines, so no guest
//! can fill the console or keep the kernel writing to the serial port, and a
//! tighter one to its warnings (calls the kernel refused), so a guest that
//! repeats a refused call cannot drown the lines that matter.
#![forbid(unsafe_code)]

/// The window, in nanoseconds (one second).
pub const WINDOW_NS: u64 = 1_000_000_000;
/// Warning lines a guest may print per window.
pub const WARNING_LINES_PER_WINDOW: u32 = 5;
/// Console lines (of every level) a guest may print per window.
pub const CONSOLE_LINES_PER_WINDOW: u32 = 200;
/// Console bytes a guest may print per window.
pub const CONSOLE_BYTES_PER_WINDOW: u32 = 32 * 1024;

/// One guest's budget of lines of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineLimit {
    lines_per_window: u32,
    bytes_per_window: u32,
    window_start: u64,
    printed_lines: u32,
    printed_bytes: u32,
    dropped: u64,
    dropped_unreported: u64,
}

/// What to do with one line.
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

impl LineLimit {
    /// A limit of `lines_per_window` lines and `bytes_per_window` bytes per window.
    pub const fn new(lines_per_window: u32, bytes_per_window: u32) -> Self {
        Self {
            lines_per_window,
            bytes_per_window,
            window_start: 0,
            printed_lines: 0,
            printed_bytes: 0,
            dropped: 0,
            dropped_unreported: 0,
        }
    }

    /// The limit of a guest's warnings.
    pub const fn warnings() -> Self {
        Self::new(WARNING_LINES_PER_WINDOW, u32::MAX)
    }

    /// The limit of all of a guest's console lines.
    pub const fn console() -> Self {
        Self::new(CONSOLE_LINES_PER_WINDOW, CONSOLE_BYTES_PER_WINDOW)
    }

    /// Decides for a line of `bytes` bytes at time `now` (nanoseconds).
    pub fn admit(&mut self, now: u64, bytes: usize) -> Verdict {
        if now.saturating_sub(self.window_start) >= WINDOW_NS {
            self.window_start = now;
            self.printed_lines = 0;
            self.printed_bytes = 0;
        }
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        let printed_bytes = self.printed_bytes.saturating_add(bytes);
        if self.printed_lines < self.lines_per_window && printed_bytes <= self.bytes_per_window {
            self.printed_lines += 1;
            self.printed_bytes = printed_bytes;
            let held_back = core::mem::take(&mut self.dropped_unreported);
            Verdict::Print { held_back }
        } else {
            self.dropped += 1;
            self.dropped_unreported += 1;
            Verdict::Drop
        }
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_warnings_prints_a_burst_per_window_and_counts_the_rest() {
        let mut limit = LineLimit::warnings();
        let mut printed = 0;
        // 10,000 warnings over 2.5 s: three windows of 5 lines.
        for index in 0..10_000u64 {
            if let Verdict::Print { .. } = limit.admit(index * 250_000, 40) {
                printed += 1;
            }
        }
        assert_eq!(printed, 15);
        assert_eq!(limit.dropped(), 10_000 - 15);
    }

    #[test]
    fn the_first_line_after_a_drop_says_how_many_were_held_back() {
        let mut limit = LineLimit::warnings();
        for _ in 0..WARNING_LINES_PER_WINDOW {
            assert_eq!(limit.admit(0, 10), Verdict::Print { held_back: 0 });
        }
        assert_eq!(limit.admit(1, 10), Verdict::Drop);
        assert_eq!(limit.admit(2, 10), Verdict::Drop);
        assert_eq!(limit.admit(WINDOW_NS, 10), Verdict::Print { held_back: 2 });
        assert_eq!(limit.admit(WINDOW_NS, 10), Verdict::Print { held_back: 0 });
        assert_eq!(limit.dropped(), 2);
    }

    #[test]
    fn console_lines_are_limited_by_count_and_by_bytes() {
        // Short lines: the line count ends the window's burst.
        let mut by_lines = LineLimit::console();
        let printed = (0..1_000)
            .filter(|_| matches!(by_lines.admit(5, 10), Verdict::Print { .. }))
            .count();
        assert_eq!(printed, CONSOLE_LINES_PER_WINDOW as usize);
        // Long lines: the bytes end it first (32 KiB / 1 KiB = 32 lines).
        let mut by_bytes = LineLimit::console();
        let printed = (0..1_000)
            .filter(|_| matches!(by_bytes.admit(5, 1024), Verdict::Print { .. }))
            .count();
        assert_eq!(printed, (CONSOLE_BYTES_PER_WINDOW / 1024) as usize);
        assert_eq!(by_bytes.dropped(), 1_000 - printed as u64);
        // A line longer than a whole window's bytes is never printed, and
        // does not stop the short lines after it.
        let mut huge = LineLimit::console();
        assert_eq!(huge.admit(0, 1 << 20), Verdict::Drop);
        assert_eq!(huge.admit(0, 10), Verdict::Print { held_back: 1 });
    }

    #[test]
    fn a_steady_flood_prints_at_most_the_limit_in_any_window() {
        let mut limit = LineLimit::console();
        let mut per_window = [0u32; 11];
        // 20,000 lines of 64 bytes evenly over 10 s.
        for index in 0..20_000u64 {
            let now = index * 500_000;
            if let Verdict::Print { .. } = limit.admit(now, 64) {
                per_window[(now / WINDOW_NS) as usize] += 1;
            }
        }
        assert!(
            per_window
                .iter()
                .all(|&lines| lines <= CONSOLE_LINES_PER_WINDOW)
        );
        assert_eq!(
            per_window[..10].iter().sum::<u32>(),
            10 * CONSOLE_LINES_PER_WINDOW
        );
    }
}
