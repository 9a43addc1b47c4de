//! The network part of `cella bench`: the production system booted as `cella run` boots it
//! (its file-system disk, the card on QEMU's restricted user network, a host port forwarded
//! to the guest's port 80), and the Linux network yardstick (`crate::yardstick::network`)
//! booted by the same QEMU command; each measured from the host through its forwarded port
//! (`crate::network_measure`): 16 MiB down, 16 MiB up, 1,000 small requests. Then the
//! native path: the test system booted with its scenario `native_network`, in which the
//! virtio-net driver runs as a native process (`virtio-net-native`) under the same TCP/IP
//! and HTTP servers, measured the same way. The figures are printed side by side with
//! Cella's over Linux's; a native path that cannot be measured is a line saying why.

use super::network_report::{Measured, native_failure_line, report};
use crate::commands::build::{BuildOutputs, Image};
use crate::disk_image;
use crate::http_client;
use crate::live_boot::LiveBoot;
use crate::network_measure::{self, Figures, Routes};
use crate::qemu::{Network, QemuInvocation, Serial};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::yardstick::{self, network, prerequisites};
use crate::{Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// Each transfer's size.
const TRANSFER_BYTES: u64 = network::DOWNLOAD_MIB * 1024 * 1024;
/// The small requests made one after another.
const REQUESTS: usize = 1000;
/// How long a boot may take to serve.
const READY_TIMEOUT: Duration = Duration::from_secs(240);
/// What the shell prints when it is ready for a command.
const SHELL_PROMPT: &str = "cella> ";
/// The test kernel's scenario with the driver as a native process, and the line it prints
/// once the TCP/IP server has its address through the process.
const NATIVE_SCENARIO: &str = "native_network";
const NATIVE_READY: &str = "native_network: serving through virtio-net-native";
/// How long the native scenario keeps the system running: well past the measurement
/// (the boot is ended when it is done).
const NATIVE_RUN_MS: u64 = 3_600_000;
/// The route that says Cella's HTTP server (modules/httpd) answers.
const READY_ROUTE: &str = "/api/ps";

/// Cella's routes (modules/httpd): a generated body of the asked size, and an upload.
fn cella_routes() -> Routes {
    Routes {
        download: format!("/download/{TRANSFER_BYTES}"),
        upload: String::from("/upload"),
        small: format!("/download/{}", network::SMALL_BYTES),
    }
}

fn linux_routes() -> Routes {
    Routes {
        download: String::from(network::DOWNLOAD_PATH),
        upload: String::from(network::UPLOAD_PATH),
        small: String::from(network::SMALL_PATH),
    }
}

fn invocation_on_port(qemu: &Path, kernel: &Path, port: u16) -> QemuInvocation {
    let mut invocation = QemuInvocation::new(qemu.to_owned(), kernel.to_owned());
    invocation.serial = Serial::Stdio;
    invocation.network = Some(Network {
        host_port: Some(port),
        ..Network::default()
    });
    invocation
}

/// Boots the production system and measures it; the boot's copy of the disk is removed.
fn measure_cella(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
    system: &BuildOutputs,
    image: &Path,
) -> Result<Figures> {
    let port = crate::qemu::free_host_port(0)?;
    let disk = disk_image::copy_path(&workspace.cella_directory(), "network-bench");
    disk_image::copy(image, &disk)?;
    let mut invocation = invocation_on_port(qemu, &system.kernel, port);
    invocation.initrd = Some(system.boot_archive.clone());
    invocation.disk = Some(disk.clone());
    let measured = LiveBoot::start(shell, invocation.command()).and_then(|mut boot| {
        boot.wait_for(SHELL_PROMPT, READY_TIMEOUT)?;
        wait_for_server(port, READY_TIMEOUT).map_err(|why| {
            Error::new(format!("Cella: {why}; serial output:\n{}", boot.output()))
        })?;
        network_measure::measure(port, &cella_routes(), TRANSFER_BYTES, REQUESTS).map_err(|why| {
            Error::new(format!(
                "measuring Cella: {why}; serial output:\n{}",
                boot.output()
            ))
        })
    });
    let _ = std::fs::remove_file(&disk);
    measured
}

/// Waits until the guest's HTTP server answers `GET /api/ps` with 200 (the server answers
/// once the TCP/IP server has its address).
///
/// # Errors
/// `timeout` passed first, or the guest answered another status (a scenario's own server
/// answers 404: no HTTP server module runs); the sentence names what did not answer.
fn wait_for_server(port: u16, timeout: Duration) -> std::result::Result<(), String> {
    let started = Instant::now();
    loop {
        let last = match http_client::get(port, READY_ROUTE, Duration::from_secs(10)) {
            Ok(answer) if answer.status == 200 => return Ok(()),
            Ok(answer) if answer.status == 404 => {
                return Err(format!(
                    "GET {READY_ROUTE} answered 404: no HTTP server module (httpd) serves the guest's port 80"
                ));
            }
            Ok(answer) => format!("it answered {}", answer.status),
            Err(why) => why,
        };
        if started.elapsed() > timeout {
            return Err(format!(
                "the guest's HTTP server did not answer GET {READY_ROUTE} with 200 in {} s ({last})",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Boots the test system with the virtio-net driver as a native process (scenario
/// `native_network`) and measures it; the boot's copy of the disk is removed.
///
/// # Errors
/// One sentence: the build, the boot or the measurement failed, or the guest's HTTP server
/// did not answer.
fn measure_native(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
    image: &Path,
) -> std::result::Result<Figures, String> {
    let test = super::build::build_all(shell, workspace, Image::Test)
        .map_err(|error| format!("building the test system: {error}"))?;
    let port = crate::qemu::free_host_port(0).map_err(|error| error.to_string())?;
    let disk = disk_image::copy_path(&workspace.cella_directory(), "network-bench-native");
    disk_image::copy(image, &disk).map_err(|error| format!("{error}"))?;
    let mut invocation = invocation_on_port(qemu, &test.kernel, port);
    invocation.initrd = Some(test.boot_archive.clone());
    invocation.disk = Some(disk.clone());
    invocation.cmdline = format!("test={NATIVE_SCENARIO} run_ms={NATIVE_RUN_MS}");
    let measured = LiveBoot::start(shell, invocation.command())
        .map_err(|error| format!("{error}"))
        .and_then(|mut boot| {
            boot.wait_for(NATIVE_READY, READY_TIMEOUT).map_err(|_| {
                format!(
                    "`{NATIVE_READY}` did not appear in {} s",
                    READY_TIMEOUT.as_secs()
                )
            })?;
            wait_for_server(port, READY_TIMEOUT)?;
            network_measure::measure(port, &cella_routes(), TRANSFER_BYTES, REQUESTS)
        });
    let _ = std::fs::remove_file(&disk);
    measured
}

/// Boots the Linux network yardstick and measures it; `Ok(Err(reason))` when it cannot run
/// on this machine.
fn measure_linux(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
) -> Result<std::result::Result<Figures, String>> {
    let found = match prerequisites::ensure(shell) {
        Ok(found) => found,
        Err(reason) => return Ok(Err(reason)),
    };
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))
    };
    let mut modules = Vec::new();
    for (name, path) in &found.network_modules {
        modules.push((name.as_str(), read(path)?));
    }
    let archive = network::build_initramfs(&read(&found.busybox)?, &modules)
        .to_bytes()
        .map_err(|error| Error::new(format!("writing the initramfs: {error}")))?;
    let directory = workspace.cella_directory().join("yardstick");
    std::fs::create_dir_all(&directory)
        .map_err(|error| Error::new(format!("creating {}: {error}", directory.display())))?;
    let initramfs = directory.join("network-initramfs.cpio");
    std::fs::write(&initramfs, archive)
        .map_err(|error| Error::new(format!("writing {}: {error}", initramfs.display())))?;
    let port = crate::qemu::free_host_port(0)?;
    let mut invocation = invocation_on_port(qemu, &found.kernel, port);
    invocation.initrd = Some(initramfs);
    invocation.cmdline = yardstick::KERNEL_COMMAND_LINE.to_owned();
    let mut boot = LiveBoot::start(shell, invocation.command())?;
    boot.wait_for(network::READY, READY_TIMEOUT)?;
    network_measure::measure(port, &linux_routes(), TRANSFER_BYTES, REQUESTS)
        .map(Ok)
        .map_err(|why| {
            Error::new(format!(
                "measuring Linux: {why}; serial output:\n{}",
                boot.output()
            ))
        })
}

/// Measures the three systems and prints the comparison.
///
/// # Errors
/// The boot of Cella failed or its server did not answer as it should; the Linux yardstick
/// failing to boot is an error too, but its absence from the machine is a line saying so,
/// and so is a native path that could not be measured.
pub fn run(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
    system: &BuildOutputs,
    image: &Path,
) -> Result<()> {
    let cella = measure_cella(shell, workspace, qemu, system, image)?;
    let native = measure_native(shell, workspace, qemu, image);
    let linux = measure_linux(shell, workspace, qemu)?;
    println!(
        "network benchmark (host clock through a forwarded port of QEMU's user network, TCG; one connection a request):"
    );
    if let Err(reason) = &linux {
        println!("  the Linux yardstick was skipped: {reason}");
    }
    if let Err(reason) = &native {
        println!("  {}", native_failure_line(reason));
    }
    let measured = Measured {
        cella: &cella,
        native: native.as_ref().ok(),
        linux: linux.as_ref().ok(),
    };
    for line in report(measured) {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on a free port of the loopback answering every request with `status`;
    /// its port.
    fn server_answering(status: &'static str) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head);
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        port
    }

    #[test]
    fn waiting_for_the_server_ends_at_its_200_and_names_what_did_not_answer() {
        let timeout = Duration::from_secs(5);
        assert_eq!(wait_for_server(server_answering("200 OK"), timeout), Ok(()));
        let missing = wait_for_server(server_answering("404 Not Found"), timeout).unwrap_err();
        assert_eq!(
            missing,
            "GET /api/ps answered 404: no HTTP server module (httpd) serves the guest's port 80"
        );
        let started = Instant::now();
        let failing =
            wait_for_server(server_answering("500 Oops"), Duration::from_secs(1)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            failing.starts_with(
                "the guest's HTTP server did not answer GET /api/ps with 200 in 1 s (it answered 500)"
            ),
            "{failing}"
        );
    }
}
