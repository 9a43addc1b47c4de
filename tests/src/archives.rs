//! Boot archives made from the default one for a single test: its system manifest changed
//! and modules added, written to a file of their own.

use crate::environment::environment;
use cella::archive::{ArchiveEntry, read_ustar, write_ustar};
use std::path::PathBuf;

/// The default boot archive with its `system.manifest` text passed through `manifest` and
/// `modules` (archive name, bytes) added, written to a temporary file named after `label`.
///
/// # Panics
/// If the default archive cannot be read or the new one written (the test fails).
pub fn default_archive_with(
    label: &str,
    manifest: impl FnOnce(&str) -> String,
    modules: Vec<(String, Vec<u8>)>,
) -> PathBuf {
    let archive = std::fs::read(&environment().boot_archive).expect("default boot archive");
    let mut entries = read_ustar(&archive).expect("default boot archive is ustar");
    let entry = entries
        .iter_mut()
        .find(|entry| entry.name == "system.manifest")
        .expect("the default archive has a system.manifest");
    let text = String::from_utf8(entry.bytes.clone()).expect("the system manifest is text");
    entry.bytes = manifest(&text).into_bytes();
    for (name, bytes) in modules {
        entries.push(ArchiveEntry::new(name, bytes));
    }
    let path = std::env::temp_dir().join(format!("cella-{label}-{}.tar", std::process::id()));
    std::fs::write(&path, write_ustar(&entries, 0).expect("archive")).expect("write archive");
    path
}
