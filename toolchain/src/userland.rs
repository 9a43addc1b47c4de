//! Native ring-3 programs for the boot archive: every binary of `cella-userland`, and the
//! native builds of module sources that have one (`modules/checksum/native`'s
//! `checksum-native` and `checksum-ring3`, the same source as the Wasm module through the SDK's native
//! backend, serving `checksum` and `checksum-ring3`). Each becomes
//! `bin/NAME` in the archive; `process NAME bin/NAME` lines in `system.manifest` start them
//! (see `docs/processes.md`).

use crate::archive::ArchiveEntry;
use crate::cargo;
use crate::progress::Step;
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};

/// The user programs' package.
pub const USERLAND_PACKAGE: &str = "cella-userland";
/// Target triple of native processes.
pub const NATIVE_TARGET: &str = "x86_64-unknown-none";
/// Module sources with a native build: (package, binary). Each is a package of its own in the
/// module's `native/` directory whose library is the module's `src/lib.rs`, so no `cdylib` is
/// ever built for the native target.
pub const NATIVE_MODULES: [(&str, &str); 5] = [
    ("cella-checksum-native", "checksum-native"),
    ("cella-checksum-native", "checksum-ring3"),
    ("cella-cmos-rtc-native", "cmos-rtc-native"),
    ("cella-virtio-blk-native", "virtio-blk-native"),
    ("cella-virtio-net-native", "virtio-net-native"),
];

/// The native programs the tool builds and packs, by binary name: `cella-userland`'s binaries,
/// then the [`NATIVE_MODULES`] binaries the workspace has. A `[[process]]` of
/// `modules/system.toml` must run one of them.
pub fn programs(workspace: &Workspace) -> Vec<String> {
    let Some(package) = workspace.package(USERLAND_PACKAGE) else {
        return Vec::new();
    };
    let mut names: Vec<String> = package
        .targets
        .iter()
        .filter(|(kind, _)| kind == "bin")
        .map(|(_, name)| name.clone())
        .collect();
    for (module, binary) in NATIVE_MODULES {
        if workspace.has_target(module, "bin", binary) {
            names.push(binary.to_owned());
        }
    }
    names
}

/// Builds the programs (release) and returns their archive entries, `bin/NAME`.
pub fn archive_entries(shell: &Shell, workspace: &Workspace) -> Result<Vec<ArchiveEntry>> {
    if workspace.package(USERLAND_PACKAGE).is_none() {
        return Ok(Vec::new());
    }
    let step = Step::start("building native programs");
    let mut command = cargo::cargo_command(&workspace.root, "build");
    command.args([
        "--release",
        "--package",
        USERLAND_PACKAGE,
        "--target",
        NATIVE_TARGET,
    ]);
    if !shell.verbose() {
        command.arg("--quiet");
    }
    shell
        .run(&mut command)
        .map_err(|error| error.context("building userland"))?;
    let names = programs(workspace);
    for (module, binary) in NATIVE_MODULES {
        if !workspace.has_target(module, "bin", binary) {
            continue;
        }
        let mut command = cargo::cargo_command(&workspace.root, "build");
        command.args([
            "--release",
            "--package",
            module,
            "--bin",
            binary,
            "--target",
            NATIVE_TARGET,
        ]);
        if !shell.verbose() {
            command.arg("--quiet");
        }
        shell
            .run(&mut command)
            .map_err(|error| error.context(format!("building {binary}")))?;
    }
    let directory = workspace
        .target_directory
        .join(NATIVE_TARGET)
        .join("release");
    let mut entries = Vec::new();
    for name in names {
        let path = directory.join(&name);
        let bytes = std::fs::read(&path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
        entries.push(ArchiveEntry::new(format!("bin/{name}"), bytes));
    }
    step.done();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::Shell;

    /// rustc drops a `cdylib` crate type on the native target with a warning in every build's
    /// output (`dropping unsupported crate type`), and cargo builds every crate type a
    /// package's library lists: no package built for the native target may list `cdylib`.
    #[test]
    fn native_builds_are_packages_without_a_cdylib() {
        let workspace = Workspace::load(&Shell::new(false)).expect("the workspace");
        for package in NATIVE_MODULES
            .iter()
            .map(|(package, _)| *package)
            .chain([USERLAND_PACKAGE])
        {
            let found = workspace
                .package(package)
                .unwrap_or_else(|| panic!("{package} is not a workspace package"));
            let kinds: Vec<&str> = found
                .targets
                .iter()
                .map(|(kind, _)| kind.as_str())
                .collect();
            assert!(!kinds.contains(&"cdylib"), "{package}: {kinds:?}");
        }
        for (package, binary) in NATIVE_MODULES {
            assert!(
                workspace.has_target(package, "bin", binary),
                "{package} has no binary {binary}"
            );
        }
        let names = programs(&workspace);
        for (_, binary) in NATIVE_MODULES {
            assert!(names.iter().any(|name| name == binary), "{names:?}");
        }
    }
}
