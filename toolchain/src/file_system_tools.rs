//! The host programs the FAT32 disk image needs ([`crate::fs_image`], `cargo cella disk`):
//! `mkfs.fat` and `fsck.vfat` from Debian's `dosfstools`, `mcopy`, `mmd`, `mdir` and `mtype`
//! from `mtools`. The set-up step installs the packages with apt-get when a program is
//! missing and the tool runs as root, as it installs QEMU; otherwise it says what to install.

use crate::progress;
use crate::setup::{apt_install, is_root};
use crate::shell::{Shell, find_program, is_executable};
use crate::{Error, Result};
use std::path::PathBuf;

/// Each program the image needs and the Debian package that provides it.
pub const PROGRAMS: [(&str, &str); 6] = [
    ("mkfs.fat", "dosfstools"),
    ("fsck.vfat", "dosfstools"),
    ("mcopy", "mtools"),
    ("mmd", "mtools"),
    ("mdir", "mtools"),
    ("mtype", "mtools"),
];

/// Where Debian puts system programs that a normal user's `PATH` may lack (`mkfs.fat` and
/// `fsck.vfat` live in `/usr/sbin`).
const SYSTEM_DIRECTORIES: [&str; 2] = ["/usr/sbin", "/sbin"];

/// Finds `program` in `PATH`, then in `/usr/sbin` and `/sbin`.
pub fn find(program: &str) -> Option<PathBuf> {
    find_program(program).or_else(|| {
        SYSTEM_DIRECTORIES
            .iter()
            .map(|directory| PathBuf::from(directory).join(program))
            .find(|candidate| is_executable(candidate))
    })
}

/// Finds `program` (one of [`PROGRAMS`]) or says which package to install.
///
/// # Errors
/// The program is not installed.
pub fn require(program: &str) -> Result<PathBuf> {
    find(program).ok_or_else(|| Error::new(advice(&packages_of(&[program]), is_root())))
}

/// The packages of [`PROGRAMS`] whose programs are missing, each named once.
pub fn missing_packages() -> Vec<&'static str> {
    let missing: Vec<&str> = PROGRAMS
        .iter()
        .filter(|(program, _)| find(program).is_none())
        .map(|(program, _)| *program)
        .collect();
    packages_of(&missing)
}

/// The packages that provide `programs`, in [`PROGRAMS`]' order, each once.
fn packages_of(programs: &[&str]) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for (program, package) in PROGRAMS {
        if programs.contains(&program) && !packages.contains(&package) {
            packages.push(package);
        }
    }
    packages
}

/// What to tell a user who lacks `packages` and for whom the tool cannot install them.
pub fn advice(packages: &[&str], root: bool) -> String {
    let names = packages.join(" ");
    if root {
        format!(
            "the FAT32 disk image needs {names} (mkfs.fat, fsck.vfat and mtools' mcopy) and \
             there is no apt-get to install them with; install them with your package \
             manager, then run the command again"
        )
    } else {
        format!(
            "the FAT32 disk image needs {names} (mkfs.fat, fsck.vfat and mtools' mcopy), which \
             are not installed (cella installs them itself only when run as root). Install \
             them with:\n\n    sudo apt-get update && sudo apt-get install -y {names}\n\n\
             then run the command again"
        )
    }
}

/// Makes sure every program of [`PROGRAMS`] is there, installing the missing packages with
/// apt-get when the tool runs as root.
///
/// # Errors
/// A program is missing and the tool cannot install it, or apt-get failed.
pub fn ensure(shell: &Shell) -> Result<()> {
    let missing = missing_packages();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || find_program("apt-get").is_none() {
        return Err(Error::new(advice(&missing, is_root())));
    }
    progress::message(&format!(
        "the FAT32 disk image's tools are missing; installing {} with apt-get",
        missing.join(" ")
    ));
    apt_install(shell, &missing)?;
    let still_missing = missing_packages();
    if still_missing.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "installed {} but its programs are still not found",
            still_missing.join(" ")
        )))
    }
}

/// One line of `cella doctor` for these programs: where they are, or what to install.
pub fn diagnosis() -> std::result::Result<String, String> {
    let missing = missing_packages();
    if missing.is_empty() {
        let found: Vec<String> = PROGRAMS
            .iter()
            .filter_map(|(program, _)| find(program))
            .map(|path| path.display().to_string())
            .collect();
        Ok(found.join(", "))
    } else if is_root() && find_program("apt-get").is_some() {
        Err(format!(
            "missing: `cella setup` installs {} with apt-get",
            missing.join(" ")
        ))
    } else {
        Err(advice(&missing, is_root()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_program_names_its_package_once() {
        assert_eq!(packages_of(&["mkfs.fat", "fsck.vfat"]), ["dosfstools"]);
        assert_eq!(
            packages_of(&["mtype", "mkfs.fat"]),
            ["dosfstools", "mtools"]
        );
        assert!(packages_of(&[]).is_empty());
    }

    #[test]
    fn the_advice_gives_the_apt_get_line_or_says_to_use_the_package_manager() {
        let user = advice(&["dosfstools", "mtools"], false);
        assert!(
            user.contains("sudo apt-get install -y dosfstools mtools"),
            "{user}"
        );
        let root = advice(&["mtools"], true);
        assert!(
            root.contains("package manager") && root.contains("mtools"),
            "{root}"
        );
        assert!(!root.contains("sudo"), "{root}");
    }

    #[test]
    fn programs_outside_path_are_found_in_the_system_directories() {
        // `sh` is in /bin or /usr/bin on every machine this runs on; the system directories
        // are searched only after PATH, so a name found nowhere stays missing.
        assert!(find("sh").is_some());
        assert!(find("cella-no-such-program").is_none());
    }
}
