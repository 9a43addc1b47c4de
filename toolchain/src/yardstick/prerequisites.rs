//! What the Linux yardstick needs on the host: Debian's Linux kernel (`linux-image-amd64`,
//! found as the newest `/boot/vmlinuz-*`), a static busybox (`busybox-static`,
//! `/bin/busybox`) and gcc with a static C library. Like QEMU in `crate::setup`, the two
//! Debian packages are installed with apt when missing and the tool runs as root; otherwise
//! the caller gets the reason the yardstick cannot run, naming what to install.

use crate::setup::{apt_install, is_root};
use crate::shell::{Shell, find_program};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian packages the yardstick boots.
pub const DEBIAN_PACKAGES: [&str; 2] = ["linux-image-amd64", "busybox-static"];
/// Where `busybox-static` puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";
/// Where Debian puts its kernels.
pub const BOOT_DIRECTORY: &str = "/boot";

/// The modules `/dev/vda` needs (Debian builds virtio as modules), under
/// `/lib/modules/VERSION/`; each is loaded after what `modules.dep` says it needs.
pub const VIRTIO_MODULES: [&str; 2] = [
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/drivers/block/virtio_blk.ko",
];
/// The module the network yardstick's card needs, loaded after the virtio ones (and what
/// `modules.dep` says it needs).
pub const NETWORK_MODULES: [&str; 2] = [
    "kernel/drivers/virtio/virtio_pci.ko",
    "kernel/drivers/net/virtio_net.ko",
];
/// Where Debian puts each kernel's modules.
pub const MODULES_DIRECTORY: &str = "/lib/modules";

/// Everything the yardstick needs, found.
#[derive(Debug, Clone)]
pub struct Prerequisites {
    /// The Linux kernel image (bzImage).
    pub kernel: PathBuf,
    /// The modules of that kernel `/init` loads (the virtio ones for `/dev/vda`, then the
    /// vfat ones), in load order (name, path).
    pub modules: Vec<(String, PathBuf)>,
    /// The modules the network yardstick loads for its card, in load order.
    pub network_modules: Vec<(String, PathBuf)>,
    /// The static busybox binary.
    pub busybox: PathBuf,
    /// The C compiler.
    pub gcc: PathBuf,
}

/// Finds (installing with apt when root) what the yardstick needs; `Err` is the reason it
/// cannot run, as a sentence that says what to install.
pub fn ensure(shell: &Shell) -> Result<Prerequisites, String> {
    let gcc = find_program("gcc").ok_or_else(|| {
        String::from(
            "gcc is not installed (install gcc and libc6-dev: `apt-get install gcc libc6-dev`)",
        )
    })?;
    let missing = missing_packages(shell);
    if !missing.is_empty() {
        if !is_root() || find_program("apt-get").is_none() {
            return Err(install_advice(&missing));
        }
        apt_install(shell, &missing).map_err(|error| {
            format!(
                "installing {} with apt-get failed: {error}",
                missing.join(" ")
            )
        })?;
    }
    let kernel = newest_kernel(Path::new(BOOT_DIRECTORY))?;
    std::fs::File::open(&kernel).map_err(|error| {
        format!(
            "cannot read {} ({error}); Debian makes kernel images readable by root only on \
             some systems: run as root",
            kernel.display()
        )
    })?;
    let wanted: Vec<&str> = VIRTIO_MODULES
        .into_iter()
        .chain(super::vfat::MODULES)
        .collect();
    let modules = kernel_modules(Path::new(MODULES_DIRECTORY), &kernel, &wanted)?;
    let network_modules = kernel_modules(Path::new(MODULES_DIRECTORY), &kernel, &NETWORK_MODULES)?;
    let busybox = PathBuf::from(BUSYBOX);
    if !busybox.is_file() {
        return Err(format!(
            "{BUSYBOX} is missing although busybox-static is installed"
        ));
    }
    Ok(Prerequisites {
        kernel,
        modules,
        network_modules,
        busybox,
        gcc,
    })
}

/// Why the yardstick cannot run when `missing` packages are not installed and the tool
/// cannot install them.
pub fn install_advice(missing: &[&str]) -> String {
    format!(
        "{} not installed; install with `sudo apt-get install -y {}` \
         (cella installs them itself only when run as root with apt-get)",
        missing.join(" and "),
        missing.join(" ")
    )
}

