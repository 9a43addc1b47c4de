//! `cella test`: host tests (`cargo test` for the default members and the kernel's library),
//! then the test system's build (the test kernel and its boot archive) and the production
//! kernel's, and the QEMU integration tests (`cargo test -p cella-qemu-tests`),
//! then one summary line. Every stage runs even if an earlier one failed (except that the QEMU
//! tests need a kernel), and any failure makes the command fail.

use super::build::{Image, build_all};
use crate::cargo::{self, KERNEL_PACKAGE, QEMU_TESTS_PACKAGE};
use crate::cli::TestOptions;
use crate::progress::{self, format_duration};
use crate::setup::{self, Needs};
use crate::shell::{Shell, describe_status};
use crate::test_environment as environment;
use crate::test_summary::TestCounts;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The outcome of one stage.
struct Stage {
    label: &'static str,
    counts: TestCounts,
    /// QEMU boots, for the QEMU stage.
    boots: Option<usize>,
    elapsed: Duration,
    failure: Option<String>,
}

/// Guest crates (built to wasm32, not default members) whose unit tests run
/// on the host with the kernel's library tests.
const GUEST_UNIT_TESTS: [&str; 1] = ["cella-shell"];

/// `cella test`.
pub fn test(shell: &Shell, workspace: &Workspace, options: &TestOptions) -> Result<()> {
    let started = Instant::now();
    let qemu = setup::ensure(
        shell,
        &workspace.root,
        Needs {
            qemu: options.qemu,
            // The image maker's host tests and the QEMU tests' file-system disk.
            file_system_tools: true,
        },
    )?;
    if options.qemu {
        // The status page's browser test; without these it is skipped, saying why.
        crate::browser_tools::ensure(shell);
    }
    let mut stages = Vec::new();
    if options.host {
        let mut command = cargo::cargo_command(&workspace.root, "test");
        command.arg("--no-fail-fast");
        // The drivers' device tests run the release .wasm files: build them once here.
        let guests = crate::modules::guest_packages(&workspace.root);
        let guests: Vec<&str> = guests.iter().map(String::as_str).collect();
        match crate::modules::build_packages(shell, workspace, &guests) {
            Ok(directory) => {
                command.env(crate::modules::WASM_DIR_VARIABLE, directory);
            }
            Err(error) => progress::message(&format!(
                "the device tests will build the modules themselves: {error}"
            )),
        }
        stages.push(run_tests(shell, "host tests", command));
        let mut command = cargo::cargo_command(&workspace.root, "test");
        command.args(["--no-fail-fast", "--package", KERNEL_PACKAGE, "--lib"]);
        // Guest crates with unit tests of their own (the shell's line editor),
        // run on the host as libraries.
        for package in GUEST_UNIT_TESTS {
            command.args(["--package", package]);
        }
        stages.push(run_tests(shell, "kernel and guest library tests", command));
    }
    if options.qemu {
        let qemu = qemu.ok_or_else(|| Error::new("QEMU was not found"))?;
        stages.push(run_qemu_tests(shell, workspace, options, &qemu));
    }

    let summary = stages
        .iter()
        .map(|stage| {
            let verdict = if stage.failure.is_some() {
                "FAILED: "
            } else {
                ""
            };
            let boots = stage
                .boots
                .map(|boots| format!(", {boots} boots"))
                .unwrap_or_default();
            format!(
                "{}: {verdict}{}{boots} ({})",
                stage.label,
                stage.counts,
                format_duration(stage.elapsed)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let failures: Vec<String> = stages
        .iter()
        .filter_map(|stage| {
            stage
                .failure
                .as_ref()
                .map(|failure| format!("{}: {failure}", stage.label))
        })
        .collect();
    let total = format_duration(started.elapsed());
    if failures.is_empty() {
        progress::message(&format!("test passed: {summary}; total {total}"));
        Ok(())
    } else {
        progress::message(&format!("test FAILED: {summary}; total {total}"));
        Err(Error::new(format!(
            "tests failed:\n  {}",
            failures.join("\n  ")
        )))
    }
}

/// Runs a `cargo test` command, counting results from its output.
fn run_tests(shell: &Shell, label: &'static str, mut command: Command) -> Stage {
    progress::message(&format!("running {label}"));
    let started = Instant::now();
    let mut counts = TestCounts::default();
    let failure = match shell.run_watching(&mut command, |line| counts.observe(line)) {
        Ok(status) if status.success() => None,
        Ok(status) if counts.failed > 0 => Some(format!(
            "{} test(s) failed ({})",
            counts.failed,
            describe_status(status)
        )),
        Ok(status) => Some(format!(
            "cargo test failed before all tests ran ({}); see the errors above",
            describe_status(status)
        )),
        Err(error) => Some(error.to_string()),
    };
    Stage {
        label,
        counts,
        boots: None,
        elapsed: started.elapsed(),
        failure,
    }
}

/// This tool's own binary, for the QEMU tests that run it.
fn tool_path() -> Option<std::path::PathBuf> {
    std::env::current_exe().ok().map(rebuilt_in_place)
}

/// A running binary's path as Linux gives it: once the host tests rebuilt the binary in
/// place, it names the running one `PATH (deleted)`, and PATH holds the new build.
fn rebuilt_in_place(path: std::path::PathBuf) -> std::path::PathBuf {
    match path
        .to_str()
        .and_then(|text| text.strip_suffix(" (deleted)"))
    {
        Some(rebuilt) => std::path::PathBuf::from(rebuilt),
        None => path,
    }
}

fn run_qemu_tests(
    shell: &Shell,
    workspace: &Workspace,
    options: &TestOptions,
    qemu: &Path,
) -> Stage {
    let started = Instant::now();
    let built = build_all(shell, workspace, Image::Test).and_then(|outputs| {
        let production = cargo::build_kernel(
            shell,
            &workspace.root,
            &workspace.target_directory,
            cargo::Kernel::Production,
        )?;
        Ok((outputs, production))
    });
    let not_run = |error: crate::Error| Stage {
        label: "QEMU tests",
        counts: TestCounts::default(),
        boots: None,
        elapsed: started.elapsed(),
        failure: Some(format!("not run: {error}")),
    };
    let (outputs, production) = match built {
        Ok(built) => built,
        Err(error) => return not_run(error),
    };
    // The harness boots a copy of the build directory's image per QEMU boot.
    let disk = match crate::disk_image::ensured(&workspace.cella_directory()) {
        Ok(disk) => disk,
        Err(error) => return not_run(error),
    };
    // And of the file-system image, for the tests that boot with it.
    let fs_image = match crate::fs_image::module_files(&workspace.root, &outputs.archive_entries)
        .and_then(|files| crate::fs_image::ensured(shell, &workspace.cella_directory(), &files))
    {
        Ok(image) => image,
        Err(error) => return not_run(error),
    };
    let timings = workspace.cella_directory().join("qemu-test-timings.txt");
    let _ = std::fs::remove_file(&timings);
    let mut command = cargo::cargo_command(&workspace.root, "test");
    command
        .args(["--no-fail-fast", "--package", QEMU_TESTS_PACKAGE])
        .env(environment::KERNEL, &outputs.kernel)
        .env(environment::PRODUCTION_KERNEL, &production)
        .env(environment::QEMU, qemu)
        .env(environment::BOOT_ARCHIVE, &outputs.boot_archive)
        .env(environment::DISK, &disk)
        .env(environment::FS_IMAGE, &fs_image)
        .env(environment::ACCEL, options.accel.to_string())
        .env(environment::TIMINGS_FILE, &timings);
    if let Some(tool) = tool_path() {
        command.env(environment::TOOL, tool);
    }
    if !options.test_args.is_empty() {
        command.arg("--").args(&options.test_args);
    }
    let mut stage = run_tests(shell, "QEMU tests", command);
    stage.elapsed = started.elapsed();
    if stage.failure.is_none() && stage.counts.passed == 0 && options.test_args.is_empty() {
        stage.failure = Some("no QEMU test ran: nothing was booted".into());
    }
    if let Ok(text) = std::fs::read_to_string(&timings) {
        let scenarios: Vec<String> = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let (name, seconds, outcome) = (fields.next()?, fields.next()?, fields.next()?);
                Some(format!("{name} {seconds} s {outcome}"))
            })
            .collect();
        stage.boots = Some(scenarios.len());
        if !scenarios.is_empty() {
            progress::message(&format!("QEMU boots: {}", scenarios.join(", ")));
        }
    }
    stage
}

#[cfg(test)]
mod tests {
    use super::rebuilt_in_place;
    use std::path::PathBuf;

    #[test]
    fn a_binary_rebuilt_in_place_is_found_at_its_path() {
        assert_eq!(
            rebuilt_in_place(PathBuf::from("/src/target/debug/cella (deleted)")),
            PathBuf::from("/src/target/debug/cella")
        );
        assert_eq!(
            rebuilt_in_place(PathBuf::from("/src/target/debug/cella")),
            PathBuf::from("/src/target/debug/cella")
        );
    }
}
