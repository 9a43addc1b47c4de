//! `cella lab [N] [--grade]`: lists the labs of `docs/labs/` ([`crate::labs`]); with N,
//! prints lab N's steps, then builds and boots its own system (`modules/system.toml` plus
//! its `lab.toml`); with `--grade`, runs its grader, the QEMU tests named `labNN_grade`
//! (ignored by `cargo cella test`, whose starting points fail them), on the student's files.

use super::build::Image;
use crate::Result;
use crate::cli::{LabOptions, RunOptions, TestOptions};
use crate::labs;
use crate::progress;
use crate::shell::Shell;
use crate::workspace::Workspace;

/// `cella lab`.
pub fn lab(shell: &Shell, workspace: &Workspace, options: &LabOptions) -> Result<()> {
    let Some(number) = options.number else {
        print!("{}", labs::listing(&labs::list(&workspace.root)?));
        return Ok(());
    };
    let lab = labs::find(&workspace.root, number)?;
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