/// The packages of [`DEBIAN_PACKAGES`] that are not installed (by `dpkg-query`; without
/// dpkg, judged by the files they provide).
fn missing_packages(shell: &Shell) -> Vec<&'static str> {
    DEBIAN_PACKAGES
        .into_iter()
        .filter(|package| !is_installed(shell, package))
        .collect()
}

fn is_installed(shell: &Shell, package: &str) -> bool {
    if find_program("dpkg-query").is_some() {
        let mut command = Command::new("dpkg-query");
        command.args(["--show", "--showformat=${Status}", package]);
        return shell
            .capture(&mut command)
            .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).ends_with(" installed"));
    }
    match package {
        "busybox-static" => Path::new(BUSYBOX).is_file(),
        _ => newest_kernel(Path::new(BOOT_DIRECTORY)).is_ok(),
    }
}

/// The newest `vmlinuz-*` in `directory` (by version: `vmlinuz-6.1.0-30-amd64` is newer
/// than `vmlinuz-6.1.0-9-amd64`).
pub fn newest_kernel(directory: &Path) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(directory)
        .map_err(|error| format!("cannot list {}: {error}", directory.display()))?;
    let mut versions: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.strip_prefix("vmlinuz-"))
                .map(str::to_owned)
        })
        .collect();
    versions.sort_by(|a, b| compare_versions(a, b));
    versions
        .pop()
        .map(|version| directory.join(format!("vmlinuz-{version}")))
        .ok_or_else(|| {
            format!(
                "no Linux kernel in {} (no vmlinuz-* file); install linux-image-amd64",
                directory.display()
            )
        })
}

/// The modules `wanted` (such as [`VIRTIO_MODULES`]) of `kernel` (`.../vmlinuz-VERSION`) under `modules_directory`
/// (`/lib/modules`) and what they need, in load order (name, path), from the kernel's
/// `modules.dep`; a module built into the kernel (`modules.builtin`) needs no loading.
/// `Err` says what is missing.
pub fn kernel_modules(
    modules_directory: &Path,
    kernel: &Path,
    wanted: &[&str],
) -> Result<Vec<(String, PathBuf)>, String> {
    let version = kernel
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("vmlinuz-"))
        .ok_or_else(|| format!("{} is not named vmlinuz-VERSION", kernel.display()))?;
    let base = modules_directory.join(version);
    let read = |name: &str| {
        let path = base.join(name);
        std::fs::read_to_string(&path).map_err(|error| {
            format!(
                "cannot read {} ({error}); it comes with linux-image-{version}",
                path.display()
            )
        })
    };
    let dependencies = read("modules.dep")?;
    let builtin = read("modules.builtin").unwrap_or_default();
    let needs = |module: &str| -> Option<Vec<&str>> {
        dependencies.lines().find_map(|line| {
            let (name, needed) = line.split_once(':')?;
            (name == module).then(|| needed.split_whitespace().collect())
        })
    };
    let mut order: Vec<String> = Vec::new();
    // Depth-first: what a module needs is loaded before it. modules.dep has no cycles; the
    // depth bound keeps a damaged file from looping.
    fn visit<'a>(
        module: &'a str,
        needs: &dyn Fn(&str) -> Option<Vec<&'a str>>,
        builtin: &str,
        order: &mut Vec<String>,
        depth: usize,
    ) -> Result<(), String> {
        if order.iter().any(|loaded| loaded == module) {
            return Ok(());
        }
        if depth > 32 {
            return Err(format!("modules.dep nests deeper than 32 at {module}"));
        }
        match needs(module) {
            Some(needed) => {
                for dependency in needed {
                    visit(dependency, needs, builtin, order, depth + 1)?;
                }
                order.push(module.to_owned());
                Ok(())
            }
            None if builtin.lines().any(|line| line == module) => Ok(()),
            None => Err(format!(
                "{module} is in neither modules.dep nor modules.builtin"
            )),
        }
    }
    let needs_of = |module: &str| needs(module);
    for module in wanted {
        visit(module, &needs_of, &builtin, &mut order, 0)?;
    }
    order
        .into_iter()
        .map(|module| {
            let path = base.join(&module);
            let name = Path::new(&module)
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".ko"))
                .map(str::to_owned)
                .ok_or_else(|| {
                    format!("{module}: only uncompressed modules (.ko) can be loaded")
                })?;
            if path.is_file() {
                Ok((name, path))
            } else {
                Err(format!("{} is missing", path.display()))
            }
        })
        .collect()
}

