//! `cella build`: the kernel (release) and the boot archive `<target>/cella/boot.tar`.
//!
//! Two images are built from the same kernel library ([`Image`]): the production system
//! (`cella-kernel` and `modules/system.toml`, what `cargo cella run` boots) and the test
//! system (`cella-test-kernel` and `modules/system.toml` + `modules/teaching.toml` +
//! `tests/kernel/system.toml`, what the QEMU tests, `cargo cella bench` and `cargo cella
//! faults` boot).

use crate::archive::{self, ArchiveEntry};
use crate::build_info::BuildInfo;
use crate::cargo::{self, KERNEL_PROFILE, KERNEL_TARGET, Kernel};
use crate::progress;
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::system_manifest::{SOURCE, SystemPlan, TEACHING_SOURCE, TEST_SOURCE};
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Name of the build-information entry in the boot archive.
pub const BUILD_INFO_ENTRY: &str = "build-info.txt";

/// A kernel and the system manifest files its boot archive is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    /// The production kernel with `modules/system.toml`, and `modules/teaching.toml` too
    /// with `teaching` (`cargo cella run --teaching`).
    Production { teaching: bool },
    /// The test kernel with the production system, the teaching modules and
    /// `tests/kernel/system.toml` (test modules and swap fixtures).
    Test,
    /// The production kernel with `modules/system.toml` and a lab's `lab.toml`
    /// (`cargo cella lab N`).
    Lab {
        /// The lab's manifest addition, relative to the workspace root.
        manifest: &'static str,
    },
}

impl Image {
    /// Its kernel binary.
    pub fn kernel(self) -> Kernel {
        match self {
            Image::Production { .. } | Image::Lab { .. } => Kernel::Production,
            Image::Test => Kernel::Test,
        }
    }

    /// Its system manifest files, in order (the first is the base).
    pub fn manifests(self) -> Vec<&'static str> {
        match self {
            Image::Production { teaching: false } => vec![SOURCE],
            Image::Production { teaching: true } => vec![SOURCE, TEACHING_SOURCE],
            Image::Test => vec![SOURCE, TEACHING_SOURCE, TEST_SOURCE],
            Image::Lab { manifest } => vec![SOURCE, manifest],
        }
    }

    /// Whether its boot archive holds native program `entry` (`bin/NAME`): the test image
    /// holds every program (its scenarios start them), a production image only those its
    /// manifest's processes run.
    fn packs_program(self, plan: &SystemPlan, entry: &str) -> bool {
        self == Image::Test
            || plan
                .processes
                .iter()
                .any(|process| process.archive_file() == entry)
    }

    /// Its boot archive's file name in `<target>/cella`.
    fn archive_name(self) -> &'static str {
        match self {
            Image::Production { teaching: false } => "boot.tar",
            Image::Production { teaching: true } => "teaching-boot.tar",
            Image::Test => "test-boot.tar",
            Image::Lab { .. } => "lab-boot.tar",
        }
    }
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutputs {
    /// The kernel ELF.
    pub kernel: PathBuf,
    /// The boot archive (ustar), passed to QEMU with `-initrd`.
    pub boot_archive: PathBuf,
    /// The archive's entries, in order.
    pub archive_entries: Vec<ArchiveEntry>,
}

