//! The trusted computing base counted in lines: what runs in ring 0 (the production kernel
//! crate, the Wasm host, the system description and ABI crates, wasmi and wasmparser at the
//! versions `Cargo.lock` pins) and the build's checks in the tool. `cargo cella lab --tcb`
//! prints the count; `docs/labs/00-concepts.md` gives its figures, and a test checks them
//! against a fresh count.
//!
//! A line counts when it is not blank, not a comment (`//`, `/* ... */`) and not test code:
//! files named `tests.rs` or `*_tests.rs`, directories named `tests`, `#[cfg(test)]` items,
//! and the test kernel's hook files are left out.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The kernel files only the test kernel compiles (the `test-hooks` feature).
pub const TEST_HOOK_FILES: &[&str] = &["test_hooks.rs", "mm/self_test.rs", "arch/deliberate.rs"];

/// The build's checks in the tool: the system manifest's reading and validation and the
/// modules' checks against their grants.
pub const BUILD_CHECK_FILES: &[&str] = &[
    "toolchain/src/modules.rs",
    "toolchain/src/modules/problems.rs",
    "toolchain/src/system_manifest/mod.rs",
    "toolchain/src/system_manifest/devices.rs",
    "toolchain/src/system_manifest/grants.rs",
    "toolchain/src/system_manifest/module.rs",
    "toolchain/src/system_manifest/process.rs",
    "toolchain/src/system_manifest/written.rs",
];

/// One part of the trusted computing base and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its name as the concepts chapter's table gives it (`wasmi 2.0.0`).
    pub name: String,
    /// Counted lines.
    pub lines: usize,
    /// Where it runs: `ring 0` or `build`.
    pub place: &'static str,
}

/// The counted lines of Rust source `text` (see the module's documentation).
pub fn count_source(text: &str) -> usize {
    let mut counted = 0;
    let mut in_block_comment = false;
    // After `#[cfg(test)]`: the item that follows is test code.
    let mut test_item_next = false;
    // Inside a test item's braces: their depth.
    let mut test_depth = 0usize;
    for line in text.lines() {
        let trimmed = line.trim();
        if test_depth > 0 {
            test_depth = depth_after(test_depth, trimmed);
            continue;
        }
        if in_block_comment {
            in_block_comment = !trimmed.contains("*/");
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("/*") {
            in_block_comment = !trimmed.contains("*/");
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("#[cfg(test)]") {
            let rest = rest.trim();
            if rest.is_empty() {
                test_item_next = true;
            } else {
                test_depth = depth_after(0, rest);
            }
            continue;
        }
        if test_item_next {
            if trimmed.starts_with("#[") {
                continue;
            }
            test_item_next = false;
            test_depth = depth_after(0, trimmed);
            continue;
        }
        counted += 1;
    }
    counted
}

/// The brace depth after `line`, from `depth` (braces in strings and comments counted too;
/// test modules rarely hold unbalanced ones).
fn depth_after(depth: usize, line: &str) -> usize {
    let opened = line.matches('{').count();
    let closed = line.matches('}').count();
    (depth + opened).saturating_sub(closed)
}

/// Whether `path` (relative to the directory counted) is test code by its name.
fn is_test_path(relative: &Path, excluded: &[&str]) -> bool {
    let text = relative.to_string_lossy().replace('\\', "/");
    let file = relative
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    file == "tests.rs"
        || file.ends_with("_tests.rs")
        || relative
            .components()
            .any(|component| component.as_os_str() == "tests")
        || excluded.iter().any(|excluded| text.ends_with(excluded))
}

/// The counted lines of every `.rs` file under `directory`, test code left out.
///
/// # Errors
/// `directory` or a file under it cannot be read.
pub fn count_directory(directory: &Path, excluded: &[&str]) -> Result<usize> {
    let mut total = 0;
    let mut pending = vec![directory.to_path_buf()];
    while let Some(next) = pending.pop() {
        let entries = std::fs::read_dir(&next)
            .map_err(|error| Error::new(format!("reading {}: {error}", next.display())))?;
        for entry in entries {
            let entry = entry
                .map_err(|error| Error::new(format!("reading {}: {error}", next.display())))?;
            let path = entry.path();
            let relative = path.strip_prefix(directory).unwrap_or(&path);
            if is_test_path(relative, excluded) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                total += count_file(&path)?;
            }
        }
    }
    Ok(total)
}

/// The counted lines of one file.
fn count_file(path: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
    Ok(count_source(&text))
}

/// The version `Cargo.lock` text `lock` pins for `dependency` of package `package`.
///
/// # Errors
/// The package or its dependency is not in the lock file.
pub fn locked_version(lock: &str, package: &str, dependency: &str) -> Result<String> {
    let blocks: Vec<&str> = lock.split("[[package]]").skip(1).collect();
    let field = |block: &str, key: &str| -> Option<String> {
        block.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.trim().strip_prefix('=')?.trim();
            Some(value.trim_matches('"').to_owned())
        })
    };
    let named = |name: &str| -> Vec<&str> {
        blocks
            .iter()
            .copied()
            .filter(|block| field(block, "name ").as_deref() == Some(name))
            .collect()
    };
    let missing = || Error::new(format!("Cargo.lock: no {dependency} for {package}"));
    let owner = named(package).into_iter().next().ok_or_else(missing)?;
    let entry = owner
        .lines()
        .map(|line| line.trim().trim_end_matches(',').trim_matches('"'))
        .find(|line| *line == dependency || line.starts_with(&format!("{dependency} ")))
        .ok_or_else(missing)?;
    if let Some((_, version)) = entry.split_once(' ') {
        return Ok(version.to_owned());
    }
    match named(dependency).as_slice() {
        [only] => field(only, "version ").ok_or_else(missing),
        _ => Err(missing()),
    }
}

