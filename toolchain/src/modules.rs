//! The Wasm modules: build every module `modules/system.toml` names (release, wasm32), check
//! each against ABI v1 and its grant with cella-wasm-host's own loader (the code the kernel
//! runs), and turn them into boot-archive entries.

use crate::archive::ArchiveEntry;
use crate::cargo;
use crate::progress::{self, Step};
use crate::shell::Shell;
use crate::system_manifest::{self, ModuleSpec, SystemPlan};
use crate::workspace::Workspace;
use crate::{Error, Result};
use cella_system::system_manifest::GrantLine;
use cella_wasm_host::{Capability, Limits, QueueOutbox, Runtime, SimulatedPlatform};
use std::path::{Path, PathBuf};

mod problems;
pub use problems::{ModuleProblem, Problems, module_bytes};

/// The guest target.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// A module built and checked.
#[derive(Debug, Clone)]
pub struct BuiltModule {
    /// Its system-manifest entry.
    pub spec: ModuleSpec,
    /// The `.wasm` cargo wrote.
    pub path: PathBuf,
    /// The bytes that go into the archive (debug sections removed).
    pub bytes: Vec<u8>,
    /// Version from its manifest.
    pub version: String,
    /// What it requested, as manifest lines.
    pub requests: Vec<String>,
}

