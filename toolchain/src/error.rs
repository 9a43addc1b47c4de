//! The tool's error type: a message meant for a person, printed as `cella: error: MESSAGE`.

use std::fmt;

/// A failure the tool reports to the user and then exits non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    /// Exit status the binary uses for this error (1 for failures, 2 for usage errors).
    exit_code: i32,
}

/// Result alias used throughout the tool.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A failure of a step (a build, a test run, a missing dependency).
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            exit_code: 1,
        }
    }

    /// A command-line usage mistake (unknown command, bad flag).
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            exit_code: 2,
        }
    }

    /// The message, without the `cella: error:` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The exit status the process should end with.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// Prefix the message with what was being done, e.g. `reading Cargo metadata: ...`.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error {
            message: format!("{what}: {}", self.message),
            exit_code: self.exit_code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::new(error.to_string())
    }
}
