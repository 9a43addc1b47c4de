//! `cella lab [N] [--grade] [--tcb]`: the labs of docs/labs/, one lab's system booted with
//! its steps printed, or its grader run; or the trusted computing base counted.

use super::Options;
use crate::qemu::Accel;
use crate::{Error, Result};

/// Options of `cella lab`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabOptions {
    /// The lab's number; `None` lists the labs.
    pub number: Option<u32>,
    /// Run the lab's grader instead of booting its system.
    pub grade: bool,
    /// Count the trusted computing base (`docs/labs/00-concepts.md`) instead.
    pub tcb: bool,
    /// Accelerator.
    pub accel: Accel,
}

/// Reads `lab [N] [--grade] [--accel tcg|kvm]` or `lab --tcb`.
pub(super) fn lab_options(options: &mut Options) -> Result<LabOptions> {
    let mut lab = LabOptions::default();
    while let Some(option) = options.next_option() {
        match option.as_str() {
            "--grade" => lab.grade = true,
            "--tcb" => lab.tcb = true,
            "--accel" => lab.accel = options.value(&option)?.parse()?,
            _ if !option.starts_with('-') && lab.number.is_none() => {
                lab.number = Some(option.parse().map_err(|_| {
                    Error::usage(format!(
                        "`{option}` is not a lab number; `cargo cella lab` lists the labs"
                    ))
                })?);
            }
            _ => return Err(options.unknown(&option)),
        }
    }
    if lab.grade && lab.number.is_none() {
        return Err(Error::usage(
            "usage: cargo cella lab N --grade (which lab? `cargo cella lab` lists them)",
        ));
    }
    if lab.tcb && (lab.grade || lab.number.is_some()) {
        return Err(Error::usage(
            "usage: cargo cella lab --tcb (it counts the trusted computing base of no lab in particular)",
        ));
    }
    Ok(lab)
}

#[cfg(test)]
mod tests {
    use crate::cli::{LabOptions, Subcommand, parse};

    fn lab(words: &str) -> crate::Result<Subcommand> {
        parse(words.split_whitespace().map(str::to_owned)).map(|invocation| invocation.subcommand)
    }

    #[test]
    fn reads_a_list_a_lab_and_a_grade() {
        assert_eq!(lab("lab").unwrap(), Subcommand::Lab(LabOptions::default()));
        assert_eq!(
            lab("lab 2").unwrap(),
            Subcommand::Lab(LabOptions {
                number: Some(2),
                ..LabOptions::default()
            })
        );
        assert_eq!(
            lab("lab 3 --grade").unwrap(),
            Subcommand::Lab(LabOptions {
                number: Some(3),
                grade: true,
                ..LabOptions::default()
            })
        );
        assert_eq!(
            lab("lab --tcb").unwrap(),
            Subcommand::Lab(LabOptions {
                tcb: true,
                ..LabOptions::default()
            })
        );
        for words in [
            "lab x",
            "lab --grade",
            "lab 1 2",
            "lab 1 --frobnicate",
            "lab 1 --tcb",
            "lab --tcb --grade",
        ] {
            assert_eq!(lab(words).unwrap_err().exit_code(), 2, "{words}");
        }
        assert!(
            lab("lab one")
                .unwrap_err()
                .message()
                .contains("not a lab number"),
            "a clear word"
        );
    }
}
