//! `cella faults`: the fault-injection campaign. Builds the test system, boots the test kernel's
//! `faults` scenario under QEMU (TCG) and prints what it reports: per fault kind and per
//! driver, how the faults were detected, how the drivers came back and how fast, and what
//! was touched outside the faulty driver. The console lines the campaign wrote through the
//! UART driver are checked here ([`crate::fault_echo`]). The whole serial output is kept in
//! `<target>/cella/faults-serial.txt`.

use crate::cli::FaultsOptions;
use crate::commands::build::{Image, build_all};
use crate::fault_echo;
use crate::qemu::{EXIT_STATUS_SUCCESS, QemuInvocation, Serial};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Instant;

/// Faults of the long run.
pub const LONG_RUN_FAULTS: u64 = 100_000;
/// The long run prints its table every this many faults.
const LONG_RUN_REPORT_EVERY: u64 = 2_500;

/// The kernel command line for `options`.
pub fn kernel_command_line(options: &FaultsOptions) -> String {
    let faults = if options.long {
        LONG_RUN_FAULTS
    } else {
        options.faults
    };
    let mut line = format!("test=faults faults={faults} fault_seed={}", options.seed);
    if let Some(drivers) = &options.drivers {
        line.push_str(&format!(" fault_drivers={drivers}"));
    }
    if options.long {
        // The kernel's own log would be most of the serial output.
        line.push_str(&format!(" fault_report={LONG_RUN_REPORT_EVERY} log=off"));
    } else {
        // One line per fault, kept in the serial output file.
        line.push_str(" fault_lines=1");
    }
    line
}

/// Builds, boots the campaign, prints its table and the console check.
///
/// # Errors
/// QEMU cannot start, the scenario did not pass, or a console line was damaged outside the
/// faulty driver.
pub fn faults(shell: &Shell, workspace: &Workspace, options: &FaultsOptions) -> Result<()> {
    let qemu = setup::ensure(
        shell,
        &workspace.root,
        Needs {
            qemu: true,
            file_system_tools: false,
        },
    )?
    .ok_or_else(|| Error::new("QEMU is needed for the fault campaign"))?;
    let outputs = build_all(shell, workspace, Image::Test)?;
    let mut invocation = QemuInvocation::new(qemu, outputs.kernel);
    invocation.initrd = Some(outputs.boot_archive);
    invocation.cmdline = kernel_command_line(options);
    invocation.serial = Serial::Stdio;
    invocation.disk = Some(crate::disk_image::private_copy(
        &workspace.cella_directory(),
        "faults",
    )?);
    let mut command = invocation.command();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    shell.show(&command);
    let log_path = workspace.cella_directory().join("faults-serial.txt");
    let mut log = std::fs::File::create(&log_path)
        .map_err(|error| Error::new(format!("creating {}: {error}", log_path.display())))?;
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|error| Error::new(format!("starting QEMU: {error}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::new("QEMU's output is not readable"))?;
    println!(
        "fault campaign (one QEMU boot, TCG): {}",
        invocation.cmdline
    );
    let mut serial = String::new();
    let mut table = Vec::new();
    let mut reader = BufReader::new(stdout);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        let read = reader
            .read_until(b'\n', &mut raw)
            .map_err(|error| Error::new(format!("reading QEMU's output: {error}")))?;
        if read == 0 {
            break;
        }
        let _ = log.write_all(&raw);
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(row) = line.strip_prefix("faults-table: ") {
            if row.starts_with("row ") {
                table.clear();
            }
            table.push(row.to_owned());
            if options.long {
                println!("  {row}");
            }
        } else if line.starts_with("faults:")
            || line.starts_with("scenario faults")
            || line.contains("PANIC")
        {
            println!("  {line}");
        }
        if line.contains("fault-echo ") {
            serial.push_str(line);
            serial.push('\n');
        }
    }
    let status = child
        .wait()
        .map_err(|error| Error::new(format!("waiting for QEMU: {error}")))?;
    if !options.long {
        for row in &table {
            println!("  {row}");
        }
    }
    let echo = fault_echo::check(&serial);
    println!("  {}", echo.summary());
    println!(
        "  {:.1} s; the serial output is in {}",
        started.elapsed().as_secs_f64(),
        log_path.display()
    );
    if status.code() != Some(EXIT_STATUS_SUCCESS) {
        let status = status.code().map_or_else(
            || String::from("none: QEMU was killed"),
            |code| code.to_string(),
        );
        return Err(Error::new(format!(
            "the fault campaign did not pass (QEMU exit status {status}); see {}",
            log_path.display()
        )));
    }
    if !echo.passed() {
        return Err(Error::new(format!(
            "{} console lines damaged outside the faulty driver ({} read)",
            echo.damaged_elsewhere, echo.lines
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_run_is_one_flag_and_the_short_one_lists_every_fault() {
        let short = kernel_command_line(&FaultsOptions::default());
        assert_eq!(short, "test=faults faults=300 fault_seed=1 fault_lines=1");
        let long = kernel_command_line(&FaultsOptions {
            long: true,
            drivers: Some("pci,cmos-rtc".to_owned()),
            ..FaultsOptions::default()
        });
        assert_eq!(
            long,
            "test=faults faults=100000 fault_seed=1 fault_drivers=pci,cmos-rtc fault_report=2500 log=off"
        );
    }
}
