//! The log budget of one event: a module may log at most so many lines and
//! bytes per event (see [`crate::Limits`]); lines past it are dropped without
//! being read, counted in [`crate::Counters::log_lines_dropped`], and the
//! event ends with one line saying how many were dropped.

use alloc::format;
use alloc::string::String;

/// What the current event has logged.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LogBudget {
    lines: u32,
    bytes: u32,
    dropped: u32,
}

impl LogBudget {
    /// A new event starts with the whole budget.
    pub(crate) fn start_event(&mut self) {
        *self = LogBudget::default();
    }

    /// Whether a line of `length` bytes fits what is left of the budget of
    /// `max_lines` lines and `max_bytes` bytes; counts it either way.
    pub(crate) fn admit(&mut self, length: u32, max_lines: u32, max_bytes: u32) -> bool {
        let bytes = self.bytes.saturating_add(length);
        if self.lines >= max_lines || bytes > max_bytes {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        self.lines += 1;
        self.bytes = bytes;
        true
    }

    /// The closing line of an event that dropped lines.
    pub(crate) fn dropped_report(&self, max_lines: u32, max_bytes: u32) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "{} log line(s) dropped: over the budget of {max_lines} lines and {max_bytes} bytes per event",
                self.dropped
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_bytes_are_both_bounded() {
        let mut budget = LogBudget::default();
        assert!(budget.admit(10, 2, 15));
        assert!(!budget.admit(10, 2, 15), "25 bytes > 15");
        assert!(budget.admit(5, 2, 15));
        assert!(!budget.admit(0, 2, 15), "a third line");
        assert_eq!(
            budget.dropped_report(2, 15).as_deref(),
            Some("2 log line(s) dropped: over the budget of 2 lines and 15 bytes per event")
        );
        budget.start_event();
        assert!(budget.dropped_report(2, 15).is_none());
        assert!(budget.admit(15, 2, 15));
    }
}
