//! The set-up ("doctor") step every command runs first: install missing rustup targets and,
//! for commands that boot QEMU, make sure `qemu-system-x86_64` exists (installing Debian's
//! `qemu-system-x86` with apt when running as root, otherwise saying exactly what to install),
//! and the same for the FAT32 disk image's tools (`dosfstools`, `mtools`).

use crate::cargo::RUSTUP_TARGETS;
use crate::progress::{self, Step};
use crate::qemu::{QEMU_DEBIAN_PACKAGE, QEMU_PROGRAM, find_qemu};
use crate::shell::{Shell, find_program};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a command needs before it can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The command boots QEMU.
    pub qemu: bool,
    /// The command makes or reads the FAT32 disk image (`mkfs.fat`, `fsck.vfat`, mtools;
    /// see [`crate::file_system_tools`]).
    pub file_system_tools: bool,
}

impl Needs {
    /// Only the Rust targets.
    pub const NOTHING_ELSE: Needs = Needs {
        qemu: false,
        file_system_tools: false,
    };
    /// QEMU and the FAT32 image's tools: what a boot with the file-system disk needs.
    pub const QEMU_AND_DISK: Needs = Needs {
        qemu: true,
        file_system_tools: true,
    };
}

/// Makes sure everything in `needs` is present, installing what the tool can. Returns the
/// QEMU binary when `needs.qemu`.
pub fn ensure(shell: &Shell, workspace_root: &Path, needs: Needs) -> Result<Option<PathBuf>> {
    ensure_rust_targets(shell, workspace_root)?;
    if needs.file_system_tools {
        crate::file_system_tools::ensure(shell)?;
    }
    if needs.qemu {
        Ok(Some(ensure_qemu(shell)?))
    } else {
        Ok(None)
    }
}

/// The targets from [`RUSTUP_TARGETS`] that the active toolchain lacks.
pub fn missing_rust_targets(shell: &Shell, workspace_root: &Path) -> Result<Vec<&'static str>> {
    if find_program("rustup").is_some() {
        // Run from the workspace root so rust-toolchain.toml selects the toolchain.
        let mut command = Command::new("rustup");
        command
            .current_dir(workspace_root)
            .args(["target", "list", "--installed"]);
        let installed = shell
            .capture_stdout(&mut command)
            .map_err(|error| error.context("listing installed Rust targets"))?;
        let installed: Vec<&str> = installed.lines().map(str::trim).collect();
        Ok(RUSTUP_TARGETS
            .into_iter()
            .filter(|target| !installed.contains(target))
            .collect())
    } else {
        // No rustup (a distribution's Rust): look for the target's standard library.
        let mut missing = Vec::new();
        for target in RUSTUP_TARGETS {
            let mut command = Command::new("rustc");
            command.current_dir(workspace_root).args([
                "--print",
                "target-libdir",
                "--target",
                target,
            ]);
            let present = shell
                .capture_stdout(&mut command)
                .is_ok_and(|directory| Path::new(directory.trim()).is_dir());
            if !present {
                missing.push(target);
            }
        }
        Ok(missing)
    }
}

fn ensure_rust_targets(shell: &Shell, workspace_root: &Path) -> Result<()> {
    let missing = missing_rust_targets(shell, workspace_root)?;
    if missing.is_empty() {
        return Ok(());
    }
    if find_program("rustup").is_none() {
        return Err(Error::new(format!(
            "the Rust target(s) {} are not installed and rustup is not available; \
             install them for your Rust toolchain (with rustup: `rustup target add {}`)",
            missing.join(", "),
            missing.join(" ")
        )));
    }
    progress::message(&format!("installing Rust target(s) {}", missing.join(", ")));
    let step = Step::start(format!("rustup target add {}", missing.join(" ")));
    let mut command = Command::new("rustup");
    command
        .current_dir(workspace_root)
        .args(["target", "add"])
        .args(&missing);
    shell
        .run(&mut command)
        .map_err(|error| error.context("installing Rust targets"))?;
    step.done();
    let still_missing = missing_rust_targets(shell, workspace_root)?;
    if !still_missing.is_empty() {
        return Err(Error::new(format!(
            "`rustup target add` succeeded but {} is still not installed",
            still_missing.join(", ")
        )));
    }
    Ok(())
}

fn ensure_qemu(shell: &Shell) -> Result<PathBuf> {
    if let Some(qemu) = find_qemu() {
        return Ok(qemu);
    }
    if let Some(path) = std::env::var_os("CELLA_QEMU").filter(|path| !path.is_empty()) {
        return Err(Error::new(format!(
            "CELLA_QEMU is set to {} but that is not an executable file",
            Path::new(&path).display()
        )));
    }
    if !is_root() || find_program("apt-get").is_none() {
        return Err(Error::new(missing_qemu_advice(is_root())));
    }
    install_qemu_with_apt(shell)?;
    find_qemu().ok_or_else(|| {
        Error::new(format!(
            "installed {QEMU_DEBIAN_PACKAGE} but {QEMU_PROGRAM} is still not in PATH"
        ))
    })
}

