//! The file-system disk `cargo cella run` boots with: `<target>/cella/fs.img`, a 128 MiB
//! sparse raw image formatted as one whole-disk FAT32 volume (no partition table) by
//! `mkfs.fat -F 32 -s 2 -R 96 -n CELLA` (1 KiB clusters; 96 reserved sectors, of which the
//! file server keeps its journal in sectors 32 to 95), holding `/README.TXT` and
//! `/modules/NAME.wasm` for every module of the production manifest, copied in with mtools'
//! `mcopy` (long names kept).
//!
//! Beside the image, `fs.img.contents` records what the tool put in it (each file's path,
//! size and FNV-1a hash). The image is kept, with whatever a boot or a person wrote to it,
//! while that record matches the files it should hold; it is made again when it is missing,
//! has another size or the modules changed, and the image it replaces is kept as
//! `fs.img.previous`, so nothing written on it is lost.

pub mod access;
pub mod corruption;

use crate::archive::ArchiveEntry;
use crate::file_system_tools;
use crate::shell::Shell;
use crate::{Error, Result};
use cella_system::fnv::fnv1a_64;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The image's file name in the build directory.
pub const FILE_NAME: &str = "fs.img";
/// The image's size: 128 MiB.
pub const SIZE: u64 = 128 * 1024 * 1024;
/// `mkfs.fat`'s arguments before the image's path: FAT32, 2 sectors (1 KiB) per cluster,
/// 96 reserved sectors, the volume label `CELLA`.
pub const MKFS_ARGUMENTS: [&str; 8] = ["-F", "32", "-s", "2", "-R", "96", "-n", "CELLA"];
/// The reserved sectors the file server keeps its journal in (inside the 96 reserved ones,
/// after the boot sector, the FS information sector and the backup boot sector at 6).
pub const JOURNAL_SECTORS: std::ops::Range<u64> = 32..96;
/// The text file at the volume's root.
pub const README_PATH: &str = "README.TXT";
/// The directory of the modules.
pub const MODULES_DIRECTORY: &str = "modules";
/// What `/README.TXT` says.
pub const README_TEXT: &str = "\
This is Cella's file-system disk: a FAT32 volume on the whole virtio-blk disk (no partition
table), made by `cargo cella` (target/cella/fs.img) with
`mkfs.fat -F 32 -s 2 -R 96 -n CELLA`. Sectors 32 to 95 of the reserved area hold the file
server's journal. /modules/ holds the Wasm modules of the production system
(modules/system.toml) as the tool built them. The tool makes the image again when those
modules change, keeping the image it replaces as fs.img.previous.
";

/// One file the tool puts into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// Its path in the volume, `/`-separated, without the leading `/`.
    pub path: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

impl ImageFile {
    /// A file at `path` holding `bytes`.
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> ImageFile {
        ImageFile {
            path: path.into(),
            bytes: bytes.into(),
        }
    }
}

/// The image of the build directory `cella_directory` (`<target>/cella`).
pub fn path(cella_directory: &Path) -> PathBuf {
    cella_directory.join(FILE_NAME)
}

/// Where the record of what the tool put into `image` goes: `IMAGE.contents`.
pub fn record_path(image: &Path) -> PathBuf {
    with_suffix(image, "contents")
}

/// Where the image a remake replaced is kept: `IMAGE.previous`.
pub fn previous_path(image: &Path) -> PathBuf {
    with_suffix(image, "previous")
}

fn with_suffix(image: &Path, suffix: &str) -> PathBuf {
    let mut name = image.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    image.with_file_name(name)
}

/// The files of the image: `README.TXT`, then `modules/NAME.wasm` for every module of the
/// production manifest (`modules/system.toml`), with the bytes of the boot archive's entry
/// of that name in `entries` (any image's archive: each holds the production modules).
///
/// # Errors
/// The manifest cannot be read, or a module of it has no entry in `entries`.
pub fn module_files(workspace_root: &Path, entries: &[ArchiveEntry]) -> Result<Vec<ImageFile>> {
    let plan = crate::modules::read_plan(workspace_root, &[crate::system_manifest::SOURCE])?;
    let mut files = vec![ImageFile::new(README_PATH, README_TEXT)];
    for module in &plan.modules {
        let name = module.archive_file();
        let entry = entries
            .iter()
            .find(|entry| entry.name == name)
            .ok_or_else(|| {
                Error::new(format!(
                    "the boot archive has no {name} for the file-system disk image"
                ))
            })?;
        files.push(ImageFile::new(name, entry.bytes.clone()));
    }
    Ok(files)
}

