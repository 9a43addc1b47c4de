//! Checking a path before it reaches the FAT library: absolute,
//! `/`-separated, no empty, `.` or `..` component, no character FAT does
//! not take in a long name, and within the interface's lengths.

use alloc::vec::Vec;
use cella_sdk::interfaces::fs::{FsError, MAX_NAME_BYTES, MAX_PATH_BYTES};

/// Characters a FAT long name may not hold (besides control characters).
const REFUSED: &[char] = &['"', '*', ':', '<', '>', '?', '\\', '|'];

/// The components of `path` (none for the root, `/`).
///
/// # Errors
/// [`FsError::TooLong`] past [`MAX_PATH_BYTES`] or a component past
/// [`MAX_NAME_BYTES`]; [`FsError::BadPath`] for a relative path, an empty
/// component (`//`, a trailing `/`), `.`, `..`, a control character or one
/// of `"*:<>?\|`.
pub fn components(path: &str) -> Result<Vec<&str>, FsError> {
    if path.len() > MAX_PATH_BYTES {
        return Err(FsError::TooLong);
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(FsError::BadPath);
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::new();
    for part in rest.split('/') {
        if part.len() > MAX_NAME_BYTES {
            return Err(FsError::TooLong);
        }
        let bad_character = part
            .chars()
            .any(|character| character.is_control() || REFUSED.contains(&character));
        if part.is_empty() || part == "." || part == ".." || bad_character {
            return Err(FsError::BadPath);
        }
        parts.push(part);
    }
    Ok(parts)
}

/// The key open files are shared by: FAT compares names without case.
pub fn key(path: &str) -> alloc::string::String {
    path.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_paths_split_into_their_names() {
        assert_eq!(components("/"), Ok(Vec::new()));
        assert_eq!(components("/a"), Ok(alloc::vec!["a"]));
        assert_eq!(
            components("/modules/uart16550-v2.wasm"),
            Ok(alloc::vec!["modules", "uart16550-v2.wasm"])
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        for path in [
            "",
            "a",
            "a/b",
            "//",
            "/a/",
            "/a//b",
            "/.",
            "/..",
            "/a/../b",
            "/a/./b",
            "/a\0b",
            "/a:b",
            "/a*",
            "/a?b",
            "/a|b",
            "/a\\b",
            "/a<b",
            "/a>b",
            "/\"a\"",
            "/tab\there",
        ] {
            assert_eq!(components(path), Err(FsError::BadPath), "{path:?}");
        }
    }

    #[test]
    fn long_paths_and_names_are_too_long() {
        let name = "n".repeat(MAX_NAME_BYTES);
        assert!(components(&alloc::format!("/{}", &name[1..])).is_ok());
        assert_eq!(
            components(&alloc::format!("/{name}")),
            Err(FsError::TooLong)
        );
        let path = "/abc".repeat(64);
        assert_eq!(components(&path), Err(FsError::TooLong));
    }
}
