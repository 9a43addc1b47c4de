//! `cella new driver NAME`: a new driver crate in `drivers-wasm/NAME` (package `cella-NAME`)
//! from a template that builds, registered in the workspace, with a host test against a device
//! model in `drivers-wasm/device-tests/tests/NAME.rs` that passes as generated.

use crate::progress;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::Path;

const CARGO_TOML: &str = include_str!("../templates/driver_Cargo.toml");
const LIB_RS: &str = include_str!("../templates/driver_lib.rs");
const TEST_RS: &str = include_str!("../templates/driver_test.rs");

/// Checks a driver name: lower-case letters, digits and `-`, starting with a letter.
pub fn check_name(name: &str) -> Result<()> {
    let valid = name.len() <= 48
        && name.starts_with(|character: char| character.is_ascii_lowercase())
        && name.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
        })
        && !name.ends_with('-');
    if valid && name != "device-tests" {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "`{name}` is not a usable driver name: use lower-case letters, digits and `-`, starting with a letter (e.g. `rtl8139`)"
        )))
    }
}

/// The files of a new driver `name`: (path relative to the workspace root, contents).
pub fn driver_files(name: &str) -> Vec<(String, String)> {
    let fill = |template: &str| template.replace("{{name}}", name);
    vec![
        (format!("drivers-wasm/{name}/Cargo.toml"), fill(CARGO_TOML)),
        (format!("drivers-wasm/{name}/src/lib.rs"), fill(LIB_RS)),
        (
            format!(
                "drivers-wasm/device-tests/tests/{}.rs",
                name.replace('-', "_")
            ),
            fill(TEST_RS),
        ),
    ]
}

/// Adds `"drivers-wasm/NAME",` as the last entry of the workspace's `members` list.
pub fn add_member(cargo_toml: &str, name: &str) -> Result<String> {
    let member = format!("\"drivers-wasm/{name}\"");
    let start = cargo_toml
        .find("\nmembers = [")
        .ok_or_else(|| Error::new("Cargo.toml has no `members = [` list"))?;
    let end = cargo_toml[start..]
        .find("\n]")
        .map(|offset| start + offset)
        .ok_or_else(|| Error::new("Cargo.toml's `members` list has no closing `]` line"))?;
    if cargo_toml[start..end].contains(&member) {
        return Ok(cargo_toml.to_owned());
    }
    Ok(format!(
        "{}\n    {member},{}",
        &cargo_toml[..end],
        &cargo_toml[end..]
    ))
}

/// `cella new driver NAME`.
pub fn new_driver(workspace: &Workspace, name: &str) -> Result<()> {
    check_name(name)?;
    create_driver(&workspace.root, name)?;
    progress::message(&format!(
        "created drivers-wasm/{name} (package cella-{name}) and its host test drivers-wasm/device-tests/tests/{}.rs",
        name.replace('-', "_")
    ));
    progress::message(&format!(
        "next: `cargo test -p cella-device-tests --test {}`; to boot it, add to modules/system.toml:\n\n\
         [[module]]\nname = \"{name}\"\npackage = \"cella-{name}\"\nports = [{{ base = 0x2e8, count = 8 }}]\n",
        name.replace('-', "_")
    ));
    Ok(())
}

/// Writes the files and registers the crate; refuses to overwrite anything.
pub fn create_driver(root: &Path, name: &str) -> Result<()> {
    let directory = root.join("drivers-wasm").join(name);
    if directory.exists() {
        return Err(Error::new(format!(
            "{} already exists",
            directory.display()
        )));
    }
    let files = driver_files(name);
    for (path, _) in &files {
        if root.join(path).exists() {
            return Err(Error::new(format!("{path} already exists")));
        }
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|error| Error::new(format!("reading {}: {error}", manifest_path.display())))?;
    let manifest = add_member(&manifest, name)?;
    for (path, contents) in &files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|error| Error::new(format!("creating {}: {error}", parent.display())))?;
        }
        std::fs::write(&path, contents)
            .map_err(|error| Error::new(format!("writing {}: {error}", path.display())))?;
    }
    std::fs::write(&manifest_path, manifest)
        .map_err(|error| Error::new(format!("writing {}: {error}", manifest_path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["rtl8139", "virtio-net", "a1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Net", "1x", "a_b", "x-", "device-tests", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn appends_a_member_once() {
        let text =
            "[workspace]\nmembers = [\n    \"kernel\",\n]\ndefault-members = [\n    \"x\",\n]\n";
        let added = add_member(text, "net").unwrap();
        assert_eq!(
            added,
            "[workspace]\nmembers = [\n    \"kernel\",\n    \"drivers-wasm/net\",\n]\ndefault-members = [\n    \"x\",\n]\n"
        );
        assert_eq!(add_member(&added, "net").unwrap(), added);
    }

    #[test]
    fn templates_name_the_driver() {
        let files = driver_files("my-dev");
        assert_eq!(files.len(), 3);
        assert!(files[0].1.contains("name = \"cella-my-dev\""));
        assert!(files[1].1.contains("name: \"my-dev\""));
        assert!(files[2].0.ends_with("tests/my_dev.rs"));
        // The module's version is the crate's: one place to raise it.
        let manifest: toml::Table = files[0].1.parse().expect("the Cargo.toml template is TOML");
        assert_eq!(manifest["package"]["version"].as_str(), Some("0.1.0"));
        assert!(manifest["package"]["rust-version"].is_table());
        assert!(
            !files[1]
                .1
                .lines()
                .any(|line| line.trim().starts_with("version:")),
            "{}",
            files[1].1
        );
        assert!(files.iter().all(|(_, text)| !text.contains("{{")));
    }
}
