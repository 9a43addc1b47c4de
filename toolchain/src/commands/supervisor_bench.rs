//! The supervisor part of `cella bench`: one QEMU boot (TCG) of the kernel's `supervisor_bench`
//! scenario with the full boot archive (`cella build`: the system's modules, the `faulty`
//! teaching module and the UART driver's swap targets). The kernel prints its `bench:` lines:
//! a baseline event delivery, fault-to-next-event restart time and the UART swap blackout,
//! in guest time and as ratios.

use crate::commands::build::build_all;
use crate::qemu::{EXIT_STATUS_SUCCESS, QemuInvocation, Serial};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The boot is killed after this long.
const TIMEOUT: Duration = Duration::from_secs(300);

/// Builds the system, boots the scenario, prints the `bench:` lines.
pub fn run(shell: &Shell, workspace: &Workspace) -> Result<()> {
    let qemu = setup::ensure(shell, &workspace.root, Needs { qemu: true })?
        .ok_or_else(|| Error::new("QEMU is needed for the supervisor benchmark"))?;
    let outputs = build_all(shell, workspace)?;
    let mut invocation = QemuInvocation::new(qemu, outputs.kernel);
    invocation.initrd = Some(outputs.boot_archive);
    invocation.cmdline = "test=supervisor_bench".into();
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
    println!("supervisor benchmark (one QEMU boot, TCG):");
    for line in serial.lines().map(|line| line.trim_end_matches('\r')) {
        if line.starts_with("bench:") || line.starts_with("scenario supervisor_bench") {
            println!("  {line}");
        }
    }
    if output.status.code() != Some(EXIT_STATUS_SUCCESS) {
        return Err(Error::new(format!(
            "the supervisor bench boot did not pass (QEMU {:?} after {:.1} s); serial log:\n{serial}",
            output.status.code(),
            started.elapsed().as_secs_f64()
        )));
    }
    Ok(())
}
