//! Modules installed into a running system with their manifest entry (`cargo cella push NAME
//! --grant`), and the host-side store that brings them back at the next boot.
//!
//! A manifest entry is a TOML file of one `[[module]]` table, written as in
//! `modules/system.toml` ([`SystemPlan::parse_entry`]). By default `--grant` reads the
//! crate's own, [`ENTRY_FILE`] beside its `Cargo.toml`; `--grant FILE` names another. The
//! tool sends it in the compiled form the kernel reads ([`compiled_entry`]).
//!
//! Each install the kernel accepts is kept in `target/cella/installed/` as `NAME.wasm` (the
//! bytes sent) and `NAME.toml` (the entry); a later push of `NAME` that the kernel accepts
//! replaces `NAME.wasm`. `cargo cella run` adds the kept modules to the boot archive
//! (`installed/NAME.wasm`) and to the system manifest it boots ([`add_to_boot`]), each
//! checked like the rest of the manifest: an entry that no longer reads, a module file that
//! is missing or asks for more than its entry grants, or an entry that conflicts with the
//! system (a name it has, a port, MMIO byte or IRQ line another holder has, an endpoint
//! served twice or served by no one) is reported and left out; the boot goes on without it.

use crate::archive::ArchiveEntry;
use crate::system_manifest::{ModuleSpec, SystemPlan};
use crate::{Error, Result};
use cella_system::system_manifest::{ModulePlan, SystemManifest, validate_addition};
use std::path::{Path, PathBuf};

/// The manifest entry `--grant` reads by default, in the module crate's directory.
pub const ENTRY_FILE: &str = "module.toml";
/// The store's directory inside the tool's output directory (`target/cella`).
pub const STORE: &str = "installed";

/// The store of installed modules of the build directory `cella_directory`.
pub fn store_directory(cella_directory: &Path) -> PathBuf {
    cella_directory.join(STORE)
}

/// Reads the manifest entry at `path`.
///
/// # Errors
/// The file cannot be read, or every problem of its contents.
pub fn read_entry_file(path: &Path) -> Result<(ModuleSpec, String)> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Error::new(format!(
            "reading the manifest entry {}: {error}",
            path.display()
        ))
    })?;
    let spec = SystemPlan::parse_entry(&text, &path.display().to_string())
        .map_err(|problems| Error::new(problems.join("\n")))?;
    Ok((spec, text))
}

/// `spec` as it goes on the wire and into the kernel's manifest: the compiled form's header
/// and the module's block, its file `installed/NAME.wasm`.
pub fn compiled_entry(spec: &ModuleSpec) -> String {
    SystemManifest {
        modules: vec![installed_plan(spec)],
        ..SystemManifest::default()
    }
    .render()
}

/// `spec`'s plan, with its file in the boot archive's `installed/`.
fn installed_plan(spec: &ModuleSpec) -> ModulePlan {
    ModulePlan {
        file: format!("{STORE}/{}.wasm", spec.name),
        ..spec.plan()
    }
}

/// Keeps an accepted install of `name`: its bytes and its entry's text.
///
/// # Errors
/// The store cannot be written.
pub fn keep(store: &Path, name: &str, entry: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(store)
        .map_err(|error| Error::new(format!("creating {}: {error}", store.display())))?;
    write(&store.join(format!("{name}.wasm")), bytes)?;
    write(&store.join(format!("{name}.toml")), entry.as_bytes())
}

/// After an accepted push of `name` without an entry: if `name` is installed, its kept
/// bytes become `bytes`. Returns whether it was installed.
///
/// # Errors
/// The store cannot be written.
pub fn update(store: &Path, name: &str, bytes: &[u8]) -> Result<bool> {
    if !store.join(format!("{name}.toml")).is_file() {
        return Ok(false);
    }
    write(&store.join(format!("{name}.wasm")), bytes)?;
    Ok(true)
}

