//! Why a module of the manifest gave nothing to pack, sorted by kind: a WAT source that does
//! not compile (a syntax error names its line) is reported as such, apart from modules whose
//! bytes do not fit their manifest entry.

use super::wasm_path;
use crate::system_manifest::ModuleSpec;
use crate::wat_source;
use std::path::{Path, PathBuf};

/// Why one module of the manifest gave nothing to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleProblem {
    /// Its WAT source is not valid WAT (or could not be read).
    Source(String),
    /// Its bytes do not fit its manifest entry (or the `.wasm` cargo wrote is missing).
    Misfit(String),
}

/// The problems of every module, sorted by kind.
#[derive(Debug, Default)]
pub struct Problems {
    sources: Vec<String>,
    misfits: Vec<String>,
}

impl Problems {
    /// Adds one module's problem.
    pub fn add(&mut self, problem: ModuleProblem) {
        match problem {
            ModuleProblem::Source(text) => self.sources.push(text),
            ModuleProblem::Misfit(text) => self.misfits.push(text),
        }
    }

    /// The report of them all, WAT sources first; `None` when there are none.
    pub fn report(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.sources.is_empty() {
            parts.push(format!(
                "{} WAT source(s) do not compile:\n  {}",
                self.sources.len(),
                self.sources.join("\n  ")
            ));
        }
        if !self.misfits.is_empty() {
            parts.push(format!(
                "{} module(s) do not fit the system manifest:\n  {}",
                self.misfits.len(),
                self.misfits.join("\n  ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("\n"))
    }
}

/// The bytes of module `spec`: its WAT source (relative to `workspace_root`) compiled, or
/// the `.wasm` cargo wrote in `target_directory`, with the file they came from.
///
/// # Errors
/// [`ModuleProblem::Source`] for a WAT file that does not compile (a syntax error names its
/// line), [`ModuleProblem::Misfit`] for a missing `.wasm`.
pub fn module_bytes(
    spec: &ModuleSpec,
    workspace_root: &Path,
    target_directory: &Path,
) -> std::result::Result<(PathBuf, Vec<u8>), ModuleProblem> {
    match &spec.wat {
        Some(source) => {
            let path = workspace_root.join(source);
            wat_source::compile(&path)
                .map(|bytes| (path, bytes))
                .map_err(|error| ModuleProblem::Source(format!("module `{}`: {error}", spec.name)))
        }
        None => {
            let path = wasm_path(target_directory, &spec.package);
            std::fs::read(&path)
                .map(|bytes| (path.clone(), bytes))
                .map_err(|error| {
                    ModuleProblem::Misfit(format!("reading {}: {error}", path.display()))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::read_and_check;
    use super::*;

    #[test]
    fn a_wat_syntax_error_is_reported_as_one_not_as_a_misfit() {
        let root = std::env::temp_dir().join(format!("cella-modules-wat-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("broken.wat"),
            "(module\n  (func (export \"init\")\n",
        )
        .unwrap();
        // Valid WAT, but without the `cella.manifest` section every module needs.
        std::fs::write(
            root.join("bare.wat"),
            "(module (func (export \"init\") (result i32) (i32.const 0)))",
        )
        .unwrap();
        let spec = |name: &str| ModuleSpec {
            name: name.to_owned(),
            package: name.to_owned(),
            wat: Some(format!("{name}.wat")),
            ..Default::default()
        };
        let mut problems = Problems::default();
        let broken = read_and_check(&spec("broken"), &root, &root).unwrap_err();
        match &broken {
            ModuleProblem::Source(text) => assert!(
                text.starts_with("module `broken`: WAT syntax error in ")
                    && text.contains("broken.wat:3:"),
                "{text}"
            ),
            ModuleProblem::Misfit(text) => panic!("a syntax error reported as a misfit: {text}"),
        }
        problems.add(broken);
        let report = problems.report().expect("one problem");
        assert!(
            report.starts_with(
                "1 WAT source(s) do not compile:\n  module `broken`: WAT syntax error"
            ),
            "{report}"
        );
        assert!(!report.contains("do not fit"), "{report}");
        let bare = read_and_check(&spec("bare"), &root, &root).unwrap_err();
        assert!(
            matches!(&bare, ModuleProblem::Misfit(text) if text.contains("no `cella.manifest` section")),
            "{bare:?}"
        );
        problems.add(bare);
        let report = problems.report().expect("two problems");
        assert!(
            report.contains("\n1 module(s) do not fit the system manifest:\n  module `bare`"),
            "{report}"
        );
        assert_eq!(Problems::default().report(), None);
        let _ = std::fs::remove_dir_all(root);
    }
}
