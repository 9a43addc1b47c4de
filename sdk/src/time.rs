//! Time: the monotonic clock and one-shot timers.

use crate::error::{Result, status};
use crate::handle::{FromHandle, Handle};
use crate::sys;

/// Monotonic nanoseconds since boot.
pub fn now() -> u64 {
    u64::try_from(sys::time_now()).unwrap_or(0)
}

/// A 16-bit number taken from the clock, for a server's handles: an
/// instance started later (a restart) almost surely gets another, so the
/// handles its predecessor gave out do not match its own.
pub fn epoch() -> u16 {
    let now = now();
    (now ^ (now >> 16) ^ (now >> 32) ^ (now >> 48)) as u16
}

/// A granted one-shot timer (manifest line `timer`). When it expires the
/// module's `on_timer` runs with its handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    handle: Handle,
}

impl FromHandle for Timer {
    fn from_handle(handle: Handle) -> Timer {
        Timer { handle }
    }
}

impl Timer {
    /// The capability handle (what `on_timer` receives).
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// Whether an `on_timer` handle names this timer.
    pub fn is(&self, handle: Handle) -> bool {
        self.handle == handle
    }

    /// Arms the timer for the absolute time `deadline` (nanoseconds since
    /// boot), replacing an earlier deadline.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn set_deadline(&self, deadline: u64) -> Result<()> {
        let deadline = i64::try_from(deadline).unwrap_or(i64::MAX);
        status(sys::timer_set(self.handle.raw(), deadline))
    }

    /// Arms the timer `nanoseconds` from now.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn set_after(&self, nanoseconds: u64) -> Result<()> {
        self.set_deadline(now().saturating_add(nanoseconds))
    }

    /// Disarms the timer.
    ///
    /// # Errors
    /// The host's refusal.
    pub fn cancel(&self) -> Result<()> {
        status(sys::timer_cancel(self.handle.raw()))
    }
}
