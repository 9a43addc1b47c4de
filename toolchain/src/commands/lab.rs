//! `cella lab [N] [--grade] [--tcb]`: lists the labs of `docs/labs/` ([`crate::labs`]); with
//! N, prints lab N's steps, then builds and boots its own system (`modules/system.toml` plus
//! its `lab.toml`); with `--grade`, runs its grader, the QEMU tests named `labNN_grade`
//! (ignored by `cargo cella test`, whose starting points fail them), on the student's files.
//! A page without a `lab.toml` (the concepts chapter) is only read. `--tcb` counts the
//! trusted computing base ([`crate::tcb`]).

use super::build::Image;
use crate::cli::{LabOptions, RunOptions, TestOptions};
use crate::labs;
use crate::progress;
use crate::shell::Shell;
use crate::tcb;
use crate::workspace::Workspace;
use crate::{Error, Result};

/// `cella lab`.
pub fn lab(shell: &Shell, workspace: &Workspace, options: &LabOptions) -> Result<()> {
    if options.tcb {
        let parts = tcb::count(&workspace.root, &tcb::cargo_home())?;
        print!("{}", tcb::table(&parts));
        return Ok(());
    }
    let Some(number) = options.number else {
        print!("{}", labs::listing(&labs::list(&workspace.root)?));
        return Ok(());
    };
    let lab = labs::find(&workspace.root, number)?;
    if !workspace.root.join(lab.manifest()).is_file() {
        if options.grade {
            return Err(Error::usage(format!(
                "{} ({}) is a chapter to read: it has no system and no grader",
                lab.title,
                lab.page_path()
            )));
        }
        println!(
            "{} ({}): a chapter to read, with no system of its own to boot",
            lab.title,
            lab.page_path()
        );
        return Ok(());
    }
    if options.grade {
        progress::message(&format!(
            "grading {} ({}): the QEMU tests named {}",
            lab.title,
            lab.page_path(),
            lab.grade_filter()
        ));
        let test = TestOptions {
            host: false,
            qemu: true,
            accel: options.accel,
            test_args: vec![
                lab.grade_filter(),
                "--ignored".to_owned(),
                "--nocapture".to_owned(),
            ],
        };
        return super::test::test(shell, workspace, &test);
    }
    println!("{} ({})", lab.title, lab.page_path());
    if let Some(steps) = lab.steps() {
        println!("\n{steps}\n");
    }
    // The image names its manifest for the rest of this process, which ends in QEMU.
    let manifest: &'static str = Box::leak(lab.manifest().into_boxed_str());
    let run = RunOptions {
        accel: options.accel,
        ..RunOptions::default()
    };
    super::run::boot(shell, workspace, Image::Lab { manifest }, &run)
}
