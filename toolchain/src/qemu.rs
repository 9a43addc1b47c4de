//! The QEMU command line from the kernel contract, shared by `cella run` and the test harness.
//!
//! ```text
//! qemu-system-x86_64 -M q35 -accel tcg -m 256M -no-reboot -display none
//!    -device intel-iommu -device isa-debug-exit,iobase=0xf4,iosize=0x04
//!    -drive file=<disk image>,if=none,id=disk0,format=raw,cache=writeback
//!    -device virtio-blk-pci,drive=disk0,disable-legacy=on,iommu_platform=on
//!    -serial <...> -kernel <kernel ELF> -initrd <boot archive> -append "<cmdline>"
//! ```
//!
//! The Intel IOMMU comes first: QEMU wants it before any PCI device. The disk is a modern-only
//! virtio-blk device whose DMA goes through that IOMMU (`iommu_platform=on`). Its image is
//! opened with `cache=writeback`: QEMU goes through the host's page cache, which works on
//! every host file system (`cache=none` needs `O_DIRECT`, which tmpfs refuses), keeps the
//! host disk's speed out of the figures, so they measure the guest's I/O path, and a test
//! reads back what the guest wrote once QEMU has exited.

use crate::shell::{find_program, is_executable};
use crate::{Error, Result};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;

/// The emulator's program name.
pub const QEMU_PROGRAM: &str = "qemu-system-x86_64";
/// The Debian package that provides [`QEMU_PROGRAM`].
pub const QEMU_DEBIAN_PACKAGE: &str = "qemu-system-x86";
/// QEMU's exit status when the kernel writes 0x10 to isa-debug-exit: success.
pub const EXIT_STATUS_SUCCESS: i32 = 33;
/// QEMU's exit status when the kernel writes 0x11 to isa-debug-exit: a reported failure.
pub const EXIT_STATUS_FAILURE: i32 = 35;
/// Guest memory.
pub const DEFAULT_MEMORY: &str = "256M";

/// How QEMU runs guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accel {
    /// Software emulation: the default, and the fast choice on this project's machines.
    #[default]
    Tcg,
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
}

impl FromStr for Accel {
    type Err = Error;

    fn from_str(text: &str) -> Result<Accel> {
        match text {
            "tcg" => Ok(Accel::Tcg),
            "kvm" => Ok(Accel::Kvm),
            other => Err(Error::usage(format!(
                "unknown accelerator `{other}` (expected `tcg` or `kvm`)"
            ))),
        }
    }
}

impl fmt::Display for Accel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        })
    }
}

/// Where the guest's first serial port goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serial {
    /// The terminal, multiplexed with the QEMU monitor (`mon:stdio`; Ctrl-A X quits).
    MonitorStdio,
    /// QEMU's standard output, without the monitor (for piping into a test harness).
    Stdio,
    /// A file.
    File(PathBuf),
}

/// One QEMU launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuInvocation {
    /// The emulator binary.
    pub qemu: PathBuf,
    /// The kernel ELF (booted through its PVH note).
    pub kernel: PathBuf,
    /// The boot archive, passed with `-initrd`.
    pub initrd: Option<PathBuf>,
    /// The kernel command line (`-append`), e.g. `test=boot`.
    pub cmdline: String,
    /// Accelerator.
    pub accel: Accel,
    /// Guest memory, e.g. `256M`.
    pub memory: String,
    /// Serial port destination.
    pub serial: Serial,
    /// Whether the machine has an Intel IOMMU (`-device intel-iommu`).
    pub iommu: bool,
    /// The raw image of the virtio-blk disk (see `crate::disk_image`), if any.
    pub disk: Option<PathBuf>,
    /// Extra arguments appended verbatim.
    pub extra_args: Vec<OsString>,
}

impl QemuInvocation {
    /// A launch of `kernel` with the contract's defaults: TCG, 256 MiB, an Intel IOMMU, serial
    /// on the terminal, no disk until [`QemuInvocation::disk`] is set.
    pub fn new(qemu: PathBuf, kernel: PathBuf) -> Self {
        QemuInvocation {
            qemu,
            kernel,
            initrd: None,
            cmdline: String::new(),
            accel: Accel::default(),
            memory: DEFAULT_MEMORY.to_owned(),
            serial: Serial::MonitorStdio,
            iommu: true,
            disk: None,
            extra_args: Vec::new(),
        }
    }

    /// The arguments after the program name.
    pub fn arguments(&self) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = [
            "-M",
            "q35",
            "-accel",
            match self.accel {
                Accel::Tcg => "tcg",
                Accel::Kvm => "kvm",
            },
            "-m",
            &self.memory,
            "-no-reboot",
            "-display",
            "none",
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        if self.iommu {
            arguments.push("-device".into());
            arguments.push("intel-iommu".into());
        }
        arguments.push("-device".into());
        arguments.push("isa-debug-exit,iobase=0xf4,iosize=0x04".into());
        if let Some(disk) = &self.disk {
            arguments.push("-drive".into());
            let mut drive = OsString::from("file=");
            drive.push(escape_option_value(disk.as_os_str()));
            drive.push(",if=none,id=disk0,format=raw,cache=writeback");
            arguments.push(drive);
            arguments.push("-device".into());
            arguments.push("virtio-blk-pci,drive=disk0,disable-legacy=on,iommu_platform=on".into());
        }
        arguments.push("-serial".into());
        match &self.serial {
            Serial::MonitorStdio => arguments.push("mon:stdio".into()),
            Serial::Stdio => {
                arguments.push("stdio".into());
                arguments.push("-monitor".into());
                arguments.push("none".into());
            }
            Serial::File(path) => {
                let mut spec = OsString::from("file:");
                spec.push(path);
                arguments.push(spec);
                arguments.push("-monitor".into());
                arguments.push("none".into());
            }
        }
        arguments.push("-kernel".into());
        arguments.push(self.kernel.clone().into());
        if let Some(initrd) = &self.initrd {
            arguments.push("-initrd".into());
            arguments.push(initrd.clone().into());
        }
        arguments.push("-append".into());
        arguments.push(self.cmdline.clone().into());
        arguments.extend(self.extra_args.iter().cloned());
        arguments
    }

