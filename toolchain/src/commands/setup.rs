//! `cella setup` (install what is missing) and `cella doctor` (report only).

use crate::progress;
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};

/// Installs the Rust targets, QEMU, dosfstools and mtools if missing, then reports what is in
/// place.
pub fn setup(shell: &Shell, workspace: &Workspace) -> Result<()> {
    let qemu = setup::ensure(shell, &workspace.root, Needs::QEMU_AND_DISK)?;
    crate::browser_tools::ensure(shell);
    progress::message(&format!(
        "setup complete: Rust targets {} installed; QEMU is {}; dosfstools and mtools installed",
        crate::cargo::RUSTUP_TARGETS.join(", "),
        qemu.map(|path| path.display().to_string())
            .unwrap_or_default()
    ));
    Ok(())
}

/// Prints one line per dependency; fails if anything is missing.
pub fn doctor(shell: &Shell, workspace: &Workspace) -> Result<()> {
    let checks = setup::diagnose(shell, &workspace.root);
    let mut missing = 0;
    for check in &checks {
        match &check.outcome {
            Ok(detail) => println!("ok       {}: {detail}", check.subject),
            Err(advice) => {
                missing += 1;
                println!("MISSING  {}: {advice}", check.subject);
            }
        }
    }
    println!("workspace: {}", workspace.root.display());
    println!("target directory: {}", workspace.target_directory.display());
    if missing == 0 {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{missing} thing(s) missing; `cargo cella setup` installs what it can"
        )))
    }
}
