//! The Linux yardstick of `cella bench`: Debian's own Linux kernel booted by the same QEMU
//! command as Cella (`crate::qemu`: TCG, same memory and machine, the same Intel IOMMU and
//! virtio-blk disk (a copy of Cella's FAT32 file-system image of its own), serial on standard
//! output, a timeout), from an initramfs of a static busybox, a static C benchmark
//! (`toolchain/yardstick/bench.c`, built here with `gcc -static -O2`) and Debian's virtio
//! and vfat modules. `/init` prints a line (its time from QEMU's start is the
//! boot-to-user-space figure), runs the benchmark, loads the modules, measures the file
//! system on the disk ([`vfat`]), then the raw disk ([`disk`]), and powers off. The figures are set beside Cella's from the same `cella bench` run
//! ([`comparison`]).

pub mod comparison;
pub mod disk;
pub mod initramfs;
pub mod network;
pub mod prerequisites;
pub mod report;
pub mod vfat;

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

/// `/init`: a busybox shell script. It runs the system benchmark, mounts devtmpfs, sysfs and
/// proc, loads the kernel modules in order (`modules`, from `/modules/NAME.ko`: virtio, then
/// vfat), waits up to 10 s for `/dev/vda`, reports the kind of IOMMU domain Linux put the
/// disk's PCI function in (`none` without an IOMMU group), measures the vfat volume on the
/// disk ([`vfat`]) and unmounts it, measures the raw disk ([`disk`]) and prints the `done`
/// line.
pub fn init_script(modules: &[&str]) -> String {
    let error = report::ERROR;
    format!(
        "#!/bin/busybox sh\n\
         echo \"{INIT_MARK}\"\n\
         /bench || echo \"{error} /bench exited with status $?\"\n\
         /bin/busybox mount -t devtmpfs devtmpfs /dev\n\
         /bin/busybox mount -t sysfs sysfs /sys\n\
         /bin/busybox mount -t proc proc /proc\n\
         for module in {}; do\n\
         \x20 /bin/busybox insmod /modules/$module.ko || echo \"{error} insmod $module.ko failed\"\n\
         done\n\
         waited=0\n\
         while [ ! -b /dev/vda ] && [ $waited -lt 100 ]; do\n\
         \x20 /bin/busybox sleep 0.1; waited=$((waited + 1))\n\
         done\n\
         [ -b /dev/vda ] || echo \"{error} no /dev/vda after loading virtio_blk\"\n\
         domain=$(/bin/busybox cat /sys/block/vda/device/../iommu_group/type 2>/dev/null)\n\
         echo \"{}iommu-domain ${{domain:-none}}\"\n\
         {}\
         {}\
         echo \"{}\"\n\
         /bin/busybox poweroff -f\n",
        modules.join(" "),
        report::PREFIX,
        vfat::init_commands("/bench"),
        disk::init_commands("/bench"),
        report::DONE,
    )
}

/// The initramfs: `/init`, `/bench`, `/bin/busybox` (and `/bin/sh` linked to it),
/// `/dev/console`, and each of `modules` (name, contents) as `/modules/NAME.ko`.
pub fn build_initramfs(busybox: &[u8], bench: &[u8], modules: &[(&str, Vec<u8>)]) -> Initramfs {
    let mut archive = Initramfs::busybox_system(busybox, modules);
    let names: Vec<&str> = modules.iter().map(|(name, _)| *name).collect();
    archive.file("bench", 0o755, bench.to_vec()).file(
        "init",
        0o755,
        init_script(&names).into_bytes(),
    );
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
pub fn run(
    shell: &Shell,
    workspace_root: &Path,
    directory: &Path,
    qemu: &Path,
    disk: &Path,
) -> Result<Outcome> {
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
    let mut modules = Vec::new();
    for (name, path) in &prerequisites.modules {
        modules.push((name.as_str(), read(path)?));
    }
    let archive = build_initramfs(&read(&prerequisites.busybox)?, &read(&bench)?, &modules)
        .to_bytes()
        .map_err(|error| Error::new(format!("writing the initramfs: {error}")))?;
    let initramfs = directory.join("initramfs.cpio");
    std::fs::write(&initramfs, archive)
        .map_err(|error| Error::new(format!("writing {}: {error}", initramfs.display())))?;

    let mut invocation = QemuInvocation::new(qemu.to_owned(), prerequisites.kernel.clone());
    invocation.initrd = Some(initramfs);
    invocation.cmdline = KERNEL_COMMAND_LINE.to_owned();
    invocation.serial = Serial::Stdio;
    invocation.disk = Some(disk.to_owned());
    // Linux loads no network driver here: no card.
    invocation.network = None;
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
    let disk = disk::parse(&boot.output).map_err(failed)?;
    let vfat = vfat::parse(&boot.output).map_err(failed)?;
    let init = boot.marks[0].ok_or_else(|| failed(format!("no `{INIT_MARK}` line")))?;
    Ok(Outcome::Measured {
        linux: Linux {
            figures,
            disk,
            vfat,
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
        let archive = build_initramfs(
            b"BUSYBOX",
            b"BENCH",
            &[("virtio", b"V".to_vec()), ("virtio_blk", b"B".to_vec())],
        );
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
                "sys",
                "modules",
                "dev/console",
                "bin/busybox",
                "bin/sh",
                "modules/virtio.ko",
                "modules/virtio_blk.ko",
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
        // The modules load in the order given, the disk is measured, and `done` comes last
        // before the power-off.
        assert!(
            script.contains("for module in virtio virtio_blk; do"),
            "{script}"
        );
        let measure = script.find("disk-seq-write").unwrap();
        assert!(script.find("insmod").unwrap() < measure, "{script}");
        assert!(script.find("iommu-domain").unwrap() < measure, "{script}");
        // The vfat volume is measured and unmounted before the raw disk's writes overwrite
        // it, with /proc mounted for dropping the caches.
        let vfat = script.find("mount -t vfat").unwrap();
        assert!(script.find("insmod").unwrap() < vfat, "{script}");
        assert!(script.find("mount -t proc").unwrap() < vfat, "{script}");
        assert!(script.find("umount /mnt").unwrap() < measure, "{script}");
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(
            lines[lines.len() - 2..],
            ["echo \"yardstick: done\"", "/bin/busybox poweroff -f"]
        );
    }
}