    /// The full command, ready to spawn.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.qemu);
        command.args(self.arguments());
        command
    }
}

/// `value` as one value of a QEMU option list, where a comma is written twice.
fn escape_option_value(value: &std::ffi::OsStr) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut escaped = Vec::with_capacity(value.len());
    for &byte in value.as_bytes() {
        escaped.push(byte);
        if byte == b',' {
            escaped.push(b',');
        }
    }
    OsString::from_vec(escaped)
}

/// The emulator to use: `$CELLA_QEMU` if set, else `qemu-system-x86_64` from `PATH`.
pub fn find_qemu() -> Option<PathBuf> {
    match std::env::var_os("CELLA_QEMU") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            is_executable(&path).then_some(path)
        }
        _ => find_program(QEMU_PROGRAM),
    }
}

/// What a QEMU exit status means under the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelVerdict {
    /// Status 33: the kernel reported success.
    Success,
    /// Status 35: the kernel reported a failure (exception, panic, unknown scenario...).
    Failure,
    /// Anything else, including 0 (a triple fault with `-no-reboot`): never success.
    Unexpected,
}

/// Interprets QEMU's exit status.
pub fn verdict(exit_status: i32) -> KernelVerdict {
    match exit_status {
        EXIT_STATUS_SUCCESS => KernelVerdict::Success,
        EXIT_STATUS_FAILURE => KernelVerdict::Failure,
        _ => KernelVerdict::Unexpected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_matches_the_contract() {
        let mut invocation = QemuInvocation::new("qemu".into(), "/k/cella-kernel".into());
        invocation.initrd = Some("/k/boot.tar".into());
        invocation.cmdline = "test=boot".into();
        invocation.disk = Some("/k/disk.img".into());
        let arguments: Vec<String> = invocation
            .arguments()
            .into_iter()
            .map(|argument| argument.into_string().unwrap())
            .collect();
        assert_eq!(
            arguments.join(" "),
            "-M q35 -accel tcg -m 256M -no-reboot -display none -device intel-iommu \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
             -drive file=/k/disk.img,if=none,id=disk0,format=raw,cache=writeback \
             -device virtio-blk-pci,drive=disk0,disable-legacy=on,iommu_platform=on \
             -serial mon:stdio -kernel /k/cella-kernel -initrd /k/boot.tar -append test=boot"
        );
    }

    #[test]
    fn the_iommu_comes_before_every_pci_device_and_can_be_left_out() {
        let mut invocation = QemuInvocation::new("qemu".into(), "k".into());
        invocation.disk = Some("d.img".into());
        invocation.extra_args = vec!["-device".into(), "edu".into()];
        let arguments = invocation.arguments();
        let text: Vec<_> = arguments.iter().map(|a| a.to_str().unwrap()).collect();
        let devices: Vec<&str> = text
            .windows(2)
            .filter(|pair| pair[0] == "-device")
            .map(|pair| pair[1])
            .collect();
        assert_eq!(devices[0], "intel-iommu");
        assert_eq!(devices.len(), 4, "{devices:?}");
        invocation.iommu = false;
        invocation.disk = None;
        let arguments = invocation.arguments();
        let text: Vec<_> = arguments.iter().map(|a| a.to_str().unwrap()).collect();
        assert!(!text.contains(&"intel-iommu"), "{text:?}");
        assert!(!text.contains(&"-drive"), "{text:?}");
    }

    #[test]
    fn a_comma_in_the_disk_s_path_is_doubled() {
        let mut invocation = QemuInvocation::new("qemu".into(), "k".into());
        invocation.disk = Some("/tmp/a,b/disk.img".into());
        let arguments = invocation.arguments();
        assert!(
            arguments.iter().any(|argument| argument
                == "file=/tmp/a,,b/disk.img,if=none,id=disk0,format=raw,cache=writeback"),
            "{arguments:?}"
        );
    }

    #[test]
    fn piped_serial_disables_the_monitor_and_extra_args_come_last() {
        let mut invocation = QemuInvocation::new("qemu".into(), "k".into());
        invocation.serial = Serial::Stdio;
        invocation.accel = Accel::Kvm;
        invocation.extra_args = vec!["-smp".into(), "2".into()];
        let arguments = invocation.arguments();
        let text: Vec<_> = arguments.iter().map(|a| a.to_str().unwrap()).collect();
        assert!(text.windows(2).any(|pair| pair == ["-serial", "stdio"]));
        assert!(text.windows(2).any(|pair| pair == ["-monitor", "none"]));
        assert!(text.windows(2).any(|pair| pair == ["-accel", "kvm"]));
        assert_eq!(&text[text.len() - 2..], ["-smp", "2"]);
    }

    #[test]
    fn status_zero_is_never_success() {
        assert_eq!(verdict(33), KernelVerdict::Success);
        assert_eq!(verdict(35), KernelVerdict::Failure);
        assert_eq!(verdict(0), KernelVerdict::Unexpected);
        assert_eq!(verdict(1), KernelVerdict::Unexpected);
    }

    #[test]
    fn parses_accelerators() {
        assert_eq!("tcg".parse::<Accel>().unwrap(), Accel::Tcg);
        assert_eq!("kvm".parse::<Accel>().unwrap(), Accel::Kvm);
        assert!("hvf".parse::<Accel>().is_err());
    }
}