/// After an accepted `remove` of `name`: if it was installed, its kept copy goes too, so the
/// next boot does not bring it back. Returns whether it was installed.
///
/// # Errors
/// The store cannot be written.
pub fn forget(store: &Path, name: &str) -> Result<bool> {
    let entry = store.join(format!("{name}.toml"));
    if !entry.is_file() {
        return Ok(false);
    }
    for path in [entry, store.join(format!("{name}.wasm"))] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(Error::new(format!("removing {}: {error}", path.display())));
            }
        }
    }
    Ok(true)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| Error::new(format!("writing {}: {error}", path.display())))
}

/// What [`add_to_boot`] did with the store.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BootAdditions {
    /// The modules added, by name.
    pub added: Vec<String>,
    /// Each module left out, with why.
    pub skipped: Vec<String>,
}

/// Adds the modules kept in `store` to `manifest` (the system about to boot) and their bytes
/// to `entries` (its boot archive), in name order, each checked against the system as it
/// grows: its entry reads, its name and grants fit ([`validate_addition`]), and the module's
/// own request fits its entry. What does not is left out, with the reason.
pub fn add_to_boot(
    store: &Path,
    manifest: &mut SystemManifest,
    entries: &mut Vec<ArchiveEntry>,
) -> BootAdditions {
    let mut additions = BootAdditions::default();
    let Ok(listing) = std::fs::read_dir(store) else {
        return additions;
    };
    let mut names: Vec<String> = listing
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_owned)
        })
        .collect();
    names.sort();
    for name in names {
        match checked(store, &name, manifest) {
            Ok((plan, bytes)) => {
                entries.push(ArchiveEntry::new(plan.file.clone(), bytes));
                manifest.modules.push(plan);
                additions.added.push(name);
            }
            Err(why) => additions.skipped.push(format!("{name}: {why}")),
        }
    }
    additions
}

/// Adds the modules kept in `store` to a built boot archive's `entries`: their bytes, and
/// their blocks to its `system.manifest` (see [`add_to_boot`]).
///
/// # Errors
/// The archive has no readable `system.manifest` (a build always writes one).
pub fn add_to_archive(store: &Path, entries: &mut Vec<ArchiveEntry>) -> Result<BootAdditions> {
    let entry_name = crate::system_manifest::ARCHIVE_ENTRY;
    let at = entries
        .iter()
        .position(|entry| entry.name == entry_name)
        .ok_or_else(|| Error::new(format!("the boot archive has no {entry_name}")))?;
    let text = String::from_utf8_lossy(&entries[at].bytes).into_owned();
    let mut manifest = SystemManifest::read(&text)
        .map_err(|error| Error::new(format!("the built {entry_name}: {error}")))?;
    let additions = add_to_boot(store, &mut manifest, entries);
    if !additions.added.is_empty() {
        let comment: String = text
            .lines()
            .take_while(|line| line.starts_with('#'))
            .map(|line| format!("{line}\n"))
            .collect();
        let rendered = format!(
            "{comment}# With the modules installed from the host, kept in {}.\n{}",
            store.display(),
            manifest.render()
        );
        entries[at] = ArchiveEntry::new(entry_name, rendered.into_bytes());
    }
    Ok(additions)
}

/// Installed module `name`'s plan and bytes, if they fit `manifest`.
fn checked(
    store: &Path,
    name: &str,
    manifest: &SystemManifest,
) -> std::result::Result<(ModulePlan, Vec<u8>), String> {
    let (spec, _) =
        read_entry_file(&store.join(format!("{name}.toml"))).map_err(|error| error.to_string())?;
    if spec.name != name {
        return Err(format!(
            "its entry names the module `{}`, not `{name}`",
            spec.name
        ));
    }
    let path = store.join(format!("{name}.wasm"));
    let bytes =
        std::fs::read(&path).map_err(|error| format!("reading {}: {error}", path.display()))?;
    let plan = installed_plan(&spec);
    let problems = validate_addition(manifest, &plan);
    if !problems.is_empty() {
        return Err(format!(
            "its entry does not fit the system: {}",
            problems.join("; ")
        ));
    }
    crate::push::vet(name, &bytes, &spec.grant()).map_err(|error| error.to_string())?;
    Ok((plan, bytes))
}

#[cfg(test)]
mod tests;
