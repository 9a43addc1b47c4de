//! `cella run`: build, then boot the production kernel in QEMU with the serial console (and
//! QEMU's monitor, Ctrl-A C) on this terminal; `--teaching` adds the teaching modules of
//! `modules/teaching.toml`, and `--test-kernel` boots the test kernel with the test system
//! instead (a scenario by hand: `--append test=NAME`). Ctrl-A X quits.

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
    let qemu = setup::ensure(shell, &workspace.root, Needs { qemu: true })?
        .ok_or_else(|| Error::new("QEMU was not found"))?;
    let image = if options.test_kernel {
        Image::Test
    } else {
        Image::Production {
            teaching: options.teaching,
        }
    };
    let outputs = build_all(shell, workspace, image)?;
    let mut invocation = QemuInvocation::new(qemu, outputs.kernel);
    invocation.initrd = Some(outputs.boot_archive);
    invocation.cmdline = options.append.join(" ");
    invocation.accel = options.accel;
    invocation.serial = Serial::MonitorStdio;
    // COM2 on a socket: the channel `cargo cella push` sends modules over.
    let socket = crate::push::socket_path(&workspace.cella_directory());
    let _ = std::fs::remove_file(&socket);
    invocation.extra_args = vec![
        "-serial".into(),
        format!("unix:{},server=on,wait=off", socket.display()).into(),
    ];
    invocation
        .extra_args
        .extend(options.qemu_args.iter().map(Into::into));
    progress::message(&format!(
        "booting {} in QEMU ({}); Ctrl-A X quits",
        invocation.kernel.display(),
        invocation.accel
    ));
    let mut command = invocation.command();
    shell.show(&command);
    // `exec` only returns if QEMU could not be started.
    let error = command.exec();
    Err(Error::new(format!(
        "cannot start {}: {error}",
        invocation.qemu.display()
    )))
}
