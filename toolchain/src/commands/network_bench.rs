//! The network part of `cella bench`: the production system booted as `cella run` boots it
//! (its file-system disk, the card on QEMU's restricted user network, a host port forwarded
//! to the guest's port 80), and the Linux network yardstick (`crate::yardstick::network`)
//! booted by the same QEMU command; each measured from the host through its forwarded port
//! (`crate::network_measure`): 16 MiB down, 16 MiB up, 1,000 small requests. Then the
//! native path: the test system booted with its scenario `native_network`, in which the
//! virtio-net driver runs as a native process (`virtio-net-native`) under the same TCP/IP
//! and HTTP servers, measured the same way. The figures are printed side by side with
//! Cella's over Linux's; a native path that cannot be measured is a line saying why.

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
    let port = http_client::free_port();
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
    let port = http_client::free_port();
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
    let port = http_client::free_port();
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

/// One line of the comparison: what is measured, each system's figure as text, and each
/// Cella path's value over Linux's.
struct Row {
    what: String,
    cella: String,
    native: Option<String>,
    linux: Option<String>,
    ratio: Option<f64>,
    native_ratio: Option<f64>,
}

/// Figures over Linux's, if Linux's is above zero.
fn over(value: fn(&Figures) -> f64, figures: &Figures, linux: Option<&Figures>) -> Option<f64> {
    linux
        .map(value)
        .filter(|&linux| linux > 0.0)
        .map(|linux| value(figures) / linux)
}

impl Row {
    fn new(
        what: String,
        measured: Measured<'_>,
        value: fn(&Figures) -> f64,
        text: fn(f64) -> String,
    ) -> Row {
        let Measured {
            cella,
            native,
            linux,
        } = measured;
        Row {
            what,
            cella: text(value(cella)),
            native: native.map(|native| text(value(native))),
            linux: linux.map(|linux| text(value(linux))),
            ratio: over(value, cella, linux),
            native_ratio: native.and_then(|native| over(value, native, linux)),
        }
    }
}

/// What the benchmark measured: Cella's production system (the Wasm driver), the same
/// system with the driver as a native process, and the Linux yardstick.
#[derive(Clone, Copy)]
pub struct Measured<'a> {
    pub cella: &'a Figures,
    pub native: Option<&'a Figures>,
    pub linux: Option<&'a Figures>,
}

fn rate(value: f64) -> String {
    format!("{value:.2} MB/s")
}

fn milliseconds(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

fn ratio_text(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| String::from("-"), |ratio| format!("{ratio:.2}"))
}

/// The worse of `figures`' two throughputs over Linux's.
fn worst_throughput(figures: &Figures, linux: &Figures) -> f64 {
    (figures.download_rate() / linux.download_rate())
        .min(figures.upload_rate() / linux.upload_rate())
}

