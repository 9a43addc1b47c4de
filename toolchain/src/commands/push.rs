//! `cella push MODULE [--to NAME] [--features F] [--grant [FILE]] [--system PID|SOCKET]`:
//! build a module (or one variant of it) and hot-swap it into a system that `cargo cella run`
//! is running (or start it there), then print what the kernel says. With `--grant` the
//! module's manifest entry goes with it, and a module the running system does not know is
//! installed under it ([`crate::installed`]); each accepted install is kept for the next boot.

use crate::cli::{GrantSource, PushOptions};
use crate::installed;
use crate::modules::{self, wasm};
use crate::push;
use crate::runs;
use crate::shell::Shell;
use crate::system_manifest::SystemPlan;
use crate::variants;
use crate::wat_source;
use crate::workspace::Workspace;
use crate::{Error, Result, progress};
use cella_wasm_host::Grant;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait for the kernel's answer (a swap takes microseconds; TCG boots are slow).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// `cella push`.
pub fn push(shell: &Shell, workspace: &Workspace, options: &PushOptions) -> Result<()> {
    // The teaching modules too: `cargo cella run --teaching` boots them.
    let plan = modules::read_plan(
        &workspace.root,
        &[
            crate::system_manifest::SOURCE,
            crate::system_manifest::TEACHING_SOURCE,
        ],
    )?;
    // The system first: no build when nothing runs to receive it.
    let system = runs::choose(&workspace.cella_directory(), options.system.as_deref())?;
    let features = variants::split_features(&options.features);
    let mut package_directory = None;
    let (bytes, default_target) = if let Some(compiled) =
        wat_module(&workspace.root, &plan, &options.module)
    {
        if !features.is_empty() {
            return Err(Error::usage(format!(
                "--features builds a package; {} is a WAT module",
                options.module
            )));
        }
        compiled?
    } else if options.module.ends_with(".wasm") {
        if !features.is_empty() {
            return Err(Error::usage(format!(
                "--features builds a package; {} is a built .wasm file",
                options.module
            )));
        }
        let path = Path::new(&options.module);
        let bytes = std::fs::read(path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default();
        (bytes, stem.trim_start_matches("cella_").replace('_', "-"))
    } else {
        let spec = plan.modules.iter().find(|spec| spec.name == options.module);
        let package = match spec {
            Some(spec) => spec.package.clone(),
            None => [options.module.clone(), format!("cella-{}", options.module)]
                .into_iter()
                .find(|candidate| workspace.package(candidate).is_some())
                .ok_or_else(|| {
                    Error::new(format!(
                        "`{}` is neither a module of modules/system.toml or modules/teaching.toml, a workspace package, a .wasm file nor a .wat file",
                        options.module
                    ))
                })?,
        };
        package_directory = workspace
            .package(&package)
            .map(|package| package.directory.clone());
        let bytes = if features.is_empty() {
            modules::build_packages(shell, workspace, &[&package])?;
            let path = modules::wasm_path(&workspace.target_directory, &package);
            std::fs::read(&path)
                .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?
        } else {
            let step = progress::Step::start(format!(
                "building {package} with features {}",
                features.join(",")
            ));
            let (path, bytes) =
                variants::build_with_features(shell, workspace, &package, &features)?;
            step.done();
            progress::message(&format!("variant: {}", path.display()));
            bytes
        };
        let name = spec.map_or_else(
            || package.trim_start_matches("cella-").to_owned(),
            |spec| spec.name.clone(),
        );
        (bytes, name)
    };
    let bytes = wasm::strip_debug_sections(&bytes);
    let target = options.to.clone().unwrap_or(default_target);
    let entry = match &options.grant {
        None => None,
        Some(source) => Some(read_entry(source, package_directory.as_deref(), &target)?),
    };
    let store = installed::store_directory(&workspace.cella_directory());
    let grant = match &entry {
        Some((spec, _)) => Some(spec.grant()),
        None => match plan.modules.iter().find(|spec| spec.name == target) {
            Some(spec) => Some(spec.grant()),
            None => installed_grant(&store, &target),
        },
    };
    let name = match &grant {
        Some(grant) => push::vet(&target, &bytes, grant)?,
        None => {
            progress::message(&format!(
                "`{target}` is in neither {} nor {}: the running system checks it against its own manifest (a name it does not know needs --grant)",
                plan.sources.join(" + "),
                store.display()
            ));
            target.clone()
        }
    };
    if name != target {
        return Err(Error::new(format!(
            "the module's manifest names it `{name}`, not `{target}`: the running system would refuse it in place of {target}; push it as `{name}` (`--to {name}`)"
        )));
    }
    if let Some(note) = &system.note {
        progress::message(note);
    }
    progress::message(&format!(
        "pushing module {name} ({} bytes) to {target} on {}",
        bytes.len(),
        system.description
    ));
    if options.persist && entry.is_some() {
        return Err(Error::usage(
            "--persist keeps a module the running system's manifest grants; a module installed with --grant is kept by `cargo cella run` (target/cella/installed/)",
        ));
    }
    let key = push::read_key(&workspace.cella_directory())?;
    let answer = match &entry {
        Some((spec, _)) => push::send_install(
            &system.socket,
            &key,
            &target,
            &installed::compiled_entry(spec),
            &bytes,
            ANSWER_TIMEOUT,
        )?,
        None => push::send(
            &system.socket,
            &key,
            &target,
            &bytes,
            options.persist,
            ANSWER_TIMEOUT,
        )?,
    };
    if answer.accepted {
        progress::message(&format!("the kernel says: {}", answer.text));
        let listed = plan.modules.iter().any(|spec| spec.name == target);
        match &entry {
            Some(_) if listed => progress::message(&format!(
                "not kept for the next boot: {target} is a module of {} already",
                plan.sources.join(" + ")
            )),
            Some((_, text)) => {
                installed::keep(&store, &target, text, &bytes)?;
                progress::message(&format!(
                    "kept in {} for the next `cargo cella run`",
                    store.display()
                ));
            }
            None => {
                if installed::update(&store, &target, &bytes)? {
                    progress::message(&format!(
                        "the installed copy in {} holds this version",
                        store.display()
                    ));
                }
            }
        }
        Ok(())
    } else {
        Err(Error::new(format!(
            "the kernel refused it: {}",
            answer.text
        )))
    }
}

/// A module given as WAT: a `.wat` file (by its path), or a module of `plan` with
/// `wat =` (by its name, the file taken from `workspace_root`). Its compiled bytes and the
/// name it replaces by default (the file's stem, or the module's name); `None` when
/// `module` is neither.
///
/// # Errors
/// The file cannot be read, or its text is not valid WAT (a syntax error, with its line).
pub fn wat_module(
    workspace_root: &Path,
    plan: &SystemPlan,
    module: &str,
) -> Option<Result<(Vec<u8>, String)>> {
    let (path, name) = if wat_source::is_wat_path(module) {
        let path = PathBuf::from(module);
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_owned();
        (path, stem)
    } else {
        let spec = plan.modules.iter().find(|spec| spec.name == module)?;
        (workspace_root.join(spec.wat.as_ref()?), spec.name.clone())
    };
    Some(
        wat_source::compile(&path)
            .map(|bytes| (bytes, name))
            .map_err(Error::from),
    )
}

/// The grant of `target`'s entry in the store of installed modules, if it is installed.
fn installed_grant(store: &Path, target: &str) -> Option<Grant> {
    let path = store.join(format!("{target}.toml"));
    path.is_file()
        .then(|| installed::read_entry_file(&path).ok())
        .flatten()
        .map(|(spec, _)| spec.grant())
}

/// The manifest entry `--grant` names for `target`, and its text.
///
/// # Errors
/// No entry file (a `.wasm` file has no crate to take it from), a file that does not read
/// as an entry, or an entry for another name.
fn read_entry(
    source: &GrantSource,
    package_directory: Option<&Path>,
    target: &str,
) -> Result<(crate::system_manifest::ModuleSpec, String)> {
    let path = match (source, package_directory) {
        (GrantSource::File(file), _) => PathBuf::from(file),
        (GrantSource::CrateEntry, Some(directory)) => directory.join(installed::ENTRY_FILE),
        (GrantSource::CrateEntry, None) => {
            return Err(Error::usage(format!(
                "--grant without a FILE takes the entry from the module's crate ({} beside its Cargo.toml); for a .wasm or .wat file name the entry: --grant FILE",
                installed::ENTRY_FILE
            )));
        }
    };
    let (spec, text) = installed::read_entry_file(&path)?;
    if spec.name != target {
        return Err(Error::new(format!(
            "{} is the entry of `{}`, not of `{target}`",
            path.display(),
            spec.name
        )));
    }
    Ok((spec, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wat_file_or_a_wat_module_by_name_is_compiled_and_a_syntax_error_says_so() {
        let root = std::env::temp_dir().join(format!("cella-push-wat-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("modules/teaching")).unwrap();
        let hello = "(module\n  (@custom \"cella.manifest\" \"cella 1\\nname hello\\nversion 1.0.0\\n\")\n  (func (export \"init\") (result i32) (i32.const 0)))\n";
        std::fs::write(root.join("modules/teaching/hello.wat"), hello).unwrap();
        std::fs::write(
            root.join("typo.wat"),
            "(module\n  (func (export \"init\") (result i32)\n    (i32.cnst 0)))\n",
        )
        .unwrap();
        let plan = SystemPlan::parse_files(&[(
            "modules/teaching.toml",
            "[[module]]\nname = \"greeter\"\nwat = \"modules/teaching/hello.wat\"\nboot = false\n",
        )])
        .expect("a plan");
        // By path: the file's stem is the default target.
        let path = root
            .join("modules/teaching/hello.wat")
            .display()
            .to_string();
        let (bytes, name) = wat_module(&root, &plan, &path)
            .expect("a WAT file")
            .expect("it compiles");
        assert_eq!((&bytes[..4], name.as_str()), (&b"\0asm"[..], "hello"));
        // By name: the manifest's `wat =` file, under the module's name.
        let (by_name, name) = wat_module(&root, &plan, "greeter")
            .expect("a WAT module")
            .expect("it compiles");
        assert_eq!((by_name, name.as_str()), (bytes, "greeter"));
        // A syntax error is one, with its file and line.
        let typo = root.join("typo.wat").display().to_string();
        let error = wat_module(&root, &plan, &typo)
            .expect("a WAT file")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!("WAT syntax error in {typo}")),
            "{error}"
        );
        assert!(error.contains("typo.wat:3:"), "{error}");
        // Neither a WAT file nor a WAT module: the other ways apply.
        assert!(wat_module(&root, &plan, "uart16550").is_none());
        assert!(wat_module(&root, &plan, "modules/uart16550.wasm").is_none());
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_entry_comes_from_the_crate_or_a_file_and_names_the_target() {
        let directory =
            std::env::temp_dir().join(format!("cella-push-entry-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let entry = "[[module]]\nname = \"blink\"\nports = [{ base = 0x510, count = 2 }]\n";
        std::fs::write(directory.join(installed::ENTRY_FILE), entry).unwrap();
        let (spec, text) =
            read_entry(&GrantSource::CrateEntry, Some(&directory), "blink").expect("an entry");
        assert_eq!((spec.name.as_str(), text.as_str()), ("blink", entry));
        let file = directory.join(installed::ENTRY_FILE).display().to_string();
        let (spec, _) = read_entry(&GrantSource::File(file.clone()), None, "blink").unwrap();
        assert_eq!(spec.name, "blink");
        let other = read_entry(&GrantSource::File(file), None, "blank").unwrap_err();
        assert!(
            other
                .to_string()
                .contains("is the entry of `blink`, not of `blank`"),
            "{other}"
        );
        let no_crate = read_entry(&GrantSource::CrateEntry, None, "blink").unwrap_err();
        assert!(no_crate.to_string().contains("--grant FILE"), "{no_crate}");
        assert_eq!(no_crate.exit_code(), 2, "a usage error");
        let missing = read_entry(
            &GrantSource::CrateEntry,
            Some(&directory.join("none")),
            "blink",
        );
        assert!(missing.unwrap_err().to_string().contains("module.toml"));
        let _ = std::fs::remove_dir_all(directory);
    }
}
