//! What the harness boots: the test kernel ELF (and the production one it checks), QEMU, the default boot archive, the disk image
//! each boot gets a copy of, the accelerator and the per-scenario timeout, from `CELLA_*` variables or found/built on demand.

use cella::cargo::Kernel;
use cella::fs_image;
use cella::qemu::{Accel, QEMU_PROGRAM, find_qemu};
use cella::shell::{Shell, is_executable};
use cella::test_environment as variables;
use cella::workspace::Workspace;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// Per-scenario timeout unless `CELLA_TEST_TIMEOUT` says otherwise. TCG boots take well under
/// a second; the margin is for a loaded 2-core machine running several QEMUs at once.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything a boot needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootEnvironment {
    /// Test kernel ELF (`cella-test-kernel`), which every scenario boots.
    pub kernel: PathBuf,
    /// Production kernel ELF (`cella-kernel`), checked to hold no scenario.
    pub production_kernel: PathBuf,
    /// QEMU binary.
    pub qemu: PathBuf,
    /// Default boot archive (`-initrd`) for scenarios that do not bring their own.
    pub boot_archive: PathBuf,
    /// The disk image of which each boot gets a copy of its own ([`crate::Disk`]).
    pub disk: PathBuf,
    /// Accelerator.
    pub accel: Accel,
    /// Per-scenario timeout.
    pub timeout: Duration,
    /// Where to append per-boot timings, if anywhere.
    pub timings_file: Option<PathBuf>,
}

/// The environment, resolved once per test binary. Panics with a clear message (failing the
/// test, never skipping it) if the kernel or QEMU cannot be found or built.
pub fn environment() -> &'static BootEnvironment {
    static ENVIRONMENT: OnceLock<Result<BootEnvironment, String>> = OnceLock::new();
    match ENVIRONMENT.get_or_init(BootEnvironment::resolve) {
        Ok(environment) => environment,
        Err(message) => panic!("cannot boot Cella: {message}"),
    }
}