/// The record of an image holding `files`: the format, then one line per file (`PATH SIZE
/// HASH`, the hash FNV-1a 64 in hex).
pub fn contents_record(files: &[ImageFile]) -> String {
    let mut record = format!(
        "cella fs image: {} bytes, mkfs.fat {}\n",
        SIZE,
        MKFS_ARGUMENTS.join(" ")
    );
    for file in files {
        record.push_str(&format!(
            "{} {} {:016x}\n",
            file.path,
            file.bytes.len(),
            fnv1a_64(&file.bytes)
        ));
    }
    record
}

/// The directories `files` need, parents first.
fn directories(files: &[ImageFile]) -> Vec<String> {
    let mut directories: Vec<String> = Vec::new();
    for file in files {
        let parts: Vec<&str> = file.path.split('/').collect();
        for depth in 1..parts.len() {
            let directory = parts[..depth].join("/");
            if !directories.contains(&directory) {
                directories.push(directory);
            }
        }
    }
    directories
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::new(format!("{what} {}: {error}", path.display()))
}

/// An mtools command on `image` (`-i IMAGE`), told not to check the disk's geometry, which a
/// whole-disk volume without partitions does not have.
pub fn mtools_command(program: &Path, image: &Path) -> Command {
    let mut command = Command::new(program);
    command.env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(image);
    command
}

/// Refuses a path that is empty, absolute, or has an empty, `.` or `..` part.
fn check_paths(files: &[ImageFile]) -> Result<()> {
    for file in files {
        let plain = !file.path.is_empty()
            && file
                .path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !plain {
            return Err(Error::new(format!(
                "`{}` is not a plain relative path for the file-system disk",
                file.path
            )));
        }
    }
    Ok(())
}

/// Makes the image at `image` (replacing any file there) holding `files`: a sparse file of
/// [`SIZE`] bytes, formatted by `mkfs.fat` with [`MKFS_ARGUMENTS`], the directories made with
/// `mmd` and each file copied in with `mcopy`.
///
/// # Errors
/// A file cannot be written, a path is not a plain relative one, or a tool failed.
pub fn create(shell: &Shell, image: &Path, files: &[ImageFile]) -> Result<()> {
    check_paths(files)?;
    let mkfs = file_system_tools::require("mkfs.fat")?;
    let mmd = file_system_tools::require("mmd")?;
    let mcopy = file_system_tools::require("mcopy")?;
    let directory = image
        .parent()
        .ok_or_else(|| Error::new(format!("{} has no parent directory", image.display())))?;
    std::fs::create_dir_all(directory).map_err(|error| io_error("creating", directory, error))?;
    let staging = with_suffix(image, &format!("files.{}", std::process::id()));
    let result = (|| {
        let _ = std::fs::remove_file(image);
        let file =
            std::fs::File::create(image).map_err(|error| io_error("creating", image, error))?;
        file.set_len(SIZE)
            .map_err(|error| io_error("writing", image, error))?;
        drop(file);
        let mut command = Command::new(&mkfs);
        command.args(MKFS_ARGUMENTS).arg(image);
        shell.capture_stdout(&mut command)?;
        for directory in directories(files) {
            let mut command = mtools_command(&mmd, image);
            command.arg(format!("::/{directory}"));
            shell.capture_stdout(&mut command)?;
        }
        for file in files {
            let source = staging.join(&file.path);
            if let Some(parent) = source.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|error| io_error("creating", parent, error))?;
            }
            std::fs::write(&source, &file.bytes)
                .map_err(|error| io_error("writing", &source, error))?;
            let mut command = mtools_command(&mcopy, image);
            // `-D o`: overwrite a file of the same name instead of asking.
            command
                .args(["-D", "o"])
                .arg(&source)
                .arg(format!("::/{}", file.path));
            shell.capture_stdout(&mut command)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// The image holds the files already; it is untouched.
    Kept,
    /// There was no image; one was made.
    Created,
    /// The image was made again, for `reason`; the one it replaced is kept at
    /// [`previous_path`].
    Remade {
        /// Why, in a few words.
        reason: String,
    },
}

/// Why the image at `image` with the record `record` (if any) does not hold `expected`.
fn stale(image: &Path, record: Option<&str>, expected: &str) -> Result<Option<String>> {
    let metadata = std::fs::metadata(image).map_err(|error| io_error("reading", image, error))?;
    if !metadata.is_file() {
        return Err(Error::new(format!(
            "the file-system disk image {} is not a file; move it away",
            image.display()
        )));
    }
    if metadata.len() != SIZE {
        return Ok(Some(format!("it had {} bytes, not {SIZE}", metadata.len())));
    }
    let Some(record) = record else {
        return Ok(Some(String::from("there is no record of what it holds")));
    };
    if record == expected {
        return Ok(None);
    }
    let files = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .skip(1)
            .filter_map(|line| {
                let (path, rest) = line.split_once(' ')?;
                Some((path.to_owned(), rest.to_owned()))
            })
            .collect()
    };
    let (old, new) = (files(record), files(expected));
    let mut changes: Vec<String> = Vec::new();
    for (path, summary) in &new {
        match old.iter().find(|(old_path, _)| old_path == path) {
            None => changes.push(format!("{path} added")),
            Some((_, old_summary)) if old_summary != summary => {
                changes.push(format!("{path} changed"));
            }
            Some(_) => {}
        }
    }
    for (path, _) in &old {
        if !new.iter().any(|(new_path, _)| new_path == path) {
            changes.push(format!("{path} removed"));
        }
    }
    if changes.is_empty() {
        changes.push(String::from("its format changed"));
    }
    Ok(Some(changes.join(", ")))
}

