//! The in-system benchmark of `cella bench`: one QEMU boot (TCG) of the test kernel's `bench`
//! scenario with the native benchmark program (`userland`, `bin/bench`), the program it starts
//! and waits for (`bin/exit-at-once`) and the Wasm module it is compared with
//! (`modules/checksum`). The kernel prints the figures and their ratios
//! (`bench: ...` lines); figures from one run are only meaningful relative to each other.

use super::bench_boot::{self, BenchBoot};
use crate::archive::ArchiveEntry;
use crate::cargo;
use crate::commands::build::write_archive;
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::PathBuf;

fn build(shell: &Shell, workspace: &Workspace, package: &str, target: &str) -> Result<PathBuf> {
    let mut command = cargo::cargo_command(&workspace.root, "build");
    command.args(["--release", "--package", package, "--target", target]);
    if !shell.verbose() {
        command.arg("--quiet");
    }
    shell
        .run(&mut command)
        .map_err(|error| error.context(format!("building {package}")))?;
    Ok(workspace.target_directory.join(target).join("release"))
}

fn read(path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|error| Error::new(format!("reading {}: {error}", path.display())))
}

/// Builds what the scenario needs, boots it, prints the `bench:` lines; returns the serial
/// output (the yardstick comparison reads Cella's figures from it).
pub fn run(shell: &Shell, workspace: &Workspace) -> Result<String> {
    let qemu = setup::ensure(shell, &workspace.root, Needs::QEMU_AND_DISK)?
        .ok_or_else(|| Error::new("QEMU is needed for the in-system benchmark"))?;
    let kernel = cargo::build_kernel(
        shell,
        &workspace.root,
        &workspace.target_directory,
        cargo::Kernel::Test,
    )?;
    let native = build(shell, workspace, "cella-userland", "x86_64-unknown-none")?;
    let wasm = build(shell, workspace, "cella-checksum", "wasm32-unknown-unknown")?;
    let entries = vec![
        ArchiveEntry::new("bin/bench", read(native.join("bench"))?),
        ArchiveEntry::new("bin/exit-at-once", read(native.join("exit-at-once"))?),
        ArchiveEntry::new(
            "modules/checksum.wasm",
            read(wasm.join("cella_checksum.wasm"))?,
        ),
    ];
    let archive = workspace.cella_directory().join("bench.tar");
    write_archive(&archive, &entries)?;
    bench_boot::run(
        shell,
        BenchBoot {
            qemu,
            kernel,
            archive,
            disk: crate::disk_image::private_copy(&workspace.cella_directory(), "bench")?,
            scenario: "bench",
            title: "in-system benchmark",
            timeout: bench_boot::TIMEOUT,
        },
    )
}
