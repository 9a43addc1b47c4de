//! `cella push MODULE [--to NAME] [--features F] [--system PID|SOCKET]`: build a module (or
//! one variant of it) and hot-swap it into a system that `cargo cella run` is running (or load
//! it new), then print what the kernel says.

use crate::cli::PushOptions;
use crate::modules::{self, wasm};
use crate::push;
use crate::runs;
use crate::shell::Shell;
use crate::variants;
use crate::workspace::Workspace;
use crate::{Error, Result, progress};
use cella_wasm_host::Grant;
use std::path::Path;
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
    let (bytes, default_target) = if options.module.ends_with(".wasm") {
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
                        "`{}` is neither a module of modules/system.toml, a workspace package, nor a .wasm file",
                        options.module
                    ))
                })?,
        };
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
    let grant = plan
        .modules
        .iter()
        .find(|spec| spec.name == target)
        .map_or_else(Grant::new, |spec| spec.grant());
    let name = push::vet(&target, &bytes, &grant)?;
    if let Some(note) = &system.note {
        progress::message(note);
    }
    progress::message(&format!(
        "pushing module {name} ({} bytes) to {target} on {}",
        bytes.len(),
        system.description
    ));
    let key = push::read_key(&workspace.cella_directory())?;
    let answer = push::send(&system.socket, &key, &target, &bytes, ANSWER_TIMEOUT)?;
    if answer.accepted {
        progress::message(&format!("the kernel says: {}", answer.text));
        Ok(())
    } else {
        Err(Error::new(format!(
            "the kernel refused it: {}",
            answer.text
        )))
    }
}
