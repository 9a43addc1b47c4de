//! The yardstick part of `cella bench`: Cella's boot to its shell prompt and Debian's Linux
//! booted by the same QEMU command ([`crate::yardstick`]), both timed on the host's clock,
//! then each Linux figure beside Cella's from the same run (the in-system benchmark's
//! serial output), with ratios, and Linux's figures on the vfat volume of Cella's
//! file-system image beside Cella's file server's on the same image. A machine without the Linux packages (and no way to
//! install them) gets a line saying the yardstick was skipped and why.

use crate::boot_clock::{self, Ending, Watch};
use crate::commands::build::BuildOutputs;
use crate::disk_image;
use crate::qemu::{QemuInvocation, Serial};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::yardstick::comparison::{self, Cella};
use crate::yardstick::disk::CellaDisk;
use crate::yardstick::disk::Timed;
use crate::yardstick::{self, Outcome};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the shell prints when it is ready for a command.
const SHELL_PROMPT: &str = "cella> ";
/// The production boot is killed after this long without a prompt.
const PROMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// QEMU start to the shell's first prompt: the production system (as `cella run` boots it),
/// stopped once the prompt appears.
fn boot_to_prompt(
    shell: &Shell,
    qemu: &Path,
    outputs: &BuildOutputs,
    disk: PathBuf,
) -> Result<Duration> {
    let mut invocation = QemuInvocation::new(qemu.to_owned(), outputs.kernel.clone());
    invocation.initrd = Some(outputs.boot_archive.clone());
    invocation.disk = Some(disk);
    invocation.serial = Serial::Stdio;
    let boot = boot_clock::watch(
        shell,
        invocation.command(),
        &Watch {
            marks: &[SHELL_PROMPT],
            stop_at: &[SHELL_PROMPT],
            timeout: PROMPT_TIMEOUT,
        },
    )?;
    match (boot.marks[0], &boot.ending) {
        (Some(prompt), Ending::Stopped) => Ok(prompt),
        (_, ending) => Err(Error::new(format!(
            "Cella's boot showed no shell prompt ({ending}); serial output:\n{}",
            boot.output
        ))),
    }
}

/// Boots both systems and prints the comparison. `cella_serial` is the in-system
/// benchmark's serial output; `outputs` the built production system; `image` its
/// file-system image (`cargo cella run`'s disk), of which both boots get a copy;
/// `cella_disk` and `cella_file_system` Cella's disk and file-system figures (the latter
/// phase by phase, as far as its run went).
///
/// # Errors
/// A boot failed or Cella's figures are missing (a machine without the Linux packages is
/// not an error: the yardstick is skipped with a line that says why).
// Each argument is a figure or a part of the system both boots need, made once by `bench`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
    cella_serial: &str,
    outputs: &BuildOutputs,
    image: &Path,
    cella_disk: &CellaDisk,
    cella_file_system: &[Option<Timed>; 4],
) -> Result<()> {
    let cella_figures = comparison::parse_cella(cella_serial).map_err(Error::new)?;
    let cella = workspace.cella_directory();
    let private_copy = |name: &str| -> Result<PathBuf> {
        let copy = disk_image::copy_path(&cella, name);
        disk_image::copy(image, &copy)?;
        Ok(copy)
    };
    let cella_boot = boot_to_prompt(shell, qemu, outputs, private_copy("boot-to-prompt")?)?;
    println!("boot to user space (host clock, QEMU start to first output; TCG):");
    println!(
        "  Cella: QEMU start to the shell prompt {}",
        comparison::format_ns(u64::try_from(cella_boot.as_nanos()).unwrap_or(u64::MAX))
    );
    let directory = cella.join("yardstick");
    // The yardstick writes to its disk (its vfat figures need the volume): a copy of its
    // own, removed afterwards.
    let disk = private_copy("yardstick")?;
    let outcome = yardstick::run(shell, &workspace.root, &directory, qemu, &disk);
    let _ = std::fs::remove_file(&disk);
    match outcome? {
        Outcome::Skipped(reason) => {
            println!("Linux yardstick: skipped: {reason}");
        }
        Outcome::Measured { linux, kernel } => {
            println!(
                "Linux yardstick ({}, busybox initramfs, the same QEMU command; guest time, \
                 boot on the host's clock):",
                kernel.display()
            );
            let cella = Cella {
                figures: cella_figures,
                boot: Some(cella_boot),
            };
            for line in comparison::table(&linux, &cella) {
                println!("  {line}");
            }
            println!("disk (the same virtio-blk disk behind the same Intel IOMMU; guest time):");
            for line in yardstick::disk::table(&linux.disk, cella_disk) {
                println!("  {line}");
            }
            println!("file system (Linux vfat on the same image):");
            for line in yardstick::vfat::table(&linux.vfat, cella_file_system) {
                println!("  {line}");
            }
            println!("  (guest time; the volume: a copy of {})", image.display());
        }
    }
    Ok(())
}
