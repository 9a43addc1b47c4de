//! How a native process ended, and the words the log and `ps` use for it.

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
}
