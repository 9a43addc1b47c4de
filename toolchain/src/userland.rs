//! Native ring-3 programs for the boot archive: every binary of `cella-userland`, and the
//! native builds of module crates that have one (`modules/checksum`'s `checksum-native`, the
//! same source as its Wasm module through the SDK's native backend). Each becomes
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
/// Module crates with a native build: (package, binary, feature).
pub const NATIVE_MODULES: [(&str, &str, &str); 2] = [
    ("cella-checksum", "checksum-native", "native"),
    ("cella-cmos-rtc", "cmos-rtc-native", "native"),
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
    for (module, binary, _) in NATIVE_MODULES {
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
    for (module, binary, feature) in NATIVE_MODULES {
        if !workspace.has_target(module, "bin", binary) {
            continue;
        }
        let mut command = cargo::cargo_command(&workspace.root, "build");
        command.args([
            "--release",
            "--package",
            module,
            "--features",
            feature,
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