/// Compares version strings piece by piece, runs of digits as numbers (`6.1.0-10` > `6.1.0-9`).
fn compare_versions(a: &str, b: &str) -> Ordering {
    fn pieces(text: &str) -> Vec<(bool, &str)> {
        let mut pieces = Vec::new();
        let mut start = 0;
        let bytes = text.as_bytes();
        for index in 1..=bytes.len() {
            if index == bytes.len()
                || bytes[index].is_ascii_digit() != bytes[start].is_ascii_digit()
            {
                pieces.push((bytes[start].is_ascii_digit(), &text[start..index]));
                start = index;
            }
        }
        pieces
    }
    let (a_pieces, b_pieces) = (pieces(a), pieces(b));
    for (left, right) in a_pieces.iter().zip(&b_pieces) {
        let order = match (left, right) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a_pieces.len().cmp(&b_pieces.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advice_names_the_missing_packages_and_the_command() {
        assert_eq!(
            install_advice(&["linux-image-amd64", "busybox-static"]),
            "linux-image-amd64 and busybox-static not installed; install with \
             `sudo apt-get install -y linux-image-amd64 busybox-static` \
             (cella installs them itself only when run as root with apt-get)"
        );
        assert!(install_advice(&["busybox-static"]).starts_with("busybox-static not installed"));
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(
            compare_versions("6.1.0-10-amd64", "6.1.0-9-amd64"),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("6.1.0-9-amd64", "6.10.0-1-amd64"),
            Ordering::Less
        );
        assert_eq!(
            compare_versions("6.1.0-9-amd64", "6.1.0-9-amd64"),
            Ordering::Equal
        );
        assert_eq!(compare_versions("6.1", "6.1.0"), Ordering::Less);
        assert_eq!(compare_versions("", "1"), Ordering::Less);
    }

    #[test]
    fn the_newest_kernel_is_chosen_and_other_files_are_ignored() {
        let directory = std::env::temp_dir().join(format!(
            "cella-yardstick-boot-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(directory.join("vmlinuz-9.9.9-directory")).unwrap();
        for name in [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-30-amd64",
            "vmlinuz-6.1.0-28-amd64",
            "initrd.img-6.1.0-99-amd64",
            "config-6.1.0-99-amd64",
        ] {
            std::fs::write(directory.join(name), b"").unwrap();
        }
        assert_eq!(
            newest_kernel(&directory),
            Ok(directory.join("vmlinuz-6.1.0-30-amd64"))
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn the_virtio_modules_load_after_what_they_need() {
        let directory = std::env::temp_dir().join(format!(
            "cella-yardstick-modules-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        let kernel = Path::new("/boot/vmlinuz-6.1.0-9-amd64");
        let base = directory.join("6.1.0-9-amd64");
        let virtio = "kernel/drivers/virtio";
        std::fs::create_dir_all(base.join(virtio)).unwrap();
        std::fs::create_dir_all(base.join("kernel/drivers/block")).unwrap();
        // Debian 12's modules.dep for these, other modules around them.
        let dependencies = format!(
            "kernel/fs/other.ko:\n\
             {virtio}/virtio_pci.ko: {virtio}/virtio_pci_legacy_dev.ko \
             {virtio}/virtio_pci_modern_dev.ko {virtio}/virtio.ko {virtio}/virtio_ring.ko\n\
             {virtio}/virtio.ko: {virtio}/virtio_ring.ko\n\
             {virtio}/virtio_ring.ko:\n\
             {virtio}/virtio_pci_modern_dev.ko:\n\
             {virtio}/virtio_pci_legacy_dev.ko:\n"
        );
        std::fs::write(base.join("modules.dep"), &dependencies).unwrap();
        std::fs::write(base.join("modules.builtin"), "kernel/fs/ext4/ext4.ko\n").unwrap();
        for name in [
            "virtio_pci",
            "virtio",
            "virtio_ring",
            "virtio_pci_modern_dev",
            "virtio_pci_legacy_dev",
        ] {
            std::fs::write(base.join(format!("{virtio}/{name}.ko")), b"").unwrap();
        }
        // virtio_blk is in neither list.
        let error = kernel_modules(&directory, kernel, &VIRTIO_MODULES).unwrap_err();
        assert!(error.contains("virtio_blk.ko is in neither"), "{error}");
        // Listed but its file is missing.
        std::fs::write(
            base.join("modules.dep"),
            format!("{dependencies}kernel/drivers/block/virtio_blk.ko: {virtio}/virtio.ko\n"),
        )
        .unwrap();
        let error = kernel_modules(&directory, kernel, &VIRTIO_MODULES).unwrap_err();
        assert!(error.ends_with("virtio_blk.ko is missing"), "{error}");
        std::fs::write(base.join("kernel/drivers/block/virtio_blk.ko"), b"").unwrap();
        let found = kernel_modules(&directory, kernel, &VIRTIO_MODULES).unwrap();
        let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "virtio_pci_legacy_dev",
                "virtio_pci_modern_dev",
                "virtio_ring",
                "virtio",
                "virtio_pci",
                "virtio_blk"
            ]
        );
        assert_eq!(found[5].1, base.join("kernel/drivers/block/virtio_blk.ko"));
        // Built into the kernel: nothing to load.
        std::fs::write(
            base.join("modules.builtin"),
            "kernel/drivers/block/virtio_blk.ko\nkernel/drivers/virtio/virtio_pci.ko\n",
        )
        .unwrap();
        std::fs::write(base.join("modules.dep"), "").unwrap();
        assert_eq!(
            kernel_modules(&directory, kernel, &VIRTIO_MODULES),
            Ok(Vec::new())
        );
        assert!(kernel_modules(&directory, Path::new("/boot/bzImage"), &VIRTIO_MODULES).is_err());
        std::fs::remove_dir_all(&directory).unwrap();
        let error = kernel_modules(&directory, kernel, &VIRTIO_MODULES).unwrap_err();
        assert!(error.contains("modules.dep"), "{error}");
    }

    #[test]
    fn the_vfat_modules_load_fat_first_and_the_character_sets_they_name() {
        let directory = std::env::temp_dir().join(format!(
            "cella-yardstick-vfat-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        let kernel = Path::new("/boot/vmlinuz-6.1.0-9-amd64");
        let base = directory.join("6.1.0-9-amd64");
        std::fs::create_dir_all(base.join("kernel/fs/fat")).unwrap();
        std::fs::create_dir_all(base.join("kernel/fs/nls")).unwrap();
        // Debian 12's modules.dep lines for them.
        std::fs::write(
            base.join("modules.dep"),
            "kernel/fs/nls/nls_cp437.ko:\n\
             kernel/fs/nls/nls_utf8.ko:\n\
             kernel/fs/fat/fat.ko:\n\
             kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n\
             kernel/fs/fat/msdos.ko: kernel/fs/fat/fat.ko\n",
        )
        .unwrap();
        for module in [
            "fat/fat",
            "fat/vfat",
            "fat/msdos",
            "nls/nls_cp437",
            "nls/nls_utf8",
        ] {
            std::fs::write(base.join(format!("kernel/fs/{module}.ko")), b"").unwrap();
        }
        let found = kernel_modules(&directory, kernel, &super::super::vfat::MODULES).unwrap();
        let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["fat", "vfat", "nls_cp437", "nls_utf8"]);
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn no_kernel_is_a_clear_error() {
        let directory = std::env::temp_dir().join(format!(
            "cella-yardstick-empty-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let error = newest_kernel(&directory).unwrap_err();
        assert!(error.contains("no Linux kernel"), "{error}");
        assert!(error.contains("linux-image-amd64"), "{error}");
        std::fs::remove_dir_all(&directory).unwrap();
        let error = newest_kernel(&directory).unwrap_err();
        assert!(error.starts_with("cannot list"), "{error}");
    }
}
