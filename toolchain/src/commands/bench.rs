//! `cella bench`: the in-system benchmark (one QEMU boot, see `system_bench`), the supervisor
//! benchmark (another boot, see `supervisor_bench`), the disk benchmark (two boots, see
//! `disk_bench`), the file-system benchmark (one boot on a copy of the file-system image, see
//! `fs_bench`), the network benchmark (Cella and a Linux yardstick, see `network_bench`), boot
//! to user space of Cella and of the
//! Linux yardstick with the yardstick's figures beside Cella's (see `yardstick_bench`), then
//! the host benchmarks (`cargo bench -p cella-wasm-host --bench host`).

use crate::cargo;
use crate::fs_image;
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};

const BENCH_PACKAGE: &str = "cella-wasm-host";
const BENCH_NAME: &str = "host";

/// Runs the host benchmark, passing `arguments` to the bench binary.
pub fn bench(shell: &Shell, workspace: &Workspace, arguments: &[String]) -> Result<()> {
    let in_system = super::system_bench::run(shell, workspace)?;
    let qemu = super::supervisor_bench::run(shell, workspace)?;
    let disk = super::disk_bench::run(shell, workspace, &qemu)?;
    // Boot to the shell's prompt is timed on the production system, as users boot it.
    let system = super::build::build_all(
        shell,
        workspace,
        super::build::Image::Production { teaching: false },
    )?;
    let files = fs_image::module_files(&workspace.root, &system.archive_entries)?;
    let image = fs_image::ensured(shell, &workspace.cella_directory(), &files)?;
    let file_system = super::fs_bench::run(shell, workspace, &qemu, &image)?;
    super::network_bench::run(shell, workspace, &qemu, &system, &image)?;
    super::yardstick_bench::run(
        shell,
        workspace,
        &qemu,
        &in_system,
        &system,
        &image,
        &disk,
        &file_system,
    )?;
    setup::ensure(shell, &workspace.root, Needs::NOTHING_ELSE)?;
    if !workspace.has_target(BENCH_PACKAGE, "bench", BENCH_NAME) {
        return Err(Error::new(format!(
            "there is no host benchmark yet: package `{BENCH_PACKAGE}` has no bench target \
             named `{BENCH_NAME}` (expected `cargo bench -p {BENCH_PACKAGE} --bench {BENCH_NAME}`)"
        )));
    }
    let mut command = cargo::cargo_command(&workspace.root, "bench");
    command.args(["--package", BENCH_PACKAGE, "--bench", BENCH_NAME]);
    if !arguments.is_empty() {
        command.arg("--").args(arguments);
    }
    shell
        .run(&mut command)
        .map_err(|error| error.context("running the host benchmarks"))
}
