//! The file-system benchmark of `cella bench`: the test kernel's scenario `fs_bench` (one QEMU
//! boot, TCG) with a copy of the FAT32 file-system image as its disk, on which the `fs` module
//! does the work Linux's vfat yardstick does on another copy ([`crate::yardstick::vfat`]).
//! Its `fs_bench: fs-PHASE AMOUNT UNIT in NS ns` lines are printed under the boot's title and
//! read here into the figures the yardstick's file-system table puts beside Linux's.

use super::bench_boot::{self, BenchBoot};
use crate::commands::build::{Image, build_all};
use crate::disk_image;
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::yardstick::disk::Timed;
use crate::yardstick::vfat;
use crate::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// The boot is killed after this long: under TCG its thousand small files and its 16 MiB
/// file take about two minutes on two shared cores (docs/performance.md, "The file system");
/// ten minutes leave room for a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(600);

/// Boots the scenario on a copy of `image` (removed afterwards) and reads its figures, phase
/// by phase: a boot that failed part of the way (its log's error lines are printed) gives
/// the phases it finished.
///
/// # Errors
/// The build failed, or a line is malformed.
pub fn run(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
    image: &Path,
) -> Result<[Option<Timed>; 4]> {
    let test_system = build_all(shell, workspace, Image::Test)?;
    let cella = workspace.cella_directory();
    let disk = disk_image::copy_path(&cella, "fs-bench");
    disk_image::copy(image, &disk)?;
    let boot = bench_boot::run(
        shell,
        BenchBoot {
            qemu: qemu.to_path_buf(),
            kernel: test_system.kernel,
            archive: test_system.boot_archive,
            disk: disk.clone(),
            scenario: "fs_bench",
            title: "file-system benchmark, the fs module",
            timeout: TIMEOUT,
        },
    );
    let _ = std::fs::remove_file(&disk);
    let serial = match boot {
        Ok(serial) => serial,
        Err(error) => {
            let text = error.to_string();
            let mut lines = text.lines();
            let first = lines.next().unwrap_or("no reason given");
            println!(
                "  the boot failed: {}",
                first.trim_end_matches("; serial log:")
            );
            for line in lines.filter(|line| line.starts_with("ERROR")) {
                println!("  {line}");
            }
            text
        }
    };
    vfat::parse_cella_phases(&serial).map_err(Error::new)
}
