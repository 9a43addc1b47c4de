//! `cella disk`: the FAT32 file-system image (`target/cella/fs.img`, [`crate::fs_image`])
//! from the host: `check` (`fsck.vfat -n`, its verdict), `corrupt-fat` (a copy with a corrupt
//! FAT, [`crate::fs_image::corruption`]), `ls` and `cat` (mtools).

use crate::cli::DiskOptions;
use crate::fs_image::{self, access, corruption};
use crate::progress::{self, Stream};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The copy `corrupt-fat` writes unless told otherwise, in `<target>/cella/disks/`.
pub const CORRUPT_COPY_NAME: &str = "corrupt-fat";

/// `cella disk`.
pub fn disk(shell: &Shell, workspace: &Workspace, options: &DiskOptions) -> Result<()> {
    setup::ensure(
        shell,
        &workspace.root,
        Needs {
            qemu: false,
            file_system_tools: true,
        },
    )?;
    let cella = workspace.cella_directory();
    match options {
        DiskOptions::Check { image } => {
            let image = image_path(&cella, image.as_deref())?;
            let verdict = access::check(shell, &image)?;
            print!("{}", check_text(&image, &verdict));
            if verdict.clean {
                Ok(())
            } else {
                Err(Error::new(format!(
                    "{} is not clean: fsck.vfat -n found errors",
                    image.display()
                )))
            }
        }
        DiskOptions::CorruptFat { image, to } => {
            let image = image_path(&cella, image.as_deref())?;
            let copy = to.as_ref().map_or_else(
                || crate::disk_image::copy_path(&cella, CORRUPT_COPY_NAME),
                PathBuf::from,
            );
            let written = corrupt_copy(&image, &copy)?;
            println!(
                "wrote a corrupt FAT into {} (a copy of {}):",
                copy.display(),
                image.display()
            );
            for line in written.describe() {
                println!("  {line}");
            }
            println!(
                "`cargo cella disk check {}` shows what fsck.vfat makes of it",
                copy.display()
            );
            Ok(())
        }
        DiskOptions::List { words } => {
            let (image, path) = match words.as_slice() {
                [] => (None, "/"),
                [word] if Path::new(word).is_file() => (Some(word.as_str()), "/"),
                [word] => (None, word.as_str()),
                [image, path, ..] => (Some(image.as_str()), path.as_str()),
            };
            let image = image_path(&cella, image)?;
            print!("{}", access::list(shell, &image, path)?);
            Ok(())
        }
        DiskOptions::Read { image, path } => {
            let image = image_path(&cella, image.as_deref())?;
            let bytes = access::read(shell, &image, path)?;
            progress::write_output(Stream::Stdout, &bytes);
            Ok(())
        }
    }
}

/// `image`, or the build directory's `fs.img`, which must exist.
fn image_path(cella_directory: &Path, image: Option<&str>) -> Result<PathBuf> {
    let path = image.map_or_else(|| fs_image::path(cella_directory), PathBuf::from);
    if path.is_file() {
        Ok(path)
    } else if image.is_none() {
        Err(Error::new(format!(
            "there is no file-system image {} yet: `cargo cella run` or `cargo cella test` \
             makes it",
            path.display()
        )))
    } else {
        Err(Error::new(format!("{} is not a file", path.display())))
    }
}

/// Copies `image` to `copy` and writes the corrupt FAT into the copy; `image` is never
/// written.
///
/// # Errors
/// `copy` is `image` itself, a file cannot be copied, or the image is no FAT32 volume (then
/// the copy is removed).
pub fn corrupt_copy(image: &Path, copy: &Path) -> Result<corruption::Corruption> {
    let same = match (image.canonicalize(), copy.canonicalize()) {
        (Ok(image), Ok(copy)) => image == copy,
        _ => false,
    };
    if same {
        return Err(Error::new(format!(
            "the copy would be {} itself; name another file with --to",
            image.display()
        )));
    }
    crate::disk_image::copy(image, copy)?;
    corruption::corrupt_fat(copy).inspect_err(|_| {
        let _ = std::fs::remove_file(copy);
    })
}

/// What `disk check` prints: the verdict in words, then fsck.vfat's report indented.
pub fn check_text(image: &Path, verdict: &access::Verdict) -> String {
    let mut text = if verdict.clean {
        format!(
            "{}: clean: fsck.vfat -n found nothing to correct\n",
            image.display()
        )
    } else {
        format!(
            "{}: NOT clean: fsck.vfat -n found errors (it changed nothing):\n",
            image.display()
        )
    };
    for line in verdict
        .report
        .lines()
        .filter(|line| !line.trim().is_empty())
    {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs_image::{ImageFile, README_PATH, README_TEXT};

    #[test]
    fn a_corrupt_copy_fails_the_check_and_the_image_stays_clean() {
        let directory =
            std::env::temp_dir().join(format!("cella-disk-command-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let image = directory.join("fs.img");
        let shell = Shell::new(false);
        fs_image::ensure(&shell, &image, &[ImageFile::new(README_PATH, README_TEXT)]).unwrap();
        let error = corrupt_copy(&image, &image).unwrap_err().to_string();
        assert!(error.contains("itself"), "{error}");
        let clean = access::check(&shell, &image).unwrap();
        let text = check_text(&image, &clean);
        assert!(
            text.contains("fs.img: clean: fsck.vfat -n found nothing"),
            "{text}"
        );
        let copy = directory.join("copies").join("bad.img");
        corrupt_copy(&image, &copy).unwrap();
        let verdict = access::check(&shell, &copy).unwrap();
        let text = check_text(&copy, &verdict);
        assert!(text.contains("bad.img: NOT clean"), "{text}");
        assert!(
            text.contains("\n  "),
            "the report follows, indented: {text}"
        );
        assert!(access::check(&shell, &image).unwrap().clean);
        // Not a FAT volume: refused, and no copy left behind.
        let raw = directory.join("raw.img");
        crate::disk_image::create(&raw, crate::disk_image::MINIMUM_SIZE).unwrap();
        let refused = directory.join("refused.img");
        assert!(corrupt_copy(&raw, &refused).is_err());
        assert!(!refused.exists());
        let raw_verdict = access::check(&shell, &raw).unwrap();
        assert!(!raw_verdict.clean, "a raw disk is no FAT volume");
        assert!(check_text(&raw, &raw_verdict).contains("raw.img: NOT clean"));
        std::fs::remove_dir_all(&directory).unwrap();
    }

    #[test]
    fn a_missing_image_says_how_to_make_it() {
        let directory = Path::new("/nonexistent-cella-build");
        let error = image_path(directory, None).unwrap_err().to_string();
        assert!(
            error.contains("`cargo cella run` or `cargo cella test` makes it"),
            "{error}"
        );
        let error = image_path(directory, Some("/nonexistent.img"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a file"), "{error}");
    }
}
