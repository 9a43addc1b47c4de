//! The Linux yardstick of `cella bench`: Debian's own Linux kernel booted by the same QEMU
//! command as Cella (`crate::qemu`: TCG, same memory and machine, serial on standard
//! output, a timeout), from an initramfs of a static busybox and a static C benchmark
//! (`toolchain/yardstick/bench.c`, built here with `gcc -static -O2`). `/init` prints a line
//! (its time from QEMU's start is the boot-to-user-space figure), runs the benchmark, and
//! powers off. The figures are set beside Cella's from the same `cella bench` run
//! ([`comparison`]).

pub mod comparison;
pub mod initramfs;
pub mod prerequisites;
pub mod report;

use crate::boot_clock::{self, Ending, Watch};
use crate::progress::Step;
use crate::qemu::{QemuInvocation, Serial};
use crate::shell::Shell;
use crate::{Error, Result};
use comparison::Linux;
use initramfs::Initramfs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The first line `/init` prints.
pub const INIT_MARK: &str = "yardstick: init started";
/// The Linux kernel's command line: the console on the first serial port (as Cella's),
/// no boot messages, and a panic ends the boot at once (`-no-reboot`).
pub const KERNEL_COMMAND_LINE: &str = "console=ttyS0 quiet panic=-1";
/// The C benchmark's source, relative to the workspace root.
pub const SOURCE: &str = "toolchain/yardstick/bench.c";
/// The boot is killed after this long.
const TIMEOUT: Duration = Duration::from_secs(240);

/// The yardstick's result.
#[derive(Debug)]
pub enum Outcome {
    /// Linux booted and the benchmark ran.
    Measured {
        /// The figures and boot time.
        linux: Linux,
        /// The kernel image booted.
        kernel: PathBuf,
    },
    /// It could not run on this machine; why, and what to install.
    Skipped(String),
}

/// `/init`: a busybox shell script.
pub fn init_script() -> String {
    format!(
        "#!/bin/busybox sh\n\
         echo \"{INIT_MARK}\"\n\
         /bench || echo \"{} /bench exited with status $?\"\n\
         /bin/busybox poweroff -f\n",
        report::ERROR
    )
}

/// The initramfs: `/init`, `/bench`, `/bin/busybox` (and `/bin/sh` linked to it),
/// `/dev/console`.
pub fn build_initramfs(busybox: &[u8], bench: &[u8]) -> Initramfs {
    let mut archive = Initramfs::new();
    archive
        .directory("bin", 0o755)
        .directory("dev", 0o755)
        .directory("proc", 0o755)
        .character_device("dev/console", 0o600, 5, 1)
        .file("bin/busybox", 0o755, busybox.to_vec())
        .symbolic_link("bin/sh", "busybox")
        .file("bench", 0o755, bench.to_vec())
        .file("init", 0o755, init_script().into_bytes());
    archive
}

fn compile(
    shell: &Shell,
    gcc: &Path,
    source: &Path,
    output: &Path,
) -> std::result::Result<(), String> {
    let mut command = Command::new(gcc);
    command
        .args(["-static", "-O2", "-pthread", "-Wall", "-o"])
        .arg(output)
        .arg(source);
    let result = shell
        .capture(&mut command)
        .map_err(|error| error.to_string())?;
    if result.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`gcc -static -O2 {}` failed (a static C library comes with libc6-dev):\n{}",
            source.display(),
            String::from_utf8_lossy(&result.stderr).trim_end()
        ))
    }
}

/// Finds or installs what the yardstick needs, builds the benchmark and the initramfs in
/// `directory`, boots Linux with `qemu` and reads the figures.
///
/// # Errors
/// Files cannot be written, or the boot or the benchmark failed (not: something is
/// missing on this machine, which is [`Outcome::Skipped`]).
pub fn run(shell: &Shell, workspace_root: &Path, directory: &Path, qemu: &Path) -> Result<Outcome> {
    let prerequisites = match prerequisites::ensure(shell) {
        Ok(found) => found,
        Err(reason) => return Ok(Outcome::Skipped(reason)),
    };
    std::fs::create_dir_all(directory)
        .map_err(|error| Error::new(format!("creating {}: {error}", directory.display())))?;
    let bench = directory.join("bench");
    if let Err(reason) = compile(
        shell,
        &prerequisites.gcc,
        &workspace_root.join(SOURCE),
        &bench,
    ) {
        return Ok(Outcome::Skipped(reason));
    }
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))
    };
    let archive = build_initramfs(&read(&prerequisites.busybox)?, &read(&bench)?)
        .to_bytes()
        .map_err(|error| Error::new(format!("writing the initramfs: {error}")))?;
    let initramfs = directory.join("initramfs.cpio");
    std::fs::write(&initramfs, archive)
        .map_err(|error| Error::new(format!("writing {}: {error}", initramfs.display())))?;

    let mut invocation = QemuInvocation::new(qemu.to_owned(), prerequisites.kernel.clone());
    invocation.initrd = Some(initramfs);
    invocation.cmdline = KERNEL_COMMAND_LINE.to_owned();
    invocation.serial = Serial::Stdio;
    let step = Step::start(format!(
        "booting {} with the yardstick",
        prerequisites.kernel.display()
    ));
    let boot = boot_clock::watch(
        shell,
        invocation.command(),
        &Watch {
            marks: &[INIT_MARK],
            stop_at: &[report::DONE, report::ERROR],
            timeout: TIMEOUT,
        },
    )?;
    step.done();
    let failed = |why: String| {
        Error::new(format!(
            "the Linux yardstick boot failed: {why}; console output:\n{}",
            boot.output
        ))
    };
    if boot.ending == Ending::TimedOut {
        return Err(failed(format!("no result after {} s", TIMEOUT.as_secs())));
    }
    let figures = report::parse(&boot.output).map_err(failed)?;
    let init = boot.marks[0].ok_or_else(|| failed(format!("no `{INIT_MARK}` line")))?;
    Ok(Outcome::Measured {
        linux: Linux {
            figures,
            boot: init,
        },
        kernel: prerequisites.kernel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initramfs_holds_init_the_benchmark_and_busybox() {
        let archive = build_initramfs(b"BUSYBOX", b"BENCH");
        let names: Vec<&str> = archive
            .entries()
            .iter()
            .map(|entry| entry.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "bin",
                "dev",
                "proc",
                "dev/console",
                "bin/busybox",
                "bin/sh",
                "bench",
                "init"
            ]
        );
        let init = archive.entries().last().unwrap();
        assert_eq!(init.mode, 0o100_755);
        let script = String::from_utf8(init.data.clone()).unwrap();
        assert!(script.starts_with("#!/bin/busybox sh\n"), "{script}");
        // The first thing /init prints is the boot-time mark.
        assert!(
            script.lines().nth(1).unwrap().contains(INIT_MARK),
            "{script}"
        );
        assert!(script.contains("/bench"), "{script}");
    }
}
