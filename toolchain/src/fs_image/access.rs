//! Reading a FAT32 image from the host with the file-system tools: its verdict from
//! `fsck.vfat -n` (which reads and changes nothing), a directory listing from mtools' `mdir`,
//! a file's bytes from `mcopy -i IMAGE ::/PATH -`. Used by `cargo cella disk` and the QEMU
//! tests' harness.

use super::mtools_command;
use crate::file_system_tools;
use crate::shell::{Shell, describe_status, render_command};
use crate::{Error, Result};
use std::path::Path;
use std::process::Command;

/// What `fsck.vfat -n` said about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// It found nothing to correct (exit status 0).
    pub clean: bool,
    /// What it printed, standard output then standard error.
    pub report: String,
}

/// Runs `fsck.vfat -n IMAGE`: checks the file system without changing a byte.
///
/// # Errors
/// `fsck.vfat` is missing, cannot run, or could not check the image at all (exit status
/// other than 0 and 1: a usage or I/O error, such as an image that is no FAT volume).
pub fn check(shell: &Shell, image: &Path) -> Result<Verdict> {
    let fsck = file_system_tools::require("fsck.vfat")?;
    let mut command = Command::new(fsck);
    command.arg("-n").arg(image);
    let output = shell.capture(&mut command)?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Ok(Verdict {
            clean: true,
            report,
        }),
        Some(1) => Ok(Verdict {
            clean: false,
            report,
        }),
        _ => Err(Error::new(format!(
            "`{}` could not check the image ({}):\n{}",
            render_command(&command),
            describe_status(output.status),
            report.trim_end()
        ))),
    }
}

/// A volume path as mtools takes it: `::/PATH`, with or without a leading `/` given.
fn volume_path(path: &str) -> String {
    format!("::/{}", path.trim_start_matches('/'))
}

/// The listing of directory `path` of the volume (mtools' `mdir`, long names shown).
///
/// # Errors
/// mtools is missing, or the path is not a directory of the volume.
pub fn list(shell: &Shell, image: &Path, path: &str) -> Result<String> {
    let mdir = file_system_tools::require("mdir")?;
    let mut command = mtools_command(&mdir, image);
    command.arg(volume_path(path));
    let bytes = shell.capture_stdout_bytes(&mut command)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The bytes of file `path` of the volume (`mcopy -i IMAGE ::/PATH -`).
///
/// # Errors
/// mtools is missing, or the file is not on the volume.
pub fn read(shell: &Shell, image: &Path, path: &str) -> Result<Vec<u8>> {
    let mcopy = file_system_tools::require("mcopy")?;
    let mut command = mtools_command(&mcopy, image);
    command.arg(volume_path(path)).arg("-");
    shell.capture_stdout_bytes(&mut command)
}

/// Copies `bytes` into the volume as file `path`, replacing a file of that name (for tests
/// and people preparing a disk); its directory must exist.
///
/// # Errors
/// mtools is missing, a temporary file cannot be written, or `mcopy` failed.
pub fn write(shell: &Shell, image: &Path, path: &str, bytes: &[u8]) -> Result<()> {
    let mcopy = file_system_tools::require("mcopy")?;
    let source = super::with_suffix(image, &format!("write.{}", std::process::id()));
    std::fs::write(&source, bytes)
        .map_err(|error| Error::new(format!("writing {}: {error}", source.display())))?;
    let mut command = mtools_command(&mcopy, image);
    command
        .args(["-D", "o"])
        .arg(&source)
        .arg(volume_path(path));
    let result = shell.capture_stdout_bytes(&mut command).map(drop);
    let _ = std::fs::remove_file(&source);
    result
}