/// Reads the system manifest files `sources` (relative to the workspace root; the first is
/// `modules/system.toml`, the others add to it) as one system.
pub fn read_plan(workspace_root: &Path, sources: &[&str]) -> Result<SystemPlan> {
    let mut files = Vec::new();
    for source in sources {
        let path = workspace_root.join(source);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
        files.push((*source, text));
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(source, text)| (*source, text.as_str()))
        .collect();
    SystemPlan::parse_files(&files).map_err(|problems| {
        Error::new(format!(
            "the system manifest has {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    })
}

/// Every guest package of the workspace: the crates under `drivers-wasm/`, `modules/` and
/// `tests/fixtures/` (the host-side `drivers-wasm/device-tests` excepted), by the `name` in
/// their `Cargo.toml`.
pub fn guest_packages(workspace_root: &Path) -> Vec<String> {
    let mut packages = Vec::new();
    for directory in ["drivers-wasm", "modules", "tests/fixtures"] {
        let Ok(entries) = std::fs::read_dir(workspace_root.join(directory)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name() == DEVICE_TESTS_DIRECTORY {
                continue;
            }
            let Ok(manifest) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
                continue;
            };
            let name = manifest.lines().find_map(|line| {
                let value = line.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            });
            packages.extend(name);
        }
    }
    packages.sort();
    packages
}

/// The host test crate of the drivers (`drivers-wasm/device-tests`).
pub const DEVICE_TESTS_DIRECTORY: &str = "device-tests";

/// The variable through which `cella test` tells the device tests where the `.wasm` files are.
pub const WASM_DIR_VARIABLE: &str = "CELLA_WASM_DIR";

/// Where cargo puts `package`'s release `.wasm`.
pub fn wasm_path(target_directory: &Path, package: &str) -> PathBuf {
    target_directory
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// `cargo build --release --target wasm32-unknown-unknown -p ...` for `packages`.
pub fn build_packages(shell: &Shell, workspace: &Workspace, packages: &[&str]) -> Result<PathBuf> {
    for package in packages {
        if workspace.package(package).is_none() {
            return Err(Error::new(format!(
                "{}: package `{package}` is not a member of the workspace (add it to `members` in Cargo.toml)",
                system_manifest::SOURCE
            )));
        }
    }
    let step = Step::start(format!(
        "building {} wasm modules (release)",
        packages.len()
    ));
    let mut command = cargo::cargo_command(&workspace.root, "build");
    command.args(["--release", "--target", WASM_TARGET]);
    for package in packages {
        command.args(["--package", package]);
    }
    if !shell.verbose() {
        command.arg("--quiet");
    }
    shell
        .run(&mut command)
        .map_err(|error| error.context("building the wasm modules"))?;
    step.done();
    Ok(workspace.target_directory.join(WASM_TARGET).join("release"))
}

/// Builds every module of the system manifest files `sources` (see [`read_plan`]) and checks
/// each against its grant.
pub fn build_and_check(
    shell: &Shell,
    workspace: &Workspace,
    sources: &[&str],
) -> Result<(SystemPlan, Vec<BuiltModule>)> {
    let plan = read_plan(&workspace.root, sources)?;
    system_manifest::process::check_programs(
        &plan.processes,
        &crate::userland::programs(workspace),
    )
    .map_err(|problems| {
        Error::new(format!(
            "the system manifest has {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    })?;
    let packages: Vec<&str> = plan
        .modules
        .iter()
        .filter(|module| module.wat.is_none() && module.is_built())
        .map(|module| module.package.as_str())
        .collect();
    build_packages(shell, workspace, &packages)?;
    let mut built = Vec::new();
    let mut problems = Problems::default();
    // A module kept on the file system is checked when the kernel loads it.
    for spec in plan.modules.iter().filter(|spec| spec.is_built()) {
        match read_and_check(spec, &workspace.root, &workspace.target_directory) {
            Ok((module, warnings)) => {
                for warning in warnings {
                    progress::message(&format!("warning: {warning}"));
                }
                built.push(module);
            }
            Err(problem) => problems.add(problem),
        }
    }
    if let Some(report) = problems.report() {
        return Err(Error::new(report));
    }
    Ok((plan, built))
}

/// [`module_bytes`] then [`check_module`].
///
/// # Errors
/// As for those two.
pub fn read_and_check(
    spec: &ModuleSpec,
    workspace_root: &Path,
    target_directory: &Path,
) -> std::result::Result<(BuiltModule, Vec<String>), ModuleProblem> {
    let (path, bytes) = module_bytes(spec, workspace_root, target_directory)?;
    check_module(spec, &path, &bytes).map_err(ModuleProblem::Misfit)
}

/// Checks one module: it loads under its grant (valid Wasm, ABI v1 imports and exports, a
/// manifest whose requests fit the grant), its manifest name matches, its initial memory
/// fits a sandbox. Warns about grants it does not request.
pub fn check_module(
    spec: &ModuleSpec,
    path: &Path,
    bytes: &[u8],
) -> std::result::Result<(BuiltModule, Vec<String>), String> {
    let file = path.display();
    let limits = Limits::default().with(&spec.limits);
    let runtime: Runtime<SimulatedPlatform, QueueOutbox> = Runtime::new(limits);
    let loaded = runtime
        .load(&spec.name, bytes, &spec.grant())
        .map_err(|error| format!("module `{}` ({file}): {}", spec.name, describe(&error.kind)))?;
    if loaded.name() != spec.name {
        return Err(format!(
            "module `{}` ({file}): its manifest calls it `{}`; use the same name in {}",
            spec.name,
            loaded.name(),
            system_manifest::SOURCE
        ));
    }
    let pages = wasm::initial_memory_pages(bytes).unwrap_or(0);
    if pages > u64::from(limits.max_memory_pages) {
        return Err(format!(
            "module `{}` ({file}): its memory starts at {pages} pages of 64 KiB, a sandbox may have {} (is the wasm32 `-zstack-size` link argument in .cargo/config.toml?)",
            spec.name, limits.max_memory_pages
        ));
    }
    let requests: Vec<String> = loaded
        .capabilities()
        .iter()
        .map(|capability| describe_capability(capability, spec))
        .collect();
    let warnings = spec
        .grant_lines()
        .into_iter()
        .filter(|grant| !requested(grant, loaded.capabilities()))
        .map(|grant| {
            format!(
                "module `{}` is granted `{grant}` but does not request it (least privilege: remove the grant?)",
                spec.name
            )
        })
        .collect();
    Ok((
        BuiltModule {
            spec: spec.clone(),
            path: path.to_path_buf(),
            bytes: wasm::strip_debug_sections(bytes),
            version: loaded.version().to_owned(),
            requests,
        },
        warnings,
    ))
}

fn describe(kind: &cella_wasm_host::LoadErrorKind) -> String {
    use cella_wasm_host::LoadErrorKind as Kind;
    match kind {
        Kind::Invalid(message) => format!("not a valid Wasm module: {message}"),
        Kind::MissingManifest => {
            "no `cella.manifest` section (declare the module with `cella_sdk::module!`)".into()
        }
        Kind::DuplicateManifest => "two `cella.manifest` sections".into(),
        Kind::Manifest(error) => format!("bad manifest: {error}"),
        Kind::NotGranted { request } => format!(
            "requests `{request}`, which its grant in {} does not cover",
            system_manifest::SOURCE
        ),
        Kind::UnknownImport { module, name } => {
            format!("imports `{module}.{name}`, which is not an ABI v1 host function")
        }
        Kind::ImportSignature { name } => format!("imports `{name}` with the wrong signature"),
        Kind::MissingExport { name } => format!("does not export `{name}`"),
        Kind::ExportSignature { name } => format!("exports `{name}` with the wrong type"),
        Kind::TooManyServed { count } => format!(
            "serves {count} endpoints in {}; a module serves at most {}",
            system_manifest::SOURCE,
            cella_wasm_host::MAX_SERVED_ENDPOINTS
        ),
        // cella-wasm-host may grow new reasons.
        #[allow(unreachable_patterns)]
        other => format!("{other}"),
    }
}

fn describe_capability(capability: &Capability, spec: &ModuleSpec) -> String {
    match capability {
        Capability::PortRange { base, count } => format!("port {base:#x} {count}"),
        Capability::MmioRegion { base, length } => format!("mmio {base:#x} {length}"),
        Capability::IrqLine { line, .. } => format!("irq {line}"),
        Capability::DmaPool { budget, .. } => {
            format!("dma {}", cella_wasm_host::abi::text::Size(*budget))
        }
        Capability::Endpoint { id, .. } => {
            // Ids are 1-based positions in the grant's endpoint list.
            let name = usize::try_from(*id)
                .ok()
                .and_then(|id| spec.grants.endpoints.get(id.checked_sub(1)?));
            format!("endpoint {}", name.map_or("?", String::as_str))
        }
        Capability::Timer { .. } => "timer".into(),
        Capability::PciDevice { function } => {
            format!("pci {:#06x} {:#06x}", function.vendor, function.device)
        }
        Capability::PciBus { .. } => "pci-bus".into(),
        // Made by `dma_alloc`, `pci_msix` or lent with a request at run time,
        // never requested; shown as `caps` would.
        made @ (Capability::DmaBuffer { .. }
        | Capability::LentBuffer { .. }
        | Capability::MsixVector { .. }) => made.to_string(),
    }
}

/// What a module requests, in words: `requests port 0x3f8 8, irq 4`, or
/// `requests nothing`.
pub fn requests_text(requests: &[String]) -> String {
    if requests.is_empty() {
        "requests nothing".to_owned()
    } else {
        format!("requests {}", requests.join(", "))
    }
}

/// Whether some request uses the grant line `grant` (as rendered by `grant_lines`).
fn requested(grant: &GrantLine, capabilities: &[Capability]) -> bool {
    capabilities
        .iter()
        .any(|capability| match (capability, grant) {
            (
                Capability::PortRange { base, count },
                GrantLine::Port {
                    base: grant_base,
                    count: grant_count,
                    ..
                },
            ) => {
                let (start, end) = (
                    u64::from(*grant_base),
                    u64::from(*grant_base) + u64::from(*grant_count),
                );
                u64::from(*base) < end && start < u64::from(*base) + u64::from(*count)
            }
            (
                Capability::MmioRegion { base, length },
                GrantLine::Mmio {
                    base: grant_base,
                    length: grant_length,
                    ..
                },
            ) => {
                let end = grant_base.saturating_add(*grant_length);
                *base < end && *grant_base < base.saturating_add(*length)
            }
            (Capability::IrqLine { line, .. }, GrantLine::Irq { line: granted, .. }) => {
                line == granted
            }
            (Capability::DmaPool { .. }, GrantLine::Dma { .. }) => true,
            (Capability::Timer { .. }, GrantLine::Timer) => true,
            (Capability::PciDevice { function }, GrantLine::Device { vendor, device, .. }) => {
                function.vendor == *vendor && function.device == *device
            }
            (Capability::PciBus { .. }, GrantLine::PciBus) => true,
            // Not a request: what the kernel does with the module's DMA.
            (_, GrantLine::DmaUnconfined) => true,
            // Endpoint ids are positions in the grant's list.
            (Capability::Endpoint { .. }, GrantLine::Endpoint { .. }) => true,
            _ => false,
        })
}

/// The archive entries: `system.manifest` then `modules/NAME.wasm` in boot order.
pub fn archive_entries(plan: &SystemPlan, built: &[BuiltModule]) -> Vec<ArchiveEntry> {
    let mut entries = vec![ArchiveEntry::new(
        system_manifest::ARCHIVE_ENTRY,
        plan.render(),
    )];
    for module in built {
        entries.push(ArchiveEntry::new(
            module.spec.archive_file(),
            module.bytes.clone(),
        ));
    }
    entries
}

/// Just enough of the Wasm binary format: sections, the memory section, custom-section names.
pub mod wasm {
    fn leb128(bytes: &[u8], position: &mut usize) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(*position)?;
            *position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    /// One section: id, the whole section including its header, its payload.
    type Section<'a> = (u8, &'a [u8], &'a [u8]);

    /// Every section; `None` if malformed.
    fn sections(bytes: &[u8]) -> Option<Vec<Section<'_>>> {
        if bytes.get(..8)? != b"\0asm\x01\0\0\0" {
            return None;
        }
        let mut position = 8;
        let mut sections = Vec::new();
        while position < bytes.len() {
            let start = position;
            let id = *bytes.get(position)?;
            position += 1;
            let length = usize::try_from(leb128(bytes, &mut position)?).ok()?;
            let payload = bytes.get(position..position.checked_add(length)?)?;
            position += length;
            sections.push((id, bytes.get(start..position)?, payload));
        }
        Some(sections)
    }

    fn custom_name(payload: &[u8]) -> Option<&str> {
        let mut position = 0;
        let length = usize::try_from(leb128(payload, &mut position)?).ok()?;
        std::str::from_utf8(payload.get(position..position.checked_add(length)?)?).ok()
    }

    /// The module's own memory's initial size in 64 KiB pages.
    pub fn initial_memory_pages(bytes: &[u8]) -> Option<u64> {
        let (_, _, payload) = sections(bytes)?.into_iter().find(|(id, ..)| *id == 5)?;
        let mut position = 0;
        let _count = leb128(payload, &mut position)?;
        let _flags = payload.get(position)?;
        position += 1;
        leb128(payload, &mut position)
    }

    /// The module without its DWARF custom sections (`.debug_*`); unchanged if malformed.
    pub fn strip_debug_sections(bytes: &[u8]) -> Vec<u8> {
        let Some(sections) = sections(bytes) else {
            return bytes.to_vec();
        };
        let mut out = bytes[..8].to_vec();
        for (id, whole, payload) in sections {
            if id == 0 && custom_name(payload).is_some_and(|name| name.starts_with(".debug")) {
                continue;
            }
            out.extend_from_slice(whole);
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_memory_and_strips_debug() {
            let mut module = b"\0asm\x01\0\0\0".to_vec();
            module.extend([5, 3, 1, 0, 17]); // memory: one, min 17
            module.extend([0, 8, 7]);
            module.extend(b".debug_"); // custom ".debug_"
            module.extend([0, 5, 4]);
            module.extend(b"keep");
            assert_eq!(initial_memory_pages(&module), Some(17));
            let stripped = strip_debug_sections(&module);
            assert_eq!(stripped.len(), module.len() - 10);
            assert!(stripped.ends_with(b"\x00\x05\x04keep"));
            assert_eq!(strip_debug_sections(b"junk"), b"junk");
            assert_eq!(initial_memory_pages(b"\0asm\x01\0\0\0\x05\x09"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_manifest_lines_and_none_says_so() {
        let spec = ModuleSpec {
            grants: crate::system_manifest::Grants {
                endpoints: vec!["console".to_owned()],
                ..Default::default()
            },
            ..Default::default()
        };
        let requests: Vec<String> = [
            Capability::PortRange {
                base: 0x510,
                count: 2,
            },
            Capability::MmioRegion {
                base: 0xfebf_1000,
                length: 4096,
            },
            Capability::IrqLine {
                line: 4,
                enabled: false,
            },
            Capability::DmaPool {
                budget: 64 * 1024,
                used: 0,
            },
            Capability::Endpoint {
                id: 1,
                rights: cella_wasm_host::abi::Rights::SEND,
            },
            Capability::Timer { deadline: None },
        ]
        .iter()
        .map(|capability| describe_capability(capability, &spec))
        .collect();
        assert_eq!(
            requests_text(&requests),
            "requests port 0x510 2, mmio 0xfebf1000 4096, irq 4, dma 64 KiB, endpoint console, timer"
        );
        assert_eq!(requests_text(&[]), "requests nothing");
    }
}
