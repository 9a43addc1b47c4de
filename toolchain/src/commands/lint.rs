//! `cella lint`: clippy with `-D warnings` on the SDK and the wasm modules (for wasm32), the
//! host crates (default members), the QEMU tests, and the kernel and the test kernel for their
//! own target (one pass each: together, cargo would unify the kernel library's features).

use crate::cargo::{self, KERNEL_PACKAGE, KERNEL_TARGET, QEMU_TESTS_PACKAGE, TEST_KERNEL_PACKAGE};
use crate::progress::{self, Step};
use crate::setup::{self, Needs};
use crate::shell::Shell;
use crate::workspace::Workspace;
use crate::{Error, Result};

/// Runs every clippy pass, reporting all failures rather than stopping at the first.
pub fn lint(shell: &Shell, workspace: &Workspace) -> Result<()> {
    setup::ensure(shell, &workspace.root, Needs::NOTHING_ELSE)?;
    // The SDK and every guest crate, for the target they run on.
    let guests = crate::modules::guest_packages(&workspace.root);
    let mut wasm = vec![
        "--target",
        crate::modules::WASM_TARGET,
        "--package",
        "cella-sdk",
    ];
    for package in &guests {
        wasm.extend(["--package", package.as_str()]);
    }
    // The module sources' native builds, for the native target (a pass of their own: with
    // them, cargo would give the user programs the SDK's `native` feature and its panic
    // handler).
    let mut native_modules = vec!["--target", crate::userland::NATIVE_TARGET];
    for (package, _) in crate::userland::NATIVE_MODULES {
        // A package with two native binaries is listed once.
        if !native_modules.contains(&package) {
            native_modules.extend(["--package", package]);
        }
    }
    let passes: [(&str, Vec<&str>); 7] = [
        ("wasm modules", wasm),
        ("host crates", vec!["--all-targets"]),
        (
            "QEMU tests",
            vec!["--package", QEMU_TESTS_PACKAGE, "--all-targets"],
        ),
        (
            "kernel",
            vec!["--package", KERNEL_PACKAGE, "--target", KERNEL_TARGET],
        ),
        (
            "test kernel",
            vec!["--package", TEST_KERNEL_PACKAGE, "--target", KERNEL_TARGET],
        ),
        (
            "native programs",
            vec![
                "--package",
                crate::userland::USERLAND_PACKAGE,
                "--target",
                crate::userland::NATIVE_TARGET,
            ],
        ),
        ("native module builds", native_modules),
    ];
    let mut failed = Vec::new();
    for (label, arguments) in passes {
        let step = Step::start(format!("clippy: {label}"));
        let mut command = cargo::cargo_command(&workspace.root, "clippy");
        command.args(&arguments);
        if !shell.verbose() {
            command.arg("--quiet");
        }
        command.args(["--", "-D", "warnings"]);
        match shell.run(&mut command) {
            Ok(()) => {
                step.done();
            }
            Err(error) => {
                drop(step);
                progress::message(&format!("clippy: {label}: {error}"));
                failed.push(label);
            }
        }
    }
    if failed.is_empty() {
        progress::message(
            "lint passed: wasm modules, host crates, QEMU tests, kernel, test kernel, native programs, native module builds",
        );
        Ok(())
    } else {
        Err(Error::new(format!(
            "clippy failed for: {}",
            failed.join(", ")
        )))
    }
}
