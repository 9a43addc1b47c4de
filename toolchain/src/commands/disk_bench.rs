//! The disk benchmark of `cella bench`: the virtio-blk driver's source as a Wasm module
//! (scenario `disk_bench`, the test system's boot archive) and as a native process (scenario
//! `native_disk_bench`, an archive with `bin/virtio-blk-native`), two QEMU boots (TCG), each
//! on a copy of the disk image. Each prints `disk_bench: BUILD OPERATION AMOUNT UNIT in NS
//! ns` lines (printed under each boot's title), read here into the figures the yardstick's disk table puts beside Linux's.

use super::bench_boot::{self, BenchBoot};
use crate::archive::ArchiveEntry;
use crate::cargo;
use crate::commands::build::{BuildOutputs, Image, build_all, write_archive};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::yardstick::disk::{CellaDisk, DriverFigures};
use crate::{Error, Result};
use std::path::Path;

/// Boots both scenarios and reads their figures.
///
/// # Errors
/// A build or a boot failed, or a figure is missing.
pub fn run(shell: &Shell, workspace: &Workspace, qemu: &Path) -> Result<CellaDisk> {
    let test_system: BuildOutputs = build_all(shell, workspace, Image::Test)?;
    let cella = workspace.cella_directory();
    let wasm = bench_boot::run(
        shell,
        BenchBoot {
            qemu: qemu.to_path_buf(),
            kernel: test_system.kernel.clone(),
            archive: test_system.boot_archive.clone(),
            disk: crate::disk_image::private_copy(&cella, "disk-bench")?,
            scenario: "disk_bench",
            title: "disk benchmark, the Wasm driver",
            timeout: bench_boot::TIMEOUT,
        },
    )?;
    let mut command = cargo::cargo_command(&workspace.root, "build");
    command.args([
        "--release",
        "--package",
        "cella-virtio-blk-native",
        "--target",
        "x86_64-unknown-none",
    ]);
    if !shell.verbose() {
        command.arg("--quiet");
    }
    shell
        .run(&mut command)
        .map_err(|error| error.context("building the native virtio-blk driver"))?;
    let binary = workspace
        .target_directory
        .join("x86_64-unknown-none/release/virtio-blk-native");
    let bytes = std::fs::read(&binary)
        .map_err(|error| Error::new(format!("reading {}: {error}", binary.display())))?;
    let archive = cella.join("disk-bench.tar");
    write_archive(
        &archive,
        &[ArchiveEntry::new("bin/virtio-blk-native", bytes)],
    )?;
    let native = bench_boot::run(
        shell,
        BenchBoot {
            qemu: qemu.to_path_buf(),
            kernel: test_system.kernel.clone(),
            archive,
            disk: crate::disk_image::private_copy(&cella, "native-disk-bench")?,
            scenario: "native_disk_bench",
            title: "disk benchmark, the native driver",
            timeout: bench_boot::TIMEOUT,
        },
    )?;
    Ok(CellaDisk {
        wasm: DriverFigures::parse(&wasm, "wasm").map_err(Error::new)?,
        native: DriverFigures::parse(&native, "native").map_err(Error::new)?,
    })
}
