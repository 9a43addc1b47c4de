//! Adds up libtest's `test result: ok. 12 passed; 0 failed; 1 ignored; ...` lines so `cella test`
//! can print one summary line per stage.

use std::fmt;

/// Totals over every test binary a `cargo test` run executed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TestCounts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests marked `#[ignore]`.
    pub ignored: u64,
    /// Test binaries (and doc-test runs) that reported a result.
    pub binaries: u64,
}

impl TestCounts {
    /// Adds the counts from `line` if it is a libtest result line.
    pub fn observe(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        let Some((_verdict, counts)) = rest.split_once(". ") else {
            return;
        };
        self.binaries += 1;
        for part in counts.split(';') {
            let mut words = part.split_whitespace();
            let (Some(number), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }

    /// Sum of two totals.
    pub fn plus(self, other: TestCounts) -> TestCounts {
        TestCounts {
            passed: self.passed + other.passed,
            failed: self.failed + other.failed,
            ignored: self.ignored + other.ignored,
            binaries: self.binaries + other.binaries,
        }
    }
}

impl fmt::Display for TestCounts {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} passed, {} failed", self.passed, self.failed)?;
        if self.ignored > 0 {
            write!(formatter, ", {} ignored", self.ignored)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_result_lines() {
        let mut counts = TestCounts::default();
        for line in [
            "running 3 tests",
            "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s",
            "test something ... ok",
        ] {
            counts.observe(line);
        }
        assert_eq!(
            counts,
            TestCounts {
                passed: 8,
                failed: 2,
                ignored: 1,
                binaries: 2
            }
        );
        assert_eq!(counts.to_string(), "8 passed, 2 failed, 1 ignored");
    }
}
