//! Invoking cargo: which cargo, the kernel's package/target/profile, and the kernel build.

use crate::Result;
use crate::progress::Step;
use crate::shell::Shell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel's package name (its library, and the production kernel binary).
pub const KERNEL_PACKAGE: &str = "cella-kernel";
/// The test kernel's package name (`tests/kernel`: the kernel library and the QEMU scenarios).
pub const TEST_KERNEL_PACKAGE: &str = "cella-test-kernel";
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

/// Which kernel binary: both link the same kernel library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `cella-kernel`: what `cargo cella run` boots; no test code.
    Production,
    /// `cella-test-kernel`: the library built with its `test-hooks` feature plus the QEMU
    /// scenarios (`test=NAME`); what `cargo cella test`, `bench` and `faults` boot.
    Test,
}

impl Kernel {
    /// Its cargo package (also its binary's and the ELF's name).
    pub fn package(self) -> &'static str {
        match self {
            Kernel::Production => KERNEL_PACKAGE,
            Kernel::Test => TEST_KERNEL_PACKAGE,
        }
    }

    /// How progress messages call it.
    pub fn label(self) -> &'static str {
        match self {
            Kernel::Production => "kernel",
            Kernel::Test => "test kernel",
        }
    }
}

/// Where `cargo build --release -p PACKAGE --target x86_64-unknown-none` puts `kernel`'s ELF.
pub fn kernel_elf_path(target_directory: &Path, kernel: Kernel) -> PathBuf {
    target_directory
        .join(KERNEL_TARGET)
        .join(KERNEL_PROFILE)
        .join(kernel.package())
}

/// The build command of `kernel`. `target_directory` overrides cargo's own choice (the QEMU
/// test harness uses a separate one); `quiet` passes `--quiet`.
///
/// Each kernel is built by a cargo invocation of its own: built together, cargo would unify
/// the library's features and the production kernel would get the test kernel's
/// `test-hooks`.
pub fn kernel_build_command(
    workspace_root: &Path,
    kernel: Kernel,
    target_directory: Option<&Path>,
    quiet: bool,
) -> Command {
    let mut command = cargo_command(workspace_root, "build");
    command.args([
        "--release",
        "--package",
        kernel.package(),
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

/// Builds `kernel` (release) into `target_directory` and returns the ELF's path.
pub fn build_kernel(
    shell: &Shell,
    workspace_root: &Path,
    target_directory: &Path,
    kernel: Kernel,
) -> Result<PathBuf> {
    let step = Step::start(format!("building {} ({KERNEL_PROFILE})", kernel.label()));
    let mut command = kernel_build_command(workspace_root, kernel, None, !shell.verbose());
    shell
        .run(&mut command)
        .map_err(|error| error.context(format!("building the {}", kernel.label())))?;
    step.done();
    let elf = kernel_elf_path(target_directory, kernel);
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
        let command = kernel_build_command(
            Path::new("/src"),
            Kernel::Production,
            Some(Path::new("/t")),
            true,
        );
        let rendered = render_command(&command);
        assert!(
            rendered.ends_with(
                "build --release --package cella-kernel --target x86_64-unknown-none --target-dir /t --quiet"
            ),
            "{rendered}"
        );
        assert_eq!(
            kernel_elf_path(Path::new("/t"), Kernel::Production),
            PathBuf::from("/t/x86_64-unknown-none/release/cella-kernel")
        );
        let command = kernel_build_command(Path::new("/src"), Kernel::Test, None, false);
        let rendered = render_command(&command);
        assert!(
            rendered.ends_with(
                "build --release --package cella-test-kernel --target x86_64-unknown-none"
            ),
            "{rendered}"
        );
        assert_eq!(
            kernel_elf_path(Path::new("/t"), Kernel::Test),
            PathBuf::from("/t/x86_64-unknown-none/release/cella-test-kernel")
        );
    }
}
