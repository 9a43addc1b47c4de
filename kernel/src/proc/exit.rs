//! How a native process ended, the words the log and `ps` use for it, and the record of the last ones that ended.

use crate::sched::ThreadId;
use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt;

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// It called `exit(code)`.
    Exited(i64),
    /// The kernel killed it after a fault (the report's summary).
    Killed(String),
}

impl ExitReason {
    /// The `ps` state: `exited CODE` or `faulted`.
    pub fn state(&self) -> String {
        match self {
            Self::Exited(code) => alloc::format!("exited {code}"),
            Self::Killed(_) => String::from("faulted"),
        }
    }
}

/// The log's words: `exited with status CODE` or `was killed: SUMMARY`.
impl fmt::Display for ExitReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(code) => write!(formatter, "exited with status {code}"),
            Self::Killed(summary) => write!(formatter, "was killed: {summary}"),
        }
    }
}

/// Ended processes remembered; older records are dropped, so processes that
/// come and go for ever take no more kernel memory.
pub const EXITS_KEPT: usize = 64;

/// Records how the process on `thread` ended, dropping the oldest records
/// past [`EXITS_KEPT`] (thread ids only grow, so the first are the oldest).
pub fn remember(
    exits: &mut BTreeMap<ThreadId, (String, ExitReason)>,
    thread: ThreadId,
    name: String,
    reason: ExitReason,
) {
    exits.insert(thread, (name, reason));
    while exits.len() > EXITS_KEPT {
        exits.pop_first();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn exits_read_as_plain_words() {
        assert_eq!(ExitReason::Exited(0).state(), "exited 0");
        assert_eq!(ExitReason::Exited(-2).state(), "exited -2");
        assert_eq!(ExitReason::Exited(2).to_string(), "exited with status 2");
        let killed = ExitReason::Killed(String::from("page fault (vector 14) at rip=0x400010"));
        assert_eq!(killed.state(), "faulted");
        assert_eq!(
            killed.to_string(),
            "was killed: page fault (vector 14) at rip=0x400010"
        );
    }

    #[test]
    fn only_the_last_exits_are_remembered() {
        let mut exits = BTreeMap::new();
        for thread in 1..=1000 {
            remember(
                &mut exits,
                thread,
                String::from("churn"),
                ExitReason::Exited(0),
            );
        }
        assert_eq!(exits.len(), EXITS_KEPT);
        assert_eq!(
            exits.keys().next(),
            Some(&(1000 - EXITS_KEPT as ThreadId + 1))
        );
        assert!(exits.contains_key(&1000));
    }
}
