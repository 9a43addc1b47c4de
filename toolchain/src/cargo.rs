//! Invoking cargo: which cargo, the kernel's package/target/profile, and the kernel build.

use crate::Result;
use crate::progress::Step;
use crate::shell::Shell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel's package name.
pub const KERNEL_PACKAGE: &str = "cella-kernel";
/// The kernel's binary name (also the ELF's file name).
pub const KERNEL_BINARY: &str = "cella-kernel";
/// The kernel's target triple.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";
/// The Cargo profile the kernel is built with.
pub const KERNEL_PROFILE: &str = "release";
/// The QEMU integration-test package (not a default member).
pub const QEMU_TESTS_PACKAGE: &str = "cella-qemu-tests";
/// The rustup targets the workspace builds for (kernel and Wasm guests).
pub const RUSTUP_TARGETS: [&str; 2] = ["x86_64-unknown-none", "wasm32-unknown-unknown"];

/// The cargo to run: `$CARGO` (set when running under `cargo run`), else `cargo` from `PATH`.
pub fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// `cargo SUBCOMMAND` run from the workspace root.
pub fn cargo_command(workspace_root: &Path, subcommand: &str) -> Command {
    let mut command = Command::new(cargo_program());
    command.current_dir(workspace_root).arg(subcommand);
    command
}

/// Where `cargo build --release -p cella-kernel --target x86_64-unknown-none` puts the ELF.
pub fn kernel_elf_path(target_directory: &Path) -> PathBuf {
    target_directory
        .join(KERNEL_TARGET)
        .join(KERNEL_PROFILE)
        .join(KERNEL_BINARY)
}

/// The kernel build command. `target_directory` overrides cargo's own choice (the QEMU test
/// harness uses a separate one); `quiet` passes `--quiet`.
pub fn kernel_build_command(
    workspace_root: &Path,
    target_directory: Option<&Path>,
    quiet: bool,
) -> Command {
    let mut command = cargo_command(workspace_root, "build");
    command.args([
        "--release",
        "--package",
        KERNEL_PACKAGE,
        "--target",
        KERNEL_TARGET,
    ]);
    if let Some(directory) = target_directory {
        command.arg("--target-dir").arg(directory);
    }
    if quiet {
        command.arg("--quiet");
    }
    command
}

/// Builds the kernel (release) into `target_directory` and returns the ELF's path.
pub fn build_kernel(
    shell: &Shell,
    workspace_root: &Path,
    target_directory: &Path,
) -> Result<PathBuf> {
    let step = Step::start(format!("building kernel ({KERNEL_PROFILE})"));
    let mut command = kernel_build_command(workspace_root, None, !shell.verbose());
    shell
        .run(&mut command)
        .map_err(|error| error.context("building the kernel"))?;
    step.done();
    let elf = kernel_elf_path(target_directory);
    if !elf.is_file() {
        return Err(crate::Error::new(format!(
            "the kernel build succeeded but {} does not exist",
            elf.display()
        )));
    }
    Ok(elf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::render_command;

    #[test]
    fn kernel_build_matches_the_contract() {
        let command = kernel_build_command(Path::new("/src"), Some(Path::new("/t")), true);
        let rendered = render_command(&command);
        assert!(
            rendered.ends_with(
                "build --release --package cella-kernel --target x86_64-unknown-none --target-dir /t --quiet"
            ),
            "{rendered}"
        );
        assert_eq!(
            kernel_elf_path(Path::new("/t")),
            PathBuf::from("/t/x86_64-unknown-none/release/cella-kernel")
        );
    }
}
