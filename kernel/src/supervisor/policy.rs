//! Restart policy: when a faulted module comes back, and when the supervisor gives up.
//!
//! The first fault in a window restarts the module at once. Each further
//! fault in the same window doubles the wait before the restart, from
//! `backoff` up to `max`. More than `hold_after` faults within `window`
//! put the module on hold: it stays down, and the supervisor reports it
//! until someone restarts it by hand (`restart NAME` in the shell).
//!
//! Settings come from the system manifest's `restart` line, for example
//! `restart policy=backoff backoff=10ms max=5s hold-after=5 window=60s`, or
//! `restart policy=never` for a module that must not come back by itself.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;

const MILLISECOND: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MILLISECOND;

/// How one module is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Whether the supervisor restarts the module by itself at all.
    pub automatic: bool,
    /// Wait before the second restart in a window; doubled for each one after.
    pub backoff_nanoseconds: u64,
    /// Longest wait.
    pub max_backoff_nanoseconds: u64,
    /// Faults tolerated within the window; one more puts the module on hold.
    pub hold_after: u32,
    /// Length of the window faults are counted in.
    pub window_nanoseconds: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            automatic: true,
            backoff_nanoseconds: 10 * MILLISECOND,
            max_backoff_nanoseconds: 5 * SECOND,
            hold_after: 5,
            window_nanoseconds: 60 * SECOND,
        }
    }
}

/// Parses `10ms`, `5s`, `250us`, `100ns` or a bare number of milliseconds.
fn parse_duration(text: &str) -> Option<u64> {
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let scale = match unit {
        "ns" => 1,
        "us" => 1_000,
        "" | "ms" => MILLISECOND,
        "s" => SECOND,
        _ => return None,
    };
    value.checked_mul(scale)
}

impl RestartPolicy {
    /// Reads `restart` settings; unknown keys and bad values are errors.
    ///
    /// # Errors
    /// A message naming the setting that could not be read.
    pub fn from_settings<'a>(
        settings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut policy = Self::default();
        for (key, value) in settings {
            let duration = || {
                parse_duration(value)
                    .ok_or_else(|| format!("restart {key}={value}: not a duration"))
            };
            match key {
                "policy" => match value {
                    "backoff" => policy.automatic = true,
                    "never" => policy.automatic = false,
                    _ => return Err(format!("restart policy={value}: expected backoff or never")),
                },
                "backoff" => policy.backoff_nanoseconds = duration()?,
                "max" => policy.max_backoff_nanoseconds = duration()?,
                "window" => policy.window_nanoseconds = duration()?,
                "hold-after" => {
                    policy.hold_after = value
                        .parse()
                        .map_err(|_| format!("restart hold-after={value}: not a count"))?;
                }
                _ => return Err(format!("restart {key}: unknown setting")),
            }
        }
        Ok(policy)
    }
}

/// What the supervisor does about a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Restart when the clock reaches this time (now, for a first fault).
    RestartAt(u64),
    /// Too many faults in the window: leave the module down.
    Hold { faults_in_window: u32 },
    /// The policy says never restart by itself.
    StayDown,
}

/// The fault history of one module.
#[derive(Clone, Debug, Default)]
pub struct RestartTracker {
    faults: VecDeque<u64>,
    /// Restarts done so far (shown by `ps`).
    pub restarts: u32,
}

impl RestartTracker {
    /// Records a fault at `now` and decides.
    pub fn on_fault(&mut self, policy: &RestartPolicy, now: u64) -> Decision {
        let window_start = now.saturating_sub(policy.window_nanoseconds);
        while self.faults.front().is_some_and(|&time| time < window_start) {
            self.faults.pop_front();
        }
        self.faults.push_back(now);
        let count = u32::try_from(self.faults.len()).unwrap_or(u32::MAX);
        if !policy.automatic {
            return Decision::StayDown;
        }
        if count > policy.hold_after {
            return Decision::Hold {
                faults_in_window: count,
            };
        }
        let delay = match count {
            0 | 1 => 0,
            n => {
                let doublings = (n - 2).min(63);
                policy
                    .backoff_nanoseconds
                    .checked_shl(doublings)
                    .unwrap_or(u64::MAX)
                    .min(policy.max_backoff_nanoseconds)
            }
        };
        Decision::RestartAt(now.saturating_add(delay))
    }

    /// A restart by hand (or after a hold) starts a fresh history.
    pub fn reset(&mut self) {
        self.faults.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn first_fault_restarts_at_once_then_backs_off_to_the_cap() {
        let policy = RestartPolicy {
            hold_after: 100,
            ..RestartPolicy::default()
        };
        let mut tracker = RestartTracker::default();
        let mut delays = Vec::new();
        let mut now = SECOND;
        for _ in 0..12 {
            match tracker.on_fault(&policy, now) {
                Decision::RestartAt(time) => delays.push((time - now) / MILLISECOND),
                other => panic!("unexpected {other:?}"),
            }
            now += MILLISECOND;
        }
        assert_eq!(
            delays,
            [0, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5000, 5000]
        );
    }

    #[test]
    fn too_many_faults_in_the_window_hold_and_old_faults_expire() {
        let policy = RestartPolicy::default();
        let mut tracker = RestartTracker::default();
        for index in 0..5 {
            assert!(matches!(
                tracker.on_fault(&policy, index * SECOND),
                Decision::RestartAt(_)
            ));
        }
        assert_eq!(
            tracker.on_fault(&policy, 5 * SECOND),
            Decision::Hold {
                faults_in_window: 6
            }
        );
        // Long after, the window is empty again: back to an immediate restart.
        assert_eq!(
            tracker.on_fault(&policy, 1000 * SECOND),
            Decision::RestartAt(1000 * SECOND)
        );
        tracker.reset();
        assert_eq!(
            tracker.on_fault(&policy, 1001 * SECOND),
            Decision::RestartAt(1001 * SECOND)
        );
    }

    #[test]
    fn never_means_stay_down() {
        let policy = RestartPolicy::from_settings([("policy", "never")]).unwrap();
        assert_eq!(
            RestartTracker::default().on_fault(&policy, 0),
            Decision::StayDown
        );
    }

    #[test]
    fn settings_are_parsed_and_checked() {
        let policy = RestartPolicy::from_settings([
            ("policy", "backoff"),
            ("backoff", "250us"),
            ("max", "2s"),
            ("hold-after", "3"),
            ("window", "10000"),
        ])
        .unwrap();
        assert_eq!(
            policy,
            RestartPolicy {
                automatic: true,
                backoff_nanoseconds: 250_000,
                max_backoff_nanoseconds: 2 * SECOND,
                hold_after: 3,
                window_nanoseconds: 10 * SECOND,
            }
        );
        for bad in [
            ("policy", "sometimes"),
            ("max", "5 parsecs"),
            ("hold-after", "x"),
            ("color", "red"),
            ("max", "99999999999999999999s"),
        ] {
            assert!(RestartPolicy::from_settings([bad]).is_err(), "{bad:?}");
        }
    }
}
