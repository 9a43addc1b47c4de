//! The network part of `cella bench`: the production system booted as `cella run` boots it
//! (its file-system disk, the card on QEMU's restricted user network, a host port forwarded
//! to the guest's port 80), and the Linux network yardstick (`crate::yardstick::network`)
//! booted by the same QEMU command; each measured from the host through its forwarded port
//! (`crate::network_measure`): 16 MiB down, 16 MiB up, 1,000 small requests. The figures
//! are printed side by side with Cella's over Linux's.

use crate::commands::build::BuildOutputs;
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
        // The server answers once the TCP/IP server has its address.
        let started = Instant::now();
        while http_client::get(port, "/api/ps", Duration::from_secs(10))
            .map_or(true, |answer| answer.status != 200)
        {
            if started.elapsed() > READY_TIMEOUT {
                return Err(Error::new(format!(
                    "Cella's HTTP server did not answer in {} s; serial output:\n{}",
                    READY_TIMEOUT.as_secs(),
                    boot.output()
                )));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
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

/// One line of the comparison: what is measured, each system's figure as text, and Cella's
/// value over Linux's.
struct Row {
    what: String,
    cella: String,
    linux: Option<String>,
    ratio: Option<f64>,
}

impl Row {
    fn new(
        what: String,
        cella: &Figures,
        linux: Option<&Figures>,
        value: fn(&Figures) -> f64,
        text: fn(f64) -> String,
    ) -> Row {
        Row {
            what,
            cella: text(value(cella)),
            linux: linux.map(|linux| text(value(linux))),
            ratio: linux
                .map(value)
                .filter(|&linux| linux > 0.0)
                .map(|linux| value(cella) / linux),
        }
    }
}

fn rate(value: f64) -> String {
    format!("{value:.2} MB/s")
}

fn milliseconds(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

/// The lines printed for Cella's figures beside Linux's.
pub fn report(cella: &Figures, linux: Option<&Figures>) -> Vec<String> {
    let mib = cella.bytes / (1024 * 1024);
    let requests = cella.latencies.len();
    let rows = [
        Row::new(
            format!("download {mib} MiB (guest -> host)"),
            cella,
            linux,
            Figures::download_rate,
            rate,
        ),
        Row::new(
            format!("upload {mib} MiB (host -> guest)"),
            cella,
            linux,
            Figures::upload_rate,
            rate,
        ),
        Row::new(
            format!("{requests} small requests, median"),
            cella,
            linux,
            |figures| figures.latency(0.5).as_secs_f64(),
            milliseconds,
        ),
        Row::new(
            format!("{requests} small requests, p99"),
            cella,
            linux,
            |figures| figures.latency(0.99).as_secs_f64(),
            milliseconds,
        ),
    ];
    let mut lines = vec![format!(
        "  {:<40} {:>15} | {:>14} | Cella/Linux",
        "", "Linux (busybox)", "Cella (Wasm)"
    )];
    for row in rows {
        lines.push(format!(
            "  {:<40} {:>15} | {:>14} | {}",
            row.what,
            row.linux.unwrap_or_else(|| String::from("-")),
            row.cella,
            row.ratio
                .map_or_else(|| String::from("-"), |ratio| format!("{ratio:.2}"))
        ));
    }
    if let Some(linux) = linux {
        let worst = (cella.download_rate() / linux.download_rate())
            .min(cella.upload_rate() / linux.upload_rate());
        let verdict = if worst >= 0.5 { "met" } else { "NOT met" };
        lines.push(format!(
            "  goal: the Wasm path's throughput at least half of Linux's both ways: {verdict} (worst {worst:.2})"
        ));
    }
    lines
}

/// Measures both systems and prints the comparison.
///
/// # Errors
/// The boot of Cella failed or its server did not answer as it should; the Linux yardstick
/// failing to boot is an error too, but its absence from the machine is a line saying so.
pub fn run(
    shell: &Shell,
    workspace: &Workspace,
    qemu: &Path,
    system: &BuildOutputs,
    image: &Path,
) -> Result<()> {
    let cella = measure_cella(shell, workspace, qemu, system, image)?;
    let linux = measure_linux(shell, workspace, qemu)?;
    println!(
        "network benchmark (host clock through a forwarded port of QEMU's user network, TCG; one connection a request):"
    );
    if let Err(reason) = &linux {
        println!("  the Linux yardstick was skipped: {reason}");
    }
    for line in report(&cella, linux.as_ref().ok()) {
        println!("{line}");
    }
    println!(
        "  the same driver as a native process: not measured (virtio-net has no native build)"
    );
    Ok(())
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

    #[test]
    fn the_report_sets_cella_beside_linux_with_ratios_and_the_goal() {
        let lines = report(&figures(4000, 8000, 4), Some(&figures(1000, 2000, 1)));
        assert!(
            lines[1].contains("download 16 MiB (guest -> host)"),
            "{lines:#?}"
        );
        assert!(
            lines[1].contains("16.78 MB/s") && lines[1].contains("4.19 MB/s"),
            "{lines:#?}"
        );
        assert!(lines[1].ends_with("| 0.25"), "{lines:#?}");
        assert!(
            lines[3].contains("small requests, median") && lines[3].ends_with("| 4.00"),
            "{lines:#?}"
        );
        assert!(lines[5].contains("NOT met (worst 0.25)"), "{lines:#?}");
        let met = report(&figures(1500, 2000, 1), Some(&figures(1000, 2000, 1)));
        assert!(met[5].contains(": met (worst 0.67)"), "{met:#?}");
    }

    #[test]
    fn without_linux_the_report_has_no_ratios_and_no_goal() {
        let lines = report(&figures(4000, 8000, 4), None);
        assert_eq!(lines.len(), 5);
        assert!(lines[1].ends_with("| -"), "{lines:#?}");
    }
}
