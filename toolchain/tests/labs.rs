//! The labs as `cargo cella lab` finds them: every page of docs/labs/ with a number has its
//! steps and its files in labs/, its `lab.toml` reads together with modules/system.toml
//! (the system `cargo cella lab N` boots), every WAT module it names compiles, and the
//! teaching modules and the reference solutions kept in tests/labs/ fit their entries with
//! the loader `cargo cella build` uses (a starting point may be what the lab asks to fix). (The graders themselves are QEMU tests:
//! tests/tests/labs.rs.)

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

#[test]
fn every_lab_has_steps_a_system_and_modules_that_fit_it() {
    let root = workspace();
    let found = labs::list(&root).expect("docs/labs/ reads");
    assert!(!found.is_empty(), "docs/labs/ has no numbered page");
    for lab in &found {
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
        let manifest = lab.manifest();
        let plan = read_plan(&root, &[SOURCE, &manifest])
            .unwrap_or_else(|error| panic!("{manifest} with {SOURCE}: {error}"));
        let mut students = 0;
        for spec in plan.modules.iter().filter(|spec| spec.wat.is_some()) {
            let wat = spec.wat.as_deref().unwrap_or_default();
            // What must fit its entry: the teaching modules and the reference solutions.
            // A starting point must compile; it may be what the lab asks to fix.
            let mut sources = vec![root.join(wat)];
            if let Some(own) = wat.strip_prefix("labs/") {
                students += 1;
                cella::wat_source::compile(&root.join(wat))
                    .unwrap_or_else(|error| panic!("{error}"));
                let reference = root.join("tests/labs").join(own);
                assert!(
                    reference.is_file(),
                    "{wat} has no reference solution in tests/labs/"
                );
                sources = vec![reference];
            }
            for source in sources {
                let bytes =
                    cella::wat_source::compile(&source).unwrap_or_else(|error| panic!("{error}"));
                check_module(spec, &source, &bytes)
                    .unwrap_or_else(|problem| panic!("{}: {problem}", source.display()));
            }
        }
        assert!(
            students > 0,
            "{manifest} names no module of the student's in labs/"
        );
    }
}
