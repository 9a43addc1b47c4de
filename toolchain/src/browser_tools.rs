//! The host programs the status page's browser test needs (`tests/tests/status_browser.rs`):
//! headless `chromium` to render the page, and `tesseract` (Debian's `tesseract-ocr`, with
//! its English data) to read the screenshot. `cargo cella test` and `cargo cella setup`
//! install them with apt-get when one is missing and the tool runs as root, as they install
//! QEMU; otherwise they print what to install and go on: the browser test then says it was
//! skipped and why, and every other test runs.

use crate::progress;
use crate::setup::{apt_install, is_root};
use crate::shell::{Shell, find_program};

/// Each program the browser test needs and the Debian packages that provide it.
pub const PROGRAMS: [(&str, &[&str]); 2] = [
    ("chromium", &["chromium"]),
    ("tesseract", &["tesseract-ocr", "tesseract-ocr-eng"]),
];

/// The packages of the programs of [`PROGRAMS`] that `present` does not find.
pub fn missing_packages(present: impl Fn(&str) -> bool) -> Vec<&'static str> {
    PROGRAMS
        .iter()
        .filter(|(program, _)| !present(program))
        .flat_map(|(_, packages)| packages.iter().copied())
        .collect()
}

/// What to tell a user who lacks `packages` and for whom the tool cannot install them.
pub fn advice(packages: &[&str], root: bool) -> String {
    let names = packages.join(" ");
    if root {
        format!(
            "the status page's browser test needs {names} and there is no apt-get to install \
             them with; it is skipped until they are installed"
        )
    } else {
        format!(
            "the status page's browser test needs {names} (cella installs them itself only \
             when run as root); it is skipped until they are installed with:\n\n    sudo \
             apt-get update && sudo apt-get install -y {names}\n"
        )
    }
}

/// Installs the missing packages with apt-get when the tool runs as root; otherwise, or if
/// apt-get fails, prints why the browser test will be skipped. Never fails the command.
pub fn ensure(shell: &Shell) {
    let missing = missing_packages(|program| find_program(program).is_some());
    if missing.is_empty() {
        return;
    }
    if !is_root() || find_program("apt-get").is_none() {
        progress::message(&advice(&missing, is_root()));
        return;
    }
    progress::message(&format!(
        "the status page's browser test needs {}; installing with apt-get",
        missing.join(" ")
    ));
    if let Err(error) = apt_install(shell, &missing) {
        progress::message(&format!(
            "{error}\nthe status page's browser test will be skipped"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_program_names_its_packages() {
        assert_eq!(missing_packages(|_| true), Vec::<&str>::new());
        assert_eq!(
            missing_packages(|program| program != "chromium"),
            ["chromium"]
        );
        assert_eq!(
            missing_packages(|_| false),
            ["chromium", "tesseract-ocr", "tesseract-ocr-eng"]
        );
        let advice = advice(&["chromium"], false);
        assert!(
            advice.contains("sudo apt-get install -y chromium"),
            "{advice}"
        );
    }
}
