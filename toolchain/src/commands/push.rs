//! `cella push MODULE [--to NAME]`: build a module and hot-swap it into the system that
//! `cargo cella run` is running (or load it new), then print what the kernel says.

use crate::cli::PushOptions;
use crate::modules::{self, wasm};
use crate::push;
use crate::shell::Shell;
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
    let (bytes, default_target) = if options.module.ends_with(".wasm") {
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
        modules::build_packages(shell, workspace, &[&package])?;
        let path = modules::wasm_path(&workspace.target_directory, &package);
        let bytes = std::fs::read(&path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
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
    progress::message(&format!(
        "pushing module {name} ({} bytes) to {target}",
        bytes.len()
    ));
    let socket = push::socket_path(&workspace.cella_directory());
    let key = push::read_key(&workspace.cella_directory())?;
    let answer = push::send(&socket, &key, &target, &bytes, ANSWER_TIMEOUT)?;
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
