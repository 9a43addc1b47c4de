//! The QEMU command line from the kernel contract, shared by `cella run` and the test harness.
//!
//! ```text
//! qemu-system-x86_64 -M q35 -accel tcg -m 256M -no-reboot -display none
//!    -device intel-iommu -device isa-debug-exit,iobase=0xf4,iosize=0x04
//!    -drive file=<disk image>,if=none,id=disk0,format=raw,cache=writeback
//!    -device virtio-blk-pci,drive=disk0,disable-legacy=on,iommu_platform=on
//!    -netdev user,id=net0,restrict=on[,hostfwd=tcp:127.0.0.1:<port>-:80]
//!            [,guestfwd=tcp:10.0.2.100:80-cmd:<relay to 127.0.0.1:<port>>]
//!            [,hostfwd=udp:127.0.0.1:<port>-:7]
//!    -device virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on
//!    -serial <...> -kernel <kernel ELF> -initrd <boot archive> -append "<cmdline>"
//! ```
//!
//! The Intel IOMMU comes first: QEMU wants it before any PCI device. The disk is a modern-only
//! virtio-blk device whose DMA goes through that IOMMU (`iommu_platform=on`). Its image is
//! opened with `cache=writeback`: QEMU goes through the host's page cache, which works on
//! every host file system (`cache=none` needs `O_DIRECT`, which tmpfs refuses), keeps the
//! host disk's speed out of the figures, so they measure the guest's I/O path, and a test
//! reads back what the guest wrote once QEMU has exited.
//!
//! The network card is a modern-only virtio-net device behind the same IOMMU, on QEMU's user
//! network with `restrict=on`: the guest reaches QEMU's virtual network (10.0.2.0/24, its
//! DHCP server and gateway at 10.0.2.2) and nothing beyond it. With a host port
//! ([`Network::host_port`]), a connection to that port on the host's loopback reaches the
//! guest's TCP port 80 (`cargo cella run` picks one); without, nothing from the host does.
//! With a guest forward ([`Network::guest_forward`]), the guest's connections to
//! 10.0.2.100:80 reach that port of the host's loopback: QEMU runs [`relay_command`] for each
//! connection (the `cmd:` form of `guestfwd`; its other form, a character device such as
//! `tcp:127.0.0.1:PORT`, is one connection QEMU makes when it starts, shared by every guest
//! connection, and QEMU does not start when nothing listens there). With a UDP host port
//! ([`Network::udp_host_port`]), datagrams to that port of the host's loopback reach the
//! guest's UDP port 7 (netstack's echo service). QEMU's `restrict=on` drops every UDP
//! datagram the guest sends other than to its DHCP and TFTP servers, the answers to a UDP
//! forward among them (libslirp's `udp_input`); a boot that wants those answers asks for
//! [`Network::unrestricted`], which lets the guest's datagrams and connections out to the
//! host's network.

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

/// The port `cargo cella run` forwards to the guest's port 80 when it is free.
pub const DEFAULT_HOST_PORT: u16 = 8080;

/// The host port `cargo cella run` forwards the guest's [`GUEST_FORWARD_ADDRESS`]:80 to
/// (a server the user runs there, `python3 -m http.server 8000`, answers the shell's `get`).
pub const RUN_GUEST_FORWARD_PORT: u16 = 8000;

impl Network {
    /// What `cargo cella run` boots with: the host's `host_port` reaching the guest's port
    /// 80, the guest's [`GUEST_FORWARD_ADDRESS`]:80 reaching the host's
    /// [`RUN_GUEST_FORWARD_PORT`], restricted otherwise.
    pub fn for_run(host_port: u16) -> Network {
        Network {
            host_port: Some(host_port),
            guest_forward: Some(RUN_GUEST_FORWARD_PORT),
            udp_host_port: None,
            unrestricted: false,
        }
    }
}

