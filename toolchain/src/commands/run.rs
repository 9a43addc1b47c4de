//! `cella run`: build, then boot the production kernel in QEMU with the serial console (and
//! QEMU's monitor, Ctrl-A C) on this terminal; `--teaching` adds the teaching modules of
//! `modules/teaching.toml`, and `--test-kernel` boots the test kernel with the test system
//! instead (a scenario by hand: `--append test=NAME`). Ctrl-A X quits. The modules installed
//! from the host (`cargo cella push --grant`, kept in `target/cella/installed/`) boot too,
//! each checked against the system ([`crate::installed::add_to_archive`]). The virtio-blk
//! disk is the FAT32 file-system image `target/cella/fs.img` ([`crate::fs_image`]); the
//! network card's user network forwards a free port of the host's loopback (8080 when it is
//! free) to the guest's port 80, and the run prints which.

use super::build::{Image, build_all};
use crate::cli::RunOptions;
use crate::progress;
use crate::qemu::{QemuInvocation, Serial};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::os::unix::process::CommandExt;

/// `cella run`: replaces this process with QEMU, so QEMU owns the terminal and its exit status
/// becomes the command's.
pub fn run(shell: &Shell, workspace: &Workspace, options: &RunOptions) -> Result<()> {
    let image = if options.test_kernel {
        Image::Test
    } else {
        Image::Production {
            teaching: options.teaching,
        }
    };
    boot(shell, workspace, image, options)
}

/// Builds `image` and boots it as [`run`] does (`options`' accelerator, kernel words and
/// QEMU arguments); replaces this process with QEMU.
pub fn boot(
    shell: &Shell,
    workspace: &Workspace,
    image: Image,
    options: &RunOptions,
) -> Result<()> {
    let qemu = setup::ensure(shell, &workspace.root, Needs::QEMU_AND_DISK)?
        .ok_or_else(|| Error::new("QEMU was not found"))?;
    let mut outputs = build_all(shell, workspace, image)?;
    // The file-system disk, made from the modules as built (before installed ones join).
    let files = crate::fs_image::module_files(&workspace.root, &outputs.archive_entries)?;
    let disk = crate::fs_image::ensured(shell, &workspace.cella_directory(), &files)?;
    let boot_archive = with_installed(workspace, &mut outputs)?;
    let mut invocation = QemuInvocation::new(qemu, outputs.kernel);
    invocation.initrd = Some(boot_archive);
    invocation.cmdline = options.append.join(" ");
    invocation.accel = options.accel;
    invocation.serial = Serial::MonitorStdio;
    // The build directory's file-system image itself: what a run writes stays for the next
    // run.
    progress::message(&format!(
        "virtio-blk disk: {} (the FAT32 file-system image)",
        disk.display()
    ));
    invocation.disk = Some(disk);
    let port = crate::qemu::free_host_port(crate::qemu::DEFAULT_HOST_PORT)?;
    invocation.network = Some(crate::qemu::Network::for_run(port));
    progress::message(&network_line(port));
    // COM2 on a socket of this run's own: the channel `cargo cella push` sends modules over.
    // `exec` keeps the process id, so the run is registered under QEMU's.
    let cella = workspace.cella_directory();
    let others = crate::runs::live(&cella);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let system = match image {
        Image::Production { teaching: false } => "production",
        Image::Production { teaching: true } => "teaching",
        Image::Test => "test",
        Image::Lab { .. } => "lab",
    };
    let registered = crate::runs::register(&cella, std::process::id(), started, system)?;
    invocation.extra_args = vec![
        "-serial".into(),
        format!("unix:{},server=on,wait=off", registered.socket.display()).into(),
    ];
    invocation
        .extra_args
        .extend(options.qemu_args.iter().map(Into::into));
    progress::message(&format!(
        "booting {} in QEMU ({}); Ctrl-A X quits",
        invocation.kernel.display(),
        invocation.accel
    ));
    progress::message(&format!(
        "push channel: {} (run {}; `cargo cella push` talks to the newest run, `--system {}` to this one)",
        registered.socket.display(),
        registered.pid,
        registered.pid
    ));
    for other in &others {
        progress::message(&format!(
            "also running from this build directory: {}",
            other.describe()
        ));
    }
    let mut command = invocation.command();
    shell.show(&command);
    // `exec` only returns if QEMU could not be started.
    let error = command.exec();
    crate::runs::unregister(&registered);
    Err(Error::new(format!(
        "cannot start {}: {error}",
        invocation.qemu.display()
    )))
}

/// The boot archive to boot: the built one, or with the installed modules that fit the system
/// added (written beside it as `NAME+installed.tar`). Each one left out is reported.
fn with_installed(
    workspace: &Workspace,
    outputs: &mut super::build::BuildOutputs,
) -> Result<std::path::PathBuf> {
    let store = crate::installed::store_directory(&workspace.cella_directory());
    let additions = crate::installed::add_to_archive(&store, &mut outputs.archive_entries)?;
    for skipped in &additions.skipped {
        progress::message(&format!(
            "installed module left out of this boot: {skipped}"
        ));
    }
    if additions.added.is_empty() {
        return Ok(outputs.boot_archive.clone());
    }
    progress::message(&format!(
        "installed modules from {}: {}",
        store.display(),
        additions.added.join(", ")
    ));
    let stem = outputs
        .boot_archive
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or("boot");
    let path = outputs
        .boot_archive
        .with_file_name(format!("{stem}+installed.tar"));
    super::build::write_archive(&path, &outputs.archive_entries)?;
    Ok(path)
}

/// The run's network line: what the host's loopback reaches, the status page's address
/// (the `httpd` module serves the guest's port 80) among it.
pub fn network_line(port: u16) -> String {
    format!(
        "network: virtio-net on QEMU's user network, which reaches nothing beyond it; the guest's {}:80 is the host's 127.0.0.1:{}; the guest's port 80 is at http://127.0.0.1:{port}/, and the status page is at http://127.0.0.1:{port}/",
        crate::qemu::GUEST_FORWARD_ADDRESS,
        crate::qemu::RUN_GUEST_FORWARD_PORT
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_network_line_names_the_status_pages_address() {
        let line = super::network_line(8123);
        assert!(
            line.contains("the status page is at http://127.0.0.1:8123/"),
            "{line}"
        );
        assert!(line.contains("the guest's 10.0.2.100:80 is the host's 127.0.0.1:8000"));
    }
}
