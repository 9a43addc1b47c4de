//! WAT sources: the text form of a Wasm module (the teaching modules, a student's own),
//! compiled to the binary form the kernel loads. A syntax error is reported as a syntax
//! error, with its line and column, never as a module that does not fit the system manifest.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a WAT file gave no module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatError {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The text is not valid WAT.
    Syntax {
        /// The file.
        path: PathBuf,
        /// The WAT parser's message: what it expected, with the line and column.
        message: String,
    },
}

impl fmt::Display for WatError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatError::Read { path, message } => {
                write!(formatter, "reading {}: {message}", path.display())
            }
            WatError::Syntax { path, message } => write!(
                formatter,
                "WAT syntax error in {}: {}",
                path.display(),
                message.trim_end()
            ),
        }
    }
}

impl From<WatError> for crate::Error {
    fn from(error: WatError) -> crate::Error {
        crate::Error::new(error.to_string())
    }
}

/// Whether `name` names a WAT file (ends in `.wat`).
pub fn is_wat_path(name: &str) -> bool {
    name.ends_with(".wat")
}

/// Compiles the WAT file `path` to Wasm bytes.
///
/// # Errors
/// [`WatError::Read`] if the file cannot be read, [`WatError::Syntax`] if its text is not
/// valid WAT.
pub fn compile(path: &Path) -> Result<Vec<u8>, WatError> {
    let text = std::fs::read_to_string(path).map_err(|error| WatError::Read {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    wat::parse_str(&text).map_err(|mut error| {
        error.set_path(path);
        WatError::Syntax {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory(label: &str) -> PathBuf {
        let directory =
            std::env::temp_dir().join(format!("cella-wat-source-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    #[test]
    fn a_valid_file_compiles_to_wasm() {
        let directory = directory("valid");
        let path = directory.join("hello.wat");
        std::fs::write(
            &path,
            "(module (func (export \"init\") (result i32) (i32.const 0)))",
        )
        .unwrap();
        let bytes = compile(&path).expect("valid WAT");
        assert_eq!(&bytes[..8], b"\0asm\x01\0\0\0");
        let _ = std::fs::remove_dir_all(directory);
    }

    #[test]
    fn a_syntax_error_is_reported_as_one_with_its_line() {
        let directory = directory("syntax");
        let path = directory.join("broken.wat");
        std::fs::write(
            &path,
            "(module\n  (func (export \"init\") (result i32)\n    (i32.konst 0)))\n",
        )
        .unwrap();
        let error = compile(&path).expect_err("not valid WAT");
        assert!(matches!(error, WatError::Syntax { .. }), "{error}");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("WAT syntax error in {}", path.display())),
            "{text}"
        );
        assert!(text.contains("broken.wat:3:"), "the line is named: {text}");
        let _ = std::fs::remove_dir_all(directory);
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let path = directory("missing").join("none.wat");
        let error = compile(&path).expect_err("no file");
        assert!(matches!(error, WatError::Read { .. }), "{error}");
        assert!(error.to_string().starts_with("reading "), "{error}");
        assert!(is_wat_path("modules/teaching/oob.wat"));
        assert!(!is_wat_path("modules/uart16550.wasm"));
    }
}