/// The address on QEMU's user network whose port [`GUEST_FORWARD_PORT`] reaches the host
/// when a [`Network::guest_forward`] is set.
pub const GUEST_FORWARD_ADDRESS: &str = "10.0.2.100";
/// The TCP port of [`GUEST_FORWARD_ADDRESS`] that is forwarded.
pub const GUEST_FORWARD_PORT: u16 = 80;
/// The guest's UDP port a [`Network::udp_host_port`] reaches: netstack's echo service.
pub const GUEST_ECHO_PORT: u16 = 7;

/// The machine's network card and what it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Network {
    /// The host's loopback port forwarded to the guest's TCP port 80, if any.
    pub host_port: Option<u16>,
    /// The host's loopback port the guest's connections to
    /// [`GUEST_FORWARD_ADDRESS`]:[`GUEST_FORWARD_PORT`] reach, if any.
    pub guest_forward: Option<u16>,
    /// The host's loopback UDP port forwarded to the guest's UDP port [`GUEST_ECHO_PORT`].
    pub udp_host_port: Option<u16>,
    /// `restrict=off`: the guest's packets may leave QEMU's virtual network (the only way
    /// the guest's answers to a UDP forward reach the host). Every `cargo cella` boot is
    /// restricted; a test asks for this only to see UDP answers.
    pub unrestricted: bool,
}

/// The program QEMU runs for each guest connection of a guest forward, its standard input
/// and output being the connection: bash opens a TCP connection to `port` of the host's
/// loopback (`/dev/tcp`), copies the guest's bytes to it in the background, copies the
/// host's answer back until the host closes, then ends, and QEMU closes the guest's
/// connection. When nothing listens on `port`, it ends at once and the guest's connection
/// is closed before a byte arrives. Its standard error is the connection too, so it writes
/// nothing there. No commas: QEMU's option syntax would need them doubled.
pub fn relay_command(port: u16) -> String {
    format!(
        "bash -c 'exec 2>/dev/null; exec 3<>/dev/tcp/127.0.0.1/{port} || exit 1; exec 4<&0; cat <&4 >&3 & cat <&3; kill $!'"
    )
}

impl Network {
    /// The `-netdev` value: user networking restricted to QEMU's virtual network, with the
    /// forward if there is one.
    fn netdev(&self) -> String {
        let mut netdev = String::from(if self.unrestricted {
            "user,id=net0,restrict=off"
        } else {
            "user,id=net0,restrict=on"
        });
        if let Some(port) = self.host_port {
            netdev.push_str(&format!(",hostfwd=tcp:127.0.0.1:{port}-:80"));
        }
        if let Some(port) = self.guest_forward {
            netdev.push_str(&format!(
                ",guestfwd=tcp:{GUEST_FORWARD_ADDRESS}:{GUEST_FORWARD_PORT}-cmd:{}",
                relay_command(port)
            ));
        }
        if let Some(port) = self.udp_host_port {
            netdev.push_str(&format!(",hostfwd=udp:127.0.0.1:{port}-:{GUEST_ECHO_PORT}"));
        }
        netdev
    }
}

/// A port on the host's loopback that nothing listens on: `preferred` if it is free, else
/// one the system picks. Free when asked; another program may take it before QEMU does.
///
/// # Errors
/// The loopback refuses every port.
pub fn free_host_port(preferred: u16) -> Result<u16> {
    use std::net::{Ipv4Addr, TcpListener};
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, preferred))
        .or_else(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .map_err(|error| Error::new(format!("no free port on 127.0.0.1: {error}")))?;
    let port = listener
        .local_addr()
        .map_err(|error| Error::new(format!("no free port on 127.0.0.1: {error}")))?
        .port();
    Ok(port)
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
    /// The virtio-net card on QEMU's user network, if any.
    pub network: Option<Network>,
    /// Extra arguments appended verbatim.
    pub extra_args: Vec<OsString>,
}

