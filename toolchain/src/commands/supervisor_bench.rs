//! The supervisor part of `cella bench`: one QEMU boot (TCG) of the test kernel's
//! `supervisor_bench` scenario with the test system's boot archive (the system's modules, the
//! `faulty` teaching module and the UART driver's swap fixtures). The kernel prints its `bench:` lines:
//! a baseline event delivery, fault-to-next-event restart time and the UART swap blackout,
//! in guest time and as ratios.

use super::bench_boot::{self, BenchBoot};
use crate::commands::build::{Image, build_all};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::PathBuf;

/// Builds the test image, boots the scenario, prints the `bench:` lines; returns QEMU's path
/// (the boot-time figure and the yardstick boot with it).
pub fn run(shell: &Shell, workspace: &Workspace) -> Result<PathBuf> {
    let qemu = setup::ensure(shell, &workspace.root, Needs::QEMU_AND_DISK)?
        .ok_or_else(|| Error::new("QEMU is needed for the supervisor benchmark"))?;
    let outputs = build_all(shell, workspace, Image::Test)?;
    bench_boot::run(
        shell,
        BenchBoot {
            qemu: qemu.clone(),
            kernel: outputs.kernel.clone(),
            archive: outputs.boot_archive.clone(),
            disk: crate::disk_image::private_copy(
                &workspace.cella_directory(),
                "supervisor-bench",
            )?,
            scenario: "supervisor_bench",
            title: "supervisor benchmark",
            timeout: bench_boot::TIMEOUT,
        },
    )?;
    Ok(qemu)
}