/// `cella build`: the production image.
pub fn build(shell: &Shell, workspace: &Workspace) -> Result<()> {
    setup::ensure(shell, &workspace.root, Needs::NOTHING_ELSE)?;
    let outputs = build_all(shell, workspace, Image::Production { teaching: false })?;
    progress::message(&format!("kernel: {}", outputs.kernel.display()));
    progress::message(&format!(
        "boot archive: {} ({})",
        outputs.boot_archive.display(),
        outputs
            .archive_entries
            .iter()
            .map(|entry| format!("{} {} bytes", entry.name, entry.bytes.len()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

/// Builds and checks the Wasm modules of `image`'s manifests (see [`crate::modules`]), builds
/// its kernel and writes its boot archive: `build-info.txt`, `system.manifest`,
/// `modules/NAME.wasm` (and the swap targets of [`crate::variants`]), and the native
/// programs `bin/NAME` (see [`crate::userland`]), then `push.key`, the key `cargo cella push`
/// signs uploads with (made once per build directory, see [`crate::push::ensure_key`]).
pub fn build_all(shell: &Shell, workspace: &Workspace, image: Image) -> Result<BuildOutputs> {
    let manifests = image.manifests();
    let (plan, built) = crate::modules::build_and_check(shell, workspace, &manifests)?;
    for module in &built {
        progress::message(&format!(
            "module {} {}: {} KiB, {}",
            module.spec.name,
            module.version,
            module.bytes.len().div_ceil(1024),
            crate::modules::requests_text(&module.requests)
        ));
    }
    let kernel = cargo::build_kernel(
        shell,
        &workspace.root,
        &workspace.target_directory,
        image.kernel(),
    )?;
    let mut archive_entries = boot_archive_entries(&workspace.root);
    archive_entries.extend(crate::modules::archive_entries(&plan, &built));
    archive_entries.extend(crate::variants::build(shell, workspace, &plan, &manifests)?);
    let programs = crate::userland::archive_entries(shell, workspace)?;
    archive_entries.extend(
        programs
            .into_iter()
            .filter(|entry| image.packs_program(&plan, &entry.name)),
    );
    let key = crate::push::ensure_key(&workspace.cella_directory())?;
    archive_entries.push(ArchiveEntry::new(
        cella_system::push_authority::KEY_ARCHIVE_ENTRY,
        key.to_hex().into_bytes(),
    ));
    let boot_archive = workspace.cella_directory().join(image.archive_name());
    write_archive(&boot_archive, &archive_entries)?;
    Ok(BuildOutputs {
        kernel,
        boot_archive,
        archive_entries,
    })
}

/// The boot archive's first entry, `build-info.txt` ([`build_all`] adds the system manifest
/// and the modules).
pub fn boot_archive_entries(workspace_root: &Path) -> Vec<ArchiveEntry> {
    let info = BuildInfo::collect(workspace_root, KERNEL_PROFILE, KERNEL_TARGET);
    vec![ArchiveEntry::new(BUILD_INFO_ENTRY, info.to_text())]
}

/// Writes `entries` as a ustar archive at `path` (atomically: a temporary file, then rename).
pub fn write_archive(path: &Path, entries: &[ArchiveEntry]) -> Result<()> {
    let modified = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .unwrap_or(0)
        });
    let bytes = archive::write_ustar(entries, modified)?;
    let directory = path
        .parent()
        .ok_or_else(|| Error::new(format!("{} has no parent directory", path.display())))?;
    std::fs::create_dir_all(directory)
        .map_err(|error| Error::new(format!("creating {}: {error}", directory.display())))?;
    let temporary = path.with_extension(format!("tar.{}.tmp", std::process::id()));
    std::fs::write(&temporary, &bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| Error::new(format!("writing {}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_image_has_its_kernel_and_manifest_files() {
        let production = Image::Production { teaching: false };
        assert_eq!(production.kernel(), Kernel::Production);
        assert_eq!(production.manifests(), [SOURCE]);
        assert_eq!(production.archive_name(), "boot.tar");
        let teaching = Image::Production { teaching: true };
        assert_eq!(teaching.kernel(), Kernel::Production);
        assert_eq!(teaching.manifests(), [SOURCE, TEACHING_SOURCE]);
        assert_eq!(Image::Test.kernel(), Kernel::Test);
        assert_eq!(
            Image::Test.manifests(),
            [SOURCE, TEACHING_SOURCE, TEST_SOURCE]
        );
        let plan = SystemPlan::parse(
            "[[module]]\nname = \"a\"\n[[process]]\nname = \"checksum\"\nprogram = \"checksum-native\"\n",
            SOURCE,
        )
        .unwrap();
        assert!(production.packs_program(&plan, "bin/checksum-native"));
        assert!(!production.packs_program(&plan, "bin/fuzz"));
        assert!(Image::Test.packs_program(&plan, "bin/fuzz"));
        let names = [
            production.archive_name(),
            teaching.archive_name(),
            Image::Test.archive_name(),
        ];
        assert!(
            names[0] != names[1] && names[1] != names[2] && names[0] != names[2],
            "{names:?}"
        );
        let lab = Image::Lab {
            manifest: "labs/01-memory-bounds/lab.toml",
        };
        assert_eq!(lab.kernel(), Kernel::Production);
        assert_eq!(lab.manifests(), [SOURCE, "labs/01-memory-bounds/lab.toml"]);
        assert!(!names.contains(&lab.archive_name()));
        assert!(!lab.packs_program(&plan, "bin/fuzz"));
    }
}