/// What to tell a user who has no QEMU and for whom the tool cannot install it.
pub fn missing_qemu_advice(root: bool) -> String {
    if root {
        format!(
            "{QEMU_PROGRAM} is not installed and there is no apt-get to install it with.\n\
             Install QEMU's x86 system emulator (the package providing {QEMU_PROGRAM}) \
             with your package manager, then run the command again."
        )
    } else {
        format!(
            "{QEMU_PROGRAM} is not installed (cella installs it itself only when run as root).\n\
             Install it with:\n\
             \n    sudo apt-get update && sudo apt-get install -y {QEMU_DEBIAN_PACKAGE}\n\n\
             (on a distribution without apt: the package providing {QEMU_PROGRAM}), \
             then run the command again."
        )
    }
}

fn install_qemu_with_apt(shell: &Shell) -> Result<()> {
    progress::message(&format!(
        "{QEMU_PROGRAM} not found; installing {QEMU_DEBIAN_PACKAGE} with apt-get"
    ));
    apt_install(shell, &[QEMU_DEBIAN_PACKAGE])
}

/// `apt-get update`, then `apt-get install -y --no-install-recommends PACKAGES`
/// (non-interactive; apt's output shown only on failure unless `-v`). The caller checks
/// that the tool runs as root and that apt-get exists.
pub fn apt_install(shell: &Shell, packages: &[&str]) -> Result<()> {
    let apt = |arguments: &[&str]| {
        let mut command = Command::new("apt-get");
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["-o", "Dpkg::Use-Pty=0"])
            .args(arguments);
        command
    };
    let install_label = format!("apt-get install {}", packages.join(" "));
    let mut install_arguments = vec!["install", "-y", "--no-install-recommends"];
    install_arguments.extend_from_slice(packages);
    for (label, arguments) in [
        ("apt-get update", &["update"][..]),
        (install_label.as_str(), &install_arguments[..]),
    ] {
        let step = Step::start(label);
        let mut command = apt(arguments);
        if shell.verbose() {
            shell.run(&mut command)?;
        } else {
            // apt is chatty: keep its output for when it fails.
            let output = shell.capture(&mut command)?;
            if !output.status.success() {
                return Err(Error::new(format!(
                    "`{label}` failed ({}):\n{}{}",
                    crate::shell::describe_status(output.status),
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )));
            }
        }
        step.done();
    }
    Ok(())
}

/// Whether the tool runs with effective user id 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_uid(&status))
        .or_else(|| {
            let output = Command::new("id").arg("-u").output().ok()?;
            String::from_utf8(output.stdout).ok()?.trim().parse().ok()
        })
        == Some(0)
}

/// The effective user id from the text of `/proc/self/status` (`Uid: real effective ...`).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// One line of `cella doctor`'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub subject: String,
    /// `Ok(detail)` or `Err(what to do)`.
    pub outcome: std::result::Result<String, String>,
}

/// Checks everything `cella` depends on without installing anything.
pub fn diagnose(shell: &Shell, workspace_root: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let version = |program: &str, argument: &str| {
        Command::new(program)
            .arg(argument)
            .current_dir(workspace_root)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| {
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .next()
                    .map(str::to_owned)
            })
    };
    checks.push(Check {
        subject: "rustc".into(),
        outcome: version("rustc", "--version").ok_or_else(|| "rustc not found".into()),
    });
    checks.push(Check {
        subject: "rustup".into(),
        outcome: version("rustup", "--version")
            .ok_or_else(|| "rustup not found (targets must come with your toolchain)".into()),
    });
    match missing_rust_targets(shell, workspace_root) {
        Ok(missing) => {
            for target in RUSTUP_TARGETS {
                checks.push(Check {
                    subject: format!("Rust target {target}"),
                    outcome: if missing.contains(&target) {
                        Err(format!(
                            "missing: `rustup target add {target}` (cella setup does it)"
                        ))
                    } else {
                        Ok("installed".into())
                    },
                });
            }
        }
        Err(error) => checks.push(Check {
            subject: "Rust targets".into(),
            outcome: Err(error.to_string()),
        }),
    }
    checks.push(Check {
        subject: QEMU_PROGRAM.into(),
        outcome: match find_qemu() {
            Some(path) => {
                let version = version(&path.to_string_lossy(), "--version").unwrap_or_default();
                Ok(format!("{} ({version})", path.display()))
            }
            None if is_root() && find_program("apt-get").is_some() => Err(format!(
                "missing: `cella setup` installs {QEMU_DEBIAN_PACKAGE} with apt-get"
            )),
            None => Err(missing_qemu_advice(is_root())),
        },
    });
    checks.push(Check {
        subject: "dosfstools and mtools (the FAT32 disk image)".into(),
        outcome: crate::file_system_tools::diagnosis(),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_uid() {
        let status = "Name:\tcella\nUid:\t1000\t0\t1000\t1000\nGid:\t0\t0\t0\t0\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name: x\n"), None);
    }

    #[test]
    fn advice_names_the_package() {
        assert!(missing_qemu_advice(false).contains("sudo apt-get install -y qemu-system-x86"));
        assert!(missing_qemu_advice(true).contains("package manager"));
    }
}