impl QemuInvocation {
    /// A launch of `kernel` with the contract's defaults: TCG, 256 MiB, an Intel IOMMU, serial
    /// on the terminal, a network card without a host port, no disk until
    /// [`QemuInvocation::disk`] is set.
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
            network: Some(Network::default()),
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
        if let Some(network) = &self.network {
            arguments.push("-netdev".into());
            arguments.push(network.netdev().into());
            arguments.push("-device".into());
            arguments.push("virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on".into());
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
             -netdev user,id=net0,restrict=on \
             -device virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on \
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
        assert_eq!(devices.len(), 5, "{devices:?}");
        invocation.iommu = false;
        invocation.disk = None;
        invocation.network = None;
        let arguments = invocation.arguments();
        let text: Vec<_> = arguments.iter().map(|a| a.to_str().unwrap()).collect();
        assert!(!text.contains(&"intel-iommu"), "{text:?}");
        assert!(!text.contains(&"-drive"), "{text:?}");
        assert!(!text.contains(&"-netdev"), "{text:?}");
    }

    #[test]
    fn a_host_port_forwards_the_loopback_to_the_guest_s_port_80_only() {
        let mut invocation = QemuInvocation::new("qemu".into(), "k".into());
        invocation.network = Some(Network {
            host_port: Some(5555),
            ..Network::default()
        });
        let arguments = invocation.arguments();
        let text: Vec<_> = arguments.iter().map(|a| a.to_str().unwrap()).collect();
        assert!(
            text.windows(2).any(|pair| pair
                == [
                    "-netdev",
                    "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:5555-:80"
                ]),
            "{text:?}"
        );
    }

    #[test]
    fn a_guest_forward_runs_the_relay_and_a_udp_port_reaches_the_echo_service() {
        let mut network = Network {
            host_port: None,
            guest_forward: Some(4321),
            udp_host_port: Some(4322),
            unrestricted: false,
        };
        assert_eq!(
            network.netdev(),
            format!(
                "user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:{},hostfwd=udp:127.0.0.1:4322-:7",
                relay_command(4321)
            )
        );
        network.unrestricted = true;
        assert!(
            network
                .netdev()
                .starts_with("user,id=net0,restrict=off,guestfwd=")
        );
        let relay = relay_command(4321);
        assert!(relay.contains("/dev/tcp/127.0.0.1/4321"), "{relay}");
        assert!(
            !relay.contains(','),
            "a comma would end QEMU's option: {relay}"
        );
    }

    #[test]
    fn a_run_forwards_both_ways_and_stays_restricted() {
        assert_eq!(
            Network::for_run(8080).netdev(),
            format!(
                "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,guestfwd=tcp:10.0.2.100:80-cmd:{}",
                relay_command(8000)
            )
        );
    }

    #[test]
    fn the_relay_carries_one_connection_both_ways_and_ends_when_the_host_closes() {
        use std::io::{Read, Write};
        use std::net::TcpListener;
        use std::process::Stdio;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut connection, _) = listener.accept().unwrap();
            let mut question = [0u8; 5];
            connection.read_exact(&mut question).unwrap();
            connection.write_all(b"answer to ").unwrap();
            connection.write_all(&question).unwrap();
        });
        // QEMU splits the command as a shell would (GLib's g_shell_parse_argv); sh -c does
        // the same here.
        let mut relay = Command::new("sh")
            .arg("-c")
            .arg(relay_command(port))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        relay.stdin.as_mut().unwrap().write_all(b"hello").unwrap();
        let mut answer = String::new();
        relay
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut answer)
            .unwrap();
        assert_eq!(answer, "answer to hello");
        server.join().unwrap();
        drop(relay.stdin.take());
        relay.wait().unwrap();

        // Nothing listening: the relay ends at once with nothing written, not even an error
        // message (QEMU gives it the connection as its standard error too).
        let port = free_host_port(1).unwrap();
        let output = Command::new("sh")
            .arg("-c")
            .arg(relay_command(port))
            .stdin(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "");
        assert!(!output.status.success());
    }

    #[test]
    fn a_free_host_port_is_the_preferred_one_unless_it_is_taken() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let picked = free_host_port(taken_port).unwrap();
        assert_ne!(picked, taken_port);
        drop(taken);
        assert_eq!(free_host_port(taken_port).unwrap(), taken_port);
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
