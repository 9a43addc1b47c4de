//! `cella disk check|corrupt-fat|ls|cat`: the FAT32 file-system image from the host.

use super::Options;
use crate::{Error, Result};

/// What `cella disk` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskOptions {
    /// `check [IMAGE]`: `fsck.vfat -n`, its verdict.
    Check {
        /// The image (default: the build directory's `fs.img`).
        image: Option<String>,
    },
    /// `corrupt-fat [IMAGE] [--to COPY]`: a copy with a corrupt FAT.
    CorruptFat {
        /// The image to copy (default: the build directory's `fs.img`).
        image: Option<String>,
        /// Where the copy goes (default: `<target>/cella/disks/corrupt-fat.img`).
        to: Option<String>,
    },
    /// `ls [IMAGE] [PATH]`: a directory's listing. One word is the image if it names a file
    /// on the host, else the path.
    List {
        /// The words given, at most two.
        words: Vec<String>,
    },
    /// `cat [IMAGE] PATH`: a file's bytes.
    Read {
        /// The image (default: the build directory's `fs.img`).
        image: Option<String>,
        /// The file's path in the volume.
        path: String,
    },
}

/// The usage line of `cella disk`.
const USAGE_LINE: &str = "usage: cargo cella disk check [IMAGE] | corrupt-fat [IMAGE] [--to COPY] | ls [IMAGE] [PATH] | cat [IMAGE] PATH";

fn usage(why: &str) -> Error {
    Error::usage(format!("{why}\n{USAGE_LINE}"))
}

/// Reads `disk ACTION ...`.
pub(super) fn disk_options(options: &mut Options) -> Result<DiskOptions> {
    let action = options
        .next_option()
        .ok_or_else(|| usage("`cella disk` needs an action"))?;
    let mut words = Vec::new();
    let mut to = None;
    while let Some(option) = options.next_option() {
        match option.as_str() {
            "--to" if action == "corrupt-fat" => to = Some(options.value(&option)?),
            _ if option.starts_with('-') && option.len() > 1 => {
                return Err(options.unknown(&option));
            }
            _ => words.push(option),
        }
    }
    let at_most = |count: usize| {
        if words.len() > count {
            Err(usage(&format!(
                "`cella disk {action}` takes at most {count} word(s) after it"
            )))
        } else {
            Ok(())
        }
    };
    match action.as_str() {
        "check" => {
            at_most(1)?;
            Ok(DiskOptions::Check { image: words.pop() })
        }
        "corrupt-fat" => {
            at_most(1)?;
            Ok(DiskOptions::CorruptFat {
                image: words.pop(),
                to,
            })
        }
        "ls" => {
            at_most(2)?;
            Ok(DiskOptions::List { words })
        }
        "cat" => {
            at_most(2)?;
            let path = words
                .pop()
                .ok_or_else(|| usage("`cella disk cat` needs the file's PATH"))?;
            Ok(DiskOptions::Read {
                image: words.pop(),
                path,
            })
        }
        other => Err(usage(&format!("unknown disk action `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{DiskOptions, Subcommand, parse};

    fn disk(words: &str) -> crate::Result<Subcommand> {
        parse(words.split_whitespace().map(str::to_owned)).map(|invocation| invocation.subcommand)
    }

    #[test]
    fn reads_each_action_and_its_words() {
        assert_eq!(
            disk("disk check").unwrap(),
            Subcommand::Disk(DiskOptions::Check { image: None })
        );
        assert_eq!(
            disk("disk check copy.img").unwrap(),
            Subcommand::Disk(DiskOptions::Check {
                image: Some("copy.img".into())
            })
        );
        assert_eq!(
            disk("disk corrupt-fat --to bad.img").unwrap(),
            Subcommand::Disk(DiskOptions::CorruptFat {
                image: None,
                to: Some("bad.img".into())
            })
        );
        assert_eq!(
            disk("disk ls fs.img /modules").unwrap(),
            Subcommand::Disk(DiskOptions::List {
                words: vec!["fs.img".into(), "/modules".into()]
            })
        );
        assert_eq!(
            disk("disk cat /README.TXT").unwrap(),
            Subcommand::Disk(DiskOptions::Read {
                image: None,
                path: "/README.TXT".into()
            })
        );
        assert_eq!(
            disk("disk cat other.img /README.TXT").unwrap(),
            Subcommand::Disk(DiskOptions::Read {
                image: Some("other.img".into()),
                path: "/README.TXT".into()
            })
        );
    }

    #[test]
    fn help_shows_the_disk_actions() {
        let help = crate::cli::help_text(Some("disk")).unwrap();
        assert!(
            help.starts_with("usage: cargo cella disk check [IMAGE]"),
            "{help}"
        );
        for action in ["corrupt-fat", "fsck.vfat -n", "ls", "cat", "--to COPY"] {
            assert!(help.contains(action), "{action}: {help}");
        }
        assert!(!help.contains("faults"), "only disk's part: {help}");
    }

    #[test]
    fn mistakes_are_usage_errors_that_say_what_is_wrong() {
        for (words, why) in [
            ("disk", "needs an action"),
            ("disk format", "unknown disk action `format`"),
            ("disk check a.img b.img", "at most 1"),
            ("disk ls a b c", "at most 2"),
            ("disk cat", "needs the file's PATH"),
            ("disk check --to x.img", "unknown option `--to`"),
            ("disk corrupt-fat --to", "needs a value"),
        ] {
            let error = disk(words).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{words}");
            assert!(
                error.message().contains(why),
                "{words}: {}",
                error.message()
            );
        }
    }
}