/// Makes the image at `image` hold `files` unless it does already (by its record): kept
/// as it is, with whatever was written to it, while the record matches; otherwise made
/// again, the old image renamed to [`previous_path`] (replacing an older one).
///
/// # Errors
/// As [`create`], or `image` is not a file, or the record cannot be written.
pub fn ensure(shell: &Shell, image: &Path, files: &[ImageFile]) -> Result<Ensured> {
    check_paths(files)?;
    let expected = contents_record(files);
    let record_file = record_path(image);
    let outcome = if image.exists() {
        let record = std::fs::read_to_string(&record_file).ok();
        match stale(image, record.as_deref(), &expected)? {
            None => return Ok(Ensured::Kept),
            Some(reason) => {
                let previous = previous_path(image);
                std::fs::rename(image, &previous)
                    .map_err(|error| io_error("keeping the old image as", &previous, error))?;
                Ensured::Remade { reason }
            }
        }
    } else {
        Ensured::Created
    };
    let _ = std::fs::remove_file(&record_file);
    let temporary = with_suffix(image, &format!("new.{}", std::process::id()));
    let made = create(shell, &temporary, files).and_then(|()| {
        std::fs::rename(&temporary, image).map_err(|error| io_error("writing", image, error))
    });
    if let Err(error) = made {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::write(&record_file, expected)
        .map_err(|error| io_error("writing", &record_file, error))?;
    Ok(outcome)
}

/// Ensures the build directory's image holds `files`, telling the user when it was made;
/// returns its path.
///
/// # Errors
/// As [`ensure`].
pub fn ensured(shell: &Shell, cella_directory: &Path, files: &[ImageFile]) -> Result<PathBuf> {
    let image = path(cella_directory);
    let modules = files
        .iter()
        .filter(|file| file.path.starts_with(MODULES_DIRECTORY))
        .count();
    match ensure(shell, &image, files)? {
        Ensured::Kept => {}
        Ensured::Created => crate::progress::message(&format!(
            "made the file-system disk image {} (FAT32, {} MiB, sparse; README.TXT and {modules} modules)",
            image.display(),
            SIZE >> 20
        )),
        Ensured::Remade { reason } => crate::progress::message(&format!(
            "made the file-system disk image {} again ({reason}); the image it replaced is {}",
            image.display(),
            previous_path(&image).display()
        )),
    }
    Ok(image)
}

#[cfg(test)]
mod tests;