/// The source directory of crate `name` at `version` in Cargo's registry under `cargo_home`.
///
/// # Errors
/// The registry holds no such crate (it is fetched by the first build).
pub fn registry_source(cargo_home: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let registry = cargo_home.join("registry/src");
    let wanted = format!("{name}-{version}");
    let indexes = std::fs::read_dir(&registry)
        .map_err(|error| Error::new(format!("reading {}: {error}", registry.display())))?;
    indexes
        .flatten()
        .map(|index| index.path().join(&wanted))
        .find(|path| path.join("src").is_dir())
        .map(|path| path.join("src"))
        .ok_or_else(|| {
            Error::new(format!(
                "{wanted} is not in {} (a build fetches it)",
                registry.display()
            ))
        })
}

/// Cargo's home: `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// The parts of the trusted computing base of the workspace at `root`, counted afresh.
///
/// # Errors
/// A source directory, `Cargo.lock` or a registry crate cannot be read.
pub fn count(root: &Path, cargo_home: &Path) -> Result<Vec<Part>> {
    let lock_path = root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .map_err(|error| Error::new(format!("reading {}: {error}", lock_path.display())))?;
    let own = |name: &str, directory: &str, excluded: &[&str]| -> Result<Part> {
        Ok(Part {
            name: name.to_owned(),
            lines: count_directory(&root.join(directory), excluded)?,
            place: "ring 0",
        })
    };
    let mut parts = vec![
        own("cella-kernel", "kernel/src", TEST_HOOK_FILES)?,
        own("cella-wasm-host", "wasm-host/src", &[])?,
        own("cella-system", "sdk/system/src", &[])?,
        own("cella-abi", "sdk/abi/src", &[])?,
        own("cella-interfaces", "sdk/interfaces/src", &[])?,
    ];
    let wasmi = locked_version(&lock, "cella-wasm-host", "wasmi")?;
    let mut engine = 0;
    for name in ["wasmi", "wasmi_core", "wasmi_ir", "wasmi_collections"] {
        let version = locked_version(&lock, "wasmi", name).or_else(|_| {
            if name == "wasmi" {
                Ok(wasmi.clone())
            } else {
                Err(Error::new(format!("Cargo.lock: no {name} for wasmi")))
            }
        })?;
        engine += count_directory(&registry_source(cargo_home, name, &version)?, &[])?;
    }
    parts.push(Part {
        name: format!("wasmi {wasmi}"),
        lines: engine,
        place: "ring 0",
    });
    let parser = locked_version(&lock, "wasmi", "wasmparser")?;
    parts.push(Part {
        name: format!("wasmparser {parser}"),
        lines: count_directory(&registry_source(cargo_home, "wasmparser", &parser)?, &[])?,
        place: "ring 0",
    });
    let mut checks = 0;
    for file in BUILD_CHECK_FILES {
        checks += count_file(&root.join(file))?;
    }
    parts.push(Part {
        name: "build checks".to_owned(),
        lines: checks,
        place: "build",
    });
    Ok(parts)
}

/// The table `cargo cella lab --tcb` prints.
pub fn table(parts: &[Part]) -> String {
    let mut text = String::from("part                   lines  runs in\n");
    let mut ring0 = 0;
    for part in parts {
        text.push_str(&format!(
            "{:<20} {:>7}  {}\n",
            part.name, part.lines, part.place
        ));
        if part.place == "ring 0" {
            ring0 += part.lines;
        }
    }
    text.push_str(&format!("{:<20} {:>7}  ring 0 in all\n", "total", ring0));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_test_items_are_not_counted() {
        let source = "//! a crate\n\
                      use a::b;\n\
                      \n\
                      /* a block\n   comment */\n\
                      fn f() {\n    // inside\n    g();\n}\n\
                      #[cfg(test)]\nmod tests;\n\
                      #[cfg(test)]\n#[allow(dead_code)]\nmod more {\n    fn t() {\n        x();\n    }\n}\n\
                      fn after() {}\n";
        // `use`, `fn f() {`, `g();`, `}`, `fn after() {}`.
        assert_eq!(count_source(source), 5);
    }

    #[test]
    fn a_dependency_version_is_read_from_the_lock_file() {
        let lock = "[[package]]\nname = \"wasmi\"\nversion = \"2.0.0\"\ndependencies = [\n \"wasmi_core\",\n \"wasmparser 0.228.0\",\n]\n\n\
                    [[package]]\nname = \"wasmi_core\"\nversion = \"2.0.0\"\n\n\
                    [[package]]\nname = \"wasmparser\"\nversion = \"0.228.0\"\n\n\
                    [[package]]\nname = \"wasmparser\"\nversion = \"0.263.0\"\n";
        assert_eq!(
            locked_version(lock, "wasmi", "wasmparser").unwrap(),
            "0.228.0"
        );
        assert_eq!(
            locked_version(lock, "wasmi", "wasmi_core").unwrap(),
            "2.0.0"
        );
        let missing = locked_version(lock, "wasmi", "spin").unwrap_err();
        assert!(missing.message().contains("no spin for wasmi"), "{missing}");
    }

    #[test]
    fn test_files_and_hooks_are_left_out_by_name() {
        for path in ["tests.rs", "a/tests.rs", "tests/x.rs", "b/process_tests.rs"] {
            assert!(is_test_path(Path::new(path), &[]), "{path}");
        }
        assert!(is_test_path(Path::new("mm/self_test.rs"), TEST_HOOK_FILES));
        assert!(!is_test_path(Path::new("mm/heap.rs"), TEST_HOOK_FILES));
    }
}
