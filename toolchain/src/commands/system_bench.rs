//! The in-system benchmark of `cella bench`: one QEMU boot (TCG) of the kernel's `bench`
//! scenario with the native benchmark program (`userland`, `bin/bench`) and the Wasm module it
//! is compared with (`modules/checksum`). The kernel prints the figures and their ratios
//! (`bench: ...` lines); figures from one run are only meaningful relative to each other.

use crate::archive::ArchiveEntry;
use crate::cargo;
use crate::commands::build::write_archive;
use crate::qemu::{EXIT_STATUS_SUCCESS, QemuInvocation, Serial};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The boot is killed after this long.
const TIMEOUT: Duration = Duration::from_secs(300);

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

/// Builds what the scenario needs, boots it, prints the `bench:` lines.
pub fn run(shell: &Shell, workspace: &Workspace) -> Result<()> {
    let qemu = setup::ensure(shell, &workspace.root, Needs { qemu: true })?
        .ok_or_else(|| Error::new("QEMU is needed for the in-system benchmark"))?;
    let kernel = cargo::build_kernel(shell, &workspace.root, &workspace.target_directory)?;
    let native = build(shell, workspace, "cella-userland", "x86_64-unknown-none")?;
    let wasm = build(shell, workspace, "cella-checksum", "wasm32-unknown-unknown")?;
    let entries = vec![
        ArchiveEntry::new("bin/bench", read(native.join("bench"))?),
        ArchiveEntry::new(
            "modules/checksum.wasm",
            read(wasm.join("cella_checksum.wasm"))?,
        ),
    ];
    let archive = workspace.cella_directory().join("bench.tar");
    write_archive(&archive, &entries)?;
    let mut invocation = QemuInvocation::new(qemu, kernel);
    invocation.initrd = Some(archive);
    invocation.cmdline = "test=bench".into();
    invocation.serial = Serial::Stdio;
    let mut command = invocation.command();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    shell.show(&command);
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|error| Error::new(format!("starting QEMU: {error}")))?;
    let id = child.id();
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < TIMEOUT {
            std::thread::sleep(Duration::from_millis(200));
            if std::fs::metadata(format!("/proc/{id}")).is_err() {
                return;
            }
        }
        let _ = std::process::Command::new("kill")
            .arg(id.to_string())
            .status();
    });
    let output = child
        .wait_with_output()
        .map_err(|error| Error::new(format!("waiting for QEMU: {error}")))?;
    let _ = watchdog.join();
    let serial = String::from_utf8_lossy(&output.stdout);
    println!("in-system benchmark (one QEMU boot, TCG):");
    for line in serial.lines().map(|line| line.trim_end_matches('\r')) {
        if line.starts_with("bench:") || line.starts_with("scenario bench") {
            println!("  {line}");
        }
    }
    if output.status.code() != Some(EXIT_STATUS_SUCCESS) {
        return Err(Error::new(format!(
            "the bench boot did not pass (QEMU {:?} after {:.1} s); serial log:\n{serial}",
            output.status.code(),
            started.elapsed().as_secs_f64()
        )));
    }
    Ok(())
}
