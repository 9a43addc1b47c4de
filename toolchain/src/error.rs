//! The tool's error type: a message meant for a person, printed as `cella: error: MESSAGE`.

use std::fmt;

/// A failure the tool reports to the user and then exits non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    /// Exit status the binary uses for this error (1 for failures, 2 for usage errors).
    exit_code: i32,
    /// The message is printed as it is, without the `cella: error:` prefix.
    verbatim: bool,
}

/// Result alias used throughout the tool.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A failure of a step (a build, a test run, a missing dependency).
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            exit_code: 1,
            verbatim: false,
        }
    }

    /// A failure whose message is already the whole text to print (the running kernel's
    /// error text, as its console shell prints it).
    pub fn verbatim(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            exit_code: 1,
            verbatim: true,
        }
    }

    /// A command-line usage mistake (unknown command, bad flag).
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            exit_code: 2,
            verbatim: false,
        }
    }

    /// The message, without the `cella: error:` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the binary prints for it on standard error: `cella: error: MESSAGE`, or a
    /// verbatim message as it is (with a final newline).
    pub fn report(&self) -> String {
        if !self.verbatim {
            return format!("cella: error: {}\n", self.message);
        }
        let mut text = self.message.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text
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
            verbatim: false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_error_text_is_printed_as_it_is_and_the_tools_own_with_its_prefix() {
        let kernel = Error::verbatim("error: no module named nope\n");
        assert_eq!(kernel.report(), "error: no module named nope\n");
        assert_eq!(kernel.exit_code(), 1);
        assert_eq!(Error::verbatim("error: x").report(), "error: x\n");
        assert_eq!(
            Error::new("no push key").report(),
            "cella: error: no push key\n"
        );
        assert_eq!(
            Error::verbatim("error: x").context("asking").report(),
            "cella: error: asking: error: x\n"
        );
    }
}