/// The FAT32 file-system image of which a test that asks ([`crate::Disk::file_system_for`])
/// gets a copy: `CELLA_FS_IMAGE`, else `<target>/cella/fs.img` as `cargo cella run` or
/// `cargo cella test` made it, else one the harness makes there holding only `README.TXT`.
/// Resolved once per test binary, and only by the tests that use it; panics with a clear
/// message if there is none and none can be made.
pub fn file_system_image() -> &'static Path {
    static IMAGE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let resolved = IMAGE.get_or_init(|| match variable(variables::FS_IMAGE) {
        Some(path) if PathBuf::from(&path).is_file() => Ok(PathBuf::from(path)),
        Some(path) => Err(format!(
            "{} is set to {path}, which does not exist (run `cargo cella test`)",
            variables::FS_IMAGE
        )),
        None => {
            let shell = Shell::new(false);
            let workspace = Workspace::load(&shell).map_err(|error| error.to_string())?;
            let image = fs_image::path(&workspace.cella_directory());
            if image.is_file() {
                return Ok(image);
            }
            let readme = [fs_image::ImageFile::new(
                fs_image::README_PATH,
                fs_image::README_TEXT,
            )];
            fs_image::ensured(&shell, &workspace.cella_directory(), &readme)
                .map_err(|error| error.to_string())
        }
    });
    match resolved {
        Ok(image) => image,
        Err(message) => panic!("no file-system disk image: {message}"),
    }
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl BootEnvironment {
    /// Reads the `CELLA_*` variables; builds the kernel and a boot archive if they are unset.
    pub fn resolve() -> Result<BootEnvironment, String> {
        let qemu = match variable(variables::QEMU) {
            Some(path) if is_executable(path.as_ref()) => PathBuf::from(path),
            Some(path) => {
                return Err(format!(
                    "{} is set to {path}, which is not an executable file",
                    variables::QEMU
                ));
            }
            None => find_qemu().ok_or_else(|| {
                format!(
                    "{QEMU_PROGRAM} is not in PATH: run `cargo cella test` (it installs QEMU \
                     as root) or `cargo cella setup`"
                )
            })?,
        };
        let accel = match variable(variables::ACCEL) {
            Some(text) => text
                .parse()
                .map_err(|error: cella::Error| error.to_string())?,
            None => Accel::Tcg,
        };
        let timeout = match variable(variables::TIMEOUT_SECONDS) {
            Some(text) => Duration::from_secs_f64(text.parse().map_err(|_| {
                format!(
                    "{} must be a number of seconds, not `{text}`",
                    variables::TIMEOUT_SECONDS
                )
            })?),
            None => DEFAULT_TIMEOUT,
        };
        let mut workspace = None;
        let mut load_workspace = || -> Result<Workspace, String> {
            if workspace.is_none() {
                workspace = Some(Workspace::load(&Shell::new(false)).map_err(|e| e.to_string())?);
            }
            Ok(workspace.clone().expect("just loaded"))
        };
        let kernel = match variable(variables::KERNEL) {
            Some(path) if PathBuf::from(&path).is_file() => PathBuf::from(path),
            Some(path) => {
                return Err(format!(
                    "{} is set to {path}, which does not exist (run `cargo cella build`)",
                    variables::KERNEL
                ));
            }
            None => build_kernel(&load_workspace()?, Kernel::Test)?,
        };
        let production_kernel = match variable(variables::PRODUCTION_KERNEL) {
            Some(path) if PathBuf::from(&path).is_file() => PathBuf::from(path),
            Some(path) => {
                return Err(format!(
                    "{} is set to {path}, which does not exist (run `cargo cella build`)",
                    variables::PRODUCTION_KERNEL
                ));
            }
            None => build_kernel(&load_workspace()?, Kernel::Production)?,
        };
        let boot_archive = match variable(variables::BOOT_ARCHIVE) {
            Some(path) if PathBuf::from(&path).is_file() => PathBuf::from(path),
            Some(path) => {
                return Err(format!(
                    "{} is set to {path}, which does not exist (run `cargo cella build`)",
                    variables::BOOT_ARCHIVE
                ));
            }
            None => write_default_archive(&load_workspace()?)?,
        };
        let disk = match variable(variables::DISK) {
            Some(path) if PathBuf::from(&path).is_file() => PathBuf::from(path),
            Some(path) => {
                return Err(format!(
                    "{} is set to {path}, which does not exist (run `cargo cella test`)",
                    variables::DISK
                ));
            }
            None => cella::disk_image::ensured(&load_workspace()?.cella_directory())
                .map_err(|error| error.to_string())?,
        };
        Ok(BootEnvironment {
            kernel,
            production_kernel,
            qemu,
            boot_archive,
            disk,
            accel,
            timeout,
            timings_file: variable(variables::TIMINGS_FILE).map(PathBuf::from),
        })
    }
}

/// Builds `kernel` into a target directory of its own, so a `cargo test` that holds the
/// normal one's lock cannot block it.
fn build_kernel(workspace: &Workspace, kernel: Kernel) -> Result<PathBuf, String> {
    let target = workspace.cella_directory().join("qemu-tests-target");
    eprintln!(
        "cella-qemu-tests: no {} given; building it into {}",
        kernel.label(),
        target.display()
    );
    let mut command =
        cella::cargo::kernel_build_command(&workspace.root, kernel, Some(&target), true);
    Shell::new(false)
        .run(&mut command)
        .map_err(|error| format!("building the {}: {error}", kernel.label()))?;
    Ok(cella::cargo::kernel_elf_path(&target, kernel))
}

fn write_default_archive(workspace: &Workspace) -> Result<PathBuf, String> {
    let path = workspace
        .cella_directory()
        .join("qemu-tests")
        .join("boot.tar");
    let entries = cella::commands::build::boot_archive_entries(&workspace.root);
    cella::commands::build::write_archive(&path, &entries).map_err(|error| error.to_string())?;
    Ok(path)
}
