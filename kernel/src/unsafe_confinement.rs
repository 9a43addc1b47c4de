//! The check that keeps `unsafe` in `arch` and `mm`: every other top-level
//! module of the kernel crate must start with `#![forbid(unsafe_code)]`, so
//! the compiler, not a reviewer, refuses an `unsafe` block anywhere else.
//!
//! The modules are read from the `mod` declarations of `lib.rs`, so a new
//! module cannot be missed; a module declared inline (`mod name { ... }`) is
//! refused too, since it has no file of its own to carry the attribute.
#![forbid(unsafe_code)]

use std::path::Path;

/// The modules allowed to contain `unsafe`.
pub const UNSAFE_ALLOWED: [&str; 2] = ["arch", "mm"];

/// The attribute every other module's file carries.
const FORBID: &str = "#![forbid(unsafe_code)]";

/// The modules `lib.rs` (in `source`) declares outside [`UNSAFE_ALLOWED`]
/// whose file lacks [`FORBID`] among its inner attributes, each with the
/// reason; empty when every module is confined.
pub fn unconfined_modules(source: &Path) -> Vec<String> {
    let library = match std::fs::read_to_string(source.join("lib.rs")) {
        Ok(text) => text,
        Err(error) => return std::vec![std::format!("lib.rs: {error}")],
    };
    let mut problems = Vec::new();
    for line in library.lines() {
        let Some((name, inline)) = declared_module(line) else {
            continue;
        };
        if UNSAFE_ALLOWED.contains(&name) {
            continue;
        }
        if inline {
            problems.push(std::format!("{name}: declared inline in lib.rs"));
            continue;
        }
        let flat = source.join(std::format!("{name}.rs"));
        let nested = source.join(name).join("mod.rs");
        let text = std::fs::read_to_string(&flat).or_else(|_| std::fs::read_to_string(&nested));
        match text {
            Ok(text) if forbids_unsafe(&text) => {}
            Ok(_) => problems.push(std::format!("{name}: no {FORBID} at the top")),
            Err(_) => problems.push(std::format!("{name}: no {name}.rs or {name}/mod.rs")),
        }
    }
    problems
}

/// `(name, declared inline)` if `line` declares a module (`mod x;`, `pub mod x;`, `mod x {`).
fn declared_module(line: &str) -> Option<(&str, bool)> {
    let line = line.trim();
    let rest = line
        .strip_prefix("pub mod ")
        .or_else(|| line.strip_prefix("pub(crate) mod "))
        .or_else(|| line.strip_prefix("mod "))?;
    let name_end = rest
        .find(|character: char| !(character.is_alphanumeric() || character == '_'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(name_end);
    Some((name, !after.trim_start().starts_with(';')))
}

/// Whether the inner attributes at the top of a module file (after its `//!`
/// lines) include [`FORBID`].
fn forbids_unsafe(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .take_while(|line| line.starts_with("#!["))
        .any(|line| line == FORBID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_module_outside_arch_and_mm_forbids_unsafe() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let problems = unconfined_modules(&source);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// A scratch `src` directory with the given files.
    fn scratch(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let directory = std::env::temp_dir().join(std::format!(
            "cella-unsafe-confinement-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        for (path, text) in files {
            let path = directory.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        directory
    }

    #[test]
    fn a_module_without_the_attribute_is_reported() {
        let source = scratch(
            "missing",
            &[
                (
                    "lib.rs",
                    "//! x\npub mod arch;\npub mod kept;\n#[cfg(x)]\nmod loose;\npub mod nested;\n",
                ),
                ("arch/mod.rs", "//! arch\npub fn f() {}\n"),
                (
                    "kept.rs",
                    "//! kept\n//!\n#![forbid(unsafe_code)]\n\nfn f() {}\n",
                ),
                ("loose.rs", "//! loose\n\nfn f() {}\n"),
                ("nested/mod.rs", "//! nested\n#![allow(dead_code)]\n"),
            ],
        );
        let problems = unconfined_modules(&source);
        let _ = std::fs::remove_dir_all(&source);
        assert_eq!(
            problems,
            std::vec![
                std::format!("loose: no {FORBID} at the top"),
                std::format!("nested: no {FORBID} at the top"),
            ]
        );
    }

    #[test]
    fn an_attribute_further_down_or_in_a_comment_does_not_count() {
        let source = scratch(
            "late",
            &[
                (
                    "lib.rs",
                    "pub mod late;\npub mod commented;\nmod inline {}\n",
                ),
                ("late.rs", "//! late\nfn f() {}\n#![forbid(unsafe_code)]\n"),
                ("commented.rs", "//! #![forbid(unsafe_code)]\nfn f() {}\n"),
            ],
        );
        let problems = unconfined_modules(&source);
        let _ = std::fs::remove_dir_all(&source);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[2].starts_with("inline: declared inline"));
    }

    #[test]
    fn a_declared_module_without_a_file_is_reported() {
        let source = scratch("absent", &[("lib.rs", "pub mod ghost;\n")]);
        let problems = unconfined_modules(&source);
        let _ = std::fs::remove_dir_all(&source);
        assert_eq!(
            problems,
            std::vec!["ghost: no ghost.rs or ghost/mod.rs".to_string()]
        );
    }
}
