//! Where the Cella workspace and its target directory are, from `cargo metadata` (so
//! `CARGO_TARGET_DIR` and `build.target-dir` are honoured).

use crate::shell::Shell;
use crate::{Error, Result, cargo};
use std::path::PathBuf;
use std::process::Command;

/// A package of the workspace and the names of its targets by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Package name, e.g. `cella-wasm-host`.
    pub name: String,
    /// (kind, name) of each target, e.g. (`bench`, `host`).
    pub targets: Vec<(String, String)>,
    /// The directory of its `Cargo.toml`.
    pub directory: PathBuf,
}

/// The workspace the tool operates on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// Directory holding the workspace `Cargo.toml`.
    pub root: PathBuf,
    /// Cargo's target directory.
    pub target_directory: PathBuf,
    /// The workspace's packages.
    pub packages: Vec<Package>,
}

impl Workspace {
    /// Reads the workspace around the current directory with `cargo metadata`.
    pub fn load(shell: &Shell) -> Result<Workspace> {
        let mut command = Command::new(cargo::cargo_program());
        command.args(["metadata", "--format-version", "1", "--no-deps"]);
        let json = shell
            .capture_stdout(&mut command)
            .map_err(|error| error.context("reading the workspace layout (cargo metadata)"))?;
        let workspace = Workspace::from_metadata(&json)?;
        if workspace.package(cargo::KERNEL_PACKAGE).is_none() {
            return Err(Error::new(format!(
                "the workspace at {} has no `{}` package: run cella inside the Cella repository",
                workspace.root.display(),
                cargo::KERNEL_PACKAGE
            )));
        }
        Ok(workspace)
    }

    /// Parses the JSON printed by `cargo metadata --format-version 1`.
    pub fn from_metadata(json: &str) -> Result<Workspace> {
        let metadata: serde_json::Value = serde_json::from_str(json)
            .map_err(|error| Error::new(format!("cargo metadata printed invalid JSON: {error}")))?;
        let text = |key: &str| {
            metadata[key]
                .as_str()
                .map(PathBuf::from)
                .ok_or_else(|| Error::new(format!("cargo metadata has no `{key}`")))
        };
        let packages = metadata["packages"]
            .as_array()
            .map(|packages| {
                packages
                    .iter()
                    .map(|package| Package {
                        name: package["name"].as_str().unwrap_or_default().to_owned(),
                        directory: package["manifest_path"]
                            .as_str()
                            .map(PathBuf::from)
                            .and_then(|path| path.parent().map(PathBuf::from))
                            .unwrap_or_default(),
                        targets: package["targets"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .flat_map(|target| {
                                let name = target["name"].as_str().unwrap_or_default().to_owned();
                                target["kind"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(|kind| kind.as_str())
                                    .map(move |kind| (kind.to_owned(), name.clone()))
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Workspace {
            root: text("workspace_root")?,
            target_directory: text("target_directory")?,
            packages,
        })
    }

    /// The package named `name`, if the workspace has it.
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|package| package.name == name)
    }

    /// Whether package `package` has a target of kind `kind` named `name`.
    pub fn has_target(&self, package: &str, kind: &str, name: &str) -> bool {
        self.package(package).is_some_and(|package| {
            package
                .targets
                .iter()
                .any(|(target_kind, target_name)| target_kind == kind && target_name == name)
        })
    }

    /// `<target>/cella`: where the tool puts what it produces (the boot archive, test logs).
    pub fn cella_directory(&self) -> PathBuf {
        self.target_directory.join("cella")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata() {
        let json = r#"{
            "packages": [
                {"name": "cella-wasm-host", "targets": [
                    {"kind": ["lib"], "name": "cella_wasm_host"},
                    {"kind": ["bench"], "name": "host"}
                ]},
                {"name": "cella-kernel", "targets": [{"kind": ["bin"], "name": "cella-kernel"}]}
            ],
            "workspace_root": "/src/cella",
            "target_directory": "/tmp/target \"x\"",
            "version": 1
        }"#;
        let workspace = Workspace::from_metadata(json).unwrap();
        assert_eq!(workspace.root, PathBuf::from("/src/cella"));
        assert_eq!(
            workspace.target_directory,
            PathBuf::from("/tmp/target \"x\"")
        );
        assert!(workspace.has_target("cella-wasm-host", "bench", "host"));
        assert!(!workspace.has_target("cella-wasm-host", "bench", "other"));
        assert!(!workspace.has_target("cella-kernel", "bench", "host"));
        assert_eq!(
            workspace.cella_directory(),
            PathBuf::from("/tmp/target \"x\"/cella")
        );
    }

    #[test]
    fn rejects_incomplete_metadata() {
        assert!(Workspace::from_metadata("{}").is_err());
        assert!(Workspace::from_metadata("not json").is_err());
    }
}