/// The lines printed for Cella's figures (the Wasm driver's, and the native driver's when
/// measured) beside Linux's.
pub fn report(measured: Measured<'_>) -> Vec<String> {
    let cella = measured.cella;
    let mib = cella.bytes / (1024 * 1024);
    let requests = cella.latencies.len();
    let rows = [
        Row::new(
            format!("download {mib} MiB (guest -> host)"),
            measured,
            Figures::download_rate,
            rate,
        ),
        Row::new(
            format!("upload {mib} MiB (host -> guest)"),
            measured,
            Figures::upload_rate,
            rate,
        ),
        Row::new(
            format!("{requests} small requests, median"),
            measured,
            |figures| figures.latency(0.5).as_secs_f64(),
            milliseconds,
        ),
        Row::new(
            format!("{requests} small requests, p99"),
            measured,
            |figures| figures.latency(0.99).as_secs_f64(),
            milliseconds,
        ),
    ];
    let mut lines = vec![format!(
        "  {:<40} {:>15} | {:>14} | {:>14} | {:>11} | native/Linux",
        "", "Linux (busybox)", "Cella (Wasm)", "Cella (native)", "Cella/Linux"
    )];
    for row in rows {
        lines.push(format!(
            "  {:<40} {:>15} | {:>14} | {:>14} | {:>11} | {}",
            row.what,
            row.linux.unwrap_or_else(|| String::from("-")),
            row.cella,
            row.native.unwrap_or_else(|| String::from("-")),
            ratio_text(row.ratio),
            ratio_text(row.native_ratio),
        ));
    }
    let verdict = |worst: f64, goal: f64| if worst >= goal { "met" } else { "NOT met" };
    if let Some(linux) = measured.linux {
        let worst = worst_throughput(cella, linux);
        lines.push(format!(
            "  goal: the Wasm path's throughput at least half of Linux's both ways: {} (worst {worst:.2})",
            verdict(worst, 0.5)
        ));
        if let Some(native) = measured.native {
            let worst = worst_throughput(native, linux);
            lines.push(format!(
                "  goal: native path at least 0.8x of Linux's throughput both ways: {} (worst {worst:.2})",
                verdict(worst, 0.8)
            ));
        }
    }
    lines
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

/// The line printed when the native path could not be measured: one line, whatever
/// lines the reason had.
fn native_failure_line(reason: &str) -> String {
    let reason: Vec<&str> = reason
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    format!(
        "Cella (native), the virtio-net driver as a native process: not measured: {}",
        reason.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(download_ms: u64, upload_ms: u64, latency_ms: u64) -> Figures {
        Figures {
            bytes: 16 * 1024 * 1024,
            download: Duration::from_millis(download_ms),
            upload: Duration::from_millis(upload_ms),
            latencies: vec![Duration::from_millis(latency_ms); 10],
        }
    }

    /// A row's cells after the first: Cella (Wasm), Cella (native), Cella/Linux,
    /// native/Linux.
    fn cells(line: &str) -> Vec<&str> {
        line.split('|').skip(1).map(str::trim).collect()
    }

    #[test]
    fn the_report_sets_both_cella_paths_beside_linux_with_ratios_and_the_goals() {
        let (cella, native, linux) = (
            figures(4000, 8000, 4),
            figures(1100, 2200, 2),
            figures(1000, 2000, 1),
        );
        let lines = report(Measured {
            cella: &cella,
            native: Some(&native),
            linux: Some(&linux),
        });
        assert!(lines[0].contains("Cella (Wasm)") && lines[0].contains("Cella (native)"));
        assert!(
            lines[1].contains("download 16 MiB (guest -> host)") && lines[1].contains("16.78 MB/s"),
            "{lines:#?}"
        );
        assert_eq!(
            cells(&lines[1]),
            ["4.19 MB/s", "15.25 MB/s", "0.25", "0.91"],
            "{lines:#?}"
        );
        assert_eq!(
            cells(&lines[3]),
            ["4.00 ms", "2.00 ms", "4.00", "2.00"],
            "{lines:#?}"
        );
        assert!(lines[5].contains("NOT met (worst 0.25)"), "{lines:#?}");
        assert_eq!(
            lines[6],
            "  goal: native path at least 0.8x of Linux's throughput both ways: met (worst 0.91)"
        );
        let slow = figures(1000, 4000, 1);
        let lines = report(Measured {
            cella: &cella,
            native: Some(&slow),
            linux: Some(&linux),
        });
        assert!(lines[6].ends_with(": NOT met (worst 0.50)"), "{lines:#?}");
    }

    #[test]
    fn without_the_native_path_its_column_is_empty_and_it_has_no_goal() {
        let (cella, linux) = (figures(4000, 8000, 4), figures(1000, 2000, 1));
        let lines = report(Measured {
            cella: &cella,
            native: None,
            linux: Some(&linux),
        });
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert_eq!(cells(&lines[2]), ["2.10 MB/s", "-", "0.25", "-"]);
        assert!(
            lines[5].contains("the Wasm path's throughput"),
            "{lines:#?}"
        );
    }

    #[test]
    fn without_linux_the_report_has_no_ratios_and_no_goal() {
        let (cella, native) = (figures(4000, 8000, 4), figures(2000, 2000, 2));
        let lines = report(Measured {
            cella: &cella,
            native: Some(&native),
            linux: None,
        });
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert_eq!(cells(&lines[1]), ["4.19 MB/s", "8.39 MB/s", "-", "-"]);
    }

    #[test]
    fn a_native_path_that_was_not_measured_is_one_line_with_the_reason() {
        let line = native_failure_line(
            "GET /api/ps answered 404: no HTTP server module (httpd) serves the guest's port 80",
        );
        assert_eq!(
            line,
            "Cella (native), the virtio-net driver as a native process: not measured: GET /api/ps answered 404: no HTTP server module (httpd) serves the guest's port 80"
        );
        let line = native_failure_line("building the test system:\n  cargo failed\n");
        assert!(
            line.ends_with("not measured: building the test system: cargo failed"),
            "{line}"
        );
    }
}
