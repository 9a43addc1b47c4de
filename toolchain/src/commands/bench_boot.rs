//! One benchmark boot: run a kernel scenario under QEMU (TCG) with a timeout and print the
//! `bench:` (and `disk_bench:`, `fs_bench:`) lines it reports. Shared by the in-system,
//! supervisor, disk and file-system benchmarks.

use crate::qemu::{EXIT_STATUS_SUCCESS, QemuInvocation, Serial};
use crate::shell::Shell;
use crate::{Error, Result};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A boot is killed after this long unless it asks for more ([`BenchBoot::timeout`]).
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// What to boot and how to title its figures.
pub struct BenchBoot {
    pub qemu: PathBuf,
    pub kernel: PathBuf,
    pub archive: PathBuf,
    /// The boot's own copy of the disk image (`crate::disk_image::private_copy`).
    pub disk: PathBuf,
    /// The kernel scenario (`test=NAME`).
    pub scenario: &'static str,
    /// The heading printed above the figures.
    pub title: &'static str,
    /// The boot is killed after this long ([`TIMEOUT`] for most).
    pub timeout: Duration,
}

/// Boots `boot.scenario`, prints its `bench:` lines under `boot.title`; returns the whole
/// serial output.
///
/// # Errors
/// QEMU cannot start, or the scenario did not pass (the serial log is in the error).
pub fn run(shell: &Shell, boot: BenchBoot) -> Result<String> {
    let mut invocation = QemuInvocation::new(boot.qemu, boot.kernel);
    invocation.initrd = Some(boot.archive);
    invocation.cmdline = format!("test={}", boot.scenario);
    invocation.serial = Serial::Stdio;
    invocation.disk = Some(boot.disk);
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
    let timeout = boot.timeout;
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < timeout {
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
    let serial = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{} (one QEMU boot, TCG):", boot.title);
    let verdict = format!("scenario {}:", boot.scenario);
    for line in serial.lines().map(|line| line.trim_end_matches('\r')) {
        if line.starts_with("bench:") || line.starts_with("disk_bench:") {
            println!("  {line}");
        } else if let Some(at) = line.find(&verdict) {
            // After the shell's prompt, where a system with a shell prints it.
            println!("  {}", &line[at..]);
        } else if let Some(at) = line.find("fs_bench:") {
            // The file-system benchmark's lines, also after the prompt.
            println!("  {}", &line[at..]);
        }
    }
    if output.status.code() != Some(EXIT_STATUS_SUCCESS) {
        return Err(Error::new(format!(
            "the {} boot did not pass (QEMU {} after {:.1} s); serial log:\n{serial}",
            boot.scenario,
            ending(output.status.code()),
            started.elapsed().as_secs_f64()
        )));
    }
    Ok(serial)
}

/// How QEMU ended, in words: `exited with status 35`, or `killed by a signal` (the
/// watchdog's timeout among them).
fn ending(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exited with status {code}"),
        None => String::from("killed by a signal"),
    }
}

#[cfg(test)]
mod tests {
    use super::ending;

    #[test]
    fn the_ending_is_plain_words() {
        assert_eq!(ending(Some(35)), "exited with status 35");
        assert_eq!(ending(None), "killed by a signal");
    }
}
