//! The labs as `cargo cella lab` finds them: every page of docs/labs/ with a number has its
//! steps and its files in labs/, its `lab.toml` reads together with modules/system.toml
//! (the system `cargo cella lab N` boots), every WAT module it names compiles, and the
//! teaching modules and the reference solutions kept in tests/labs/ fit their entries with
//! the loader `cargo cella build` uses (a starting point may be what the lab asks to fix); a
//! page without a `lab.toml` is a chapter to read, with no steps and no grade. (The graders
//! themselves are QEMU tests: tests/tests/labs*.rs.)

use cella::labs;
use cella::modules::{check_module, read_plan};
use cella::system_manifest::SOURCE;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tool sits in the workspace")
        .to_path_buf()
}

/// Checks `source` compiled against `spec`'s grant, as `cargo cella build` does.
fn fits(spec: &cella::system_manifest::ModuleSpec, source: &Path) {
    let bytes = cella::wat_source::compile(source).unwrap_or_else(|error| panic!("{error}"));
    check_module(spec, source, &bytes)
        .unwrap_or_else(|problem| panic!("{}: {problem}", source.display()));
}

/// The student's WAT file `wat` (under `labs/`) compiles, and its reference solution in
/// `tests/labs/` fits `spec`; `false` when `wat` is a module the lab provides, with no
/// reference (it must fit itself).
fn student_file_and_reference(
    root: &Path,
    spec: &cella::system_manifest::ModuleSpec,
    wat: &str,
) -> bool {
    let own = wat.strip_prefix("labs/").expect("a lab's file");
    let reference = root.join("tests/labs").join(own);
    if !reference.is_file() {
        fits(spec, &root.join(wat));
        return false;
    }
    cella::wat_source::compile(&root.join(wat)).unwrap_or_else(|error| panic!("{error}"));
    fits(spec, &reference);
    true
}

#[test]
fn every_lab_has_steps_a_system_and_modules_that_fit_it() {
    let root = workspace();
    let found = labs::list(&root).expect("docs/labs/ reads");
    assert!(found.len() > 1, "docs/labs/ has no numbered lab");
    for lab in &found {
        let manifest = lab.manifest();
        if !root.join(&manifest).is_file() {
            // A chapter to read (the concepts): nothing to boot or grade.
            assert!(
                lab.steps().is_none() && !lab.page.contains("--grade"),
                "{} has no {manifest} but steps or a grade",
                lab.page_path()
            );
            continue;
        }
        let steps = lab.steps().unwrap_or_else(|| {
            panic!(
                "{} has no `{}` section",
                lab.page_path(),
                labs::STEPS_HEADING
            )
        });
        assert!(
            steps.contains(&format!("cargo cella lab {}", lab.number)),
            "{}: its steps start the lab: {steps}",
            lab.page_path()
        );
        assert!(
            lab.page
                .contains(&format!("cargo cella lab {} --grade", lab.number)),
            "{} says how to grade it",
            lab.page_path()
        );
        assert!(
            lab.page.contains("## What this does not protect against"),
            "{} says what it does not cover",
            lab.page_path()
        );
        let plan = read_plan(&root, &[SOURCE, &manifest])
            .unwrap_or_else(|error| panic!("{manifest} with {SOURCE}: {error}"));
        // A reference `lab.toml` (a lab whose task is in it) reads with the system too.
        let reference_manifest = format!("tests/{manifest}");
        let mut students = 0;
        if root.join(&reference_manifest).is_file() {
            read_plan(&root, &[SOURCE, &reference_manifest])
                .unwrap_or_else(|error| panic!("{reference_manifest} with {SOURCE}: {error}"));
            // The `lab.toml` is then a file of the student's (lab 8's only one).
            students += 1;
        }
        for spec in &plan.modules {
            match spec.wat.as_deref() {
                // What must fit its entry: the teaching modules and the reference
                // solutions. A starting point must compile; it may be what the lab asks
                // to fix.
                Some(wat) if wat.starts_with("labs/") => {
                    students += usize::from(student_file_and_reference(&root, spec, wat));
                }
                Some(wat) => fits(spec, &root.join(wat)),
                // A driver crate kept in the lab's directory (lab 7): the student's.
                None => {
                    let crate_manifest = root.join("labs").join(&lab.name).join("Cargo.toml");
                    let named = std::fs::read_to_string(&crate_manifest)
                        .is_ok_and(|text| text.contains(&format!("name = \"{}\"", spec.package)));
                    students += usize::from(named);
                }
            }
        }
        // Swap targets written in WAT (lab 6): the student's version 2 and its reference.
        let text = std::fs::read_to_string(root.join(&manifest)).expect("the lab's lab.toml");
        for variant in cella::variants::parse(&text, &manifest, &plan)
            .unwrap_or_else(|problems| panic!("{manifest}: {problems:?}"))
        {
            let Some(wat) = variant.wat.as_deref() else {
                continue;
            };
            let spec = plan
                .modules
                .iter()
                .find(|spec| spec.name == variant.module)
                .expect("a variant's module");
            students += usize::from(student_file_and_reference(&root, spec, wat));
        }
        assert!(
            students > 0,
            "{manifest} names no module of the student's in labs/ and has no reference"
        );
    }
}
