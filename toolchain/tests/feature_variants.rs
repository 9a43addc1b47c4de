//! Two variants of one crate, built with different cargo features, keep two files
//! (`cargo cella push NAME --features F`, and `[[variant]]` tables with `features`).
//!
//! Builds `tests/fixtures/feature-variants` for wasm32 (in `<target>/cella/variants-target`,
//! a target directory of its own, so it does not wait on the `cargo test` that runs it).

use cella::shell::Shell;
use cella::variants::{build_with_features, variant_path};
use cella::workspace::Workspace;
use cella_wasm_host::{Grant, Limits, QueueOutbox, Runtime, SimulatedPlatform};

const PACKAGE: &str = "cella-feature-variants-fixture";

/// The version in the module's manifest, as the Wasm host's loader reads it.
fn version_of(bytes: &[u8]) -> String {
    let runtime: Runtime<SimulatedPlatform, QueueOutbox> = Runtime::new(Limits::default());
    let module = runtime
        .load("feature-variants", bytes, &Grant::new())
        .unwrap_or_else(|error| panic!("the variant does not load: {error}"));
    module.version().to_owned()
}

#[test]
fn two_feature_variants_of_one_crate_keep_two_files() {
    let shell = Shell::new(false);
    let workspace = Workspace::load(&shell).expect("the workspace");
    let cella = workspace.cella_directory();
    let features = |feature: &str| vec![feature.to_owned()];
    for feature in ["v2", "v3"] {
        let _ = std::fs::remove_file(variant_path(&cella, PACKAGE, &features(feature)));
    }
    let (two_path, two) =
        build_with_features(&shell, &workspace, PACKAGE, &features("v2")).expect("v2 builds");
    let (three_path, three) =
        build_with_features(&shell, &workspace, PACKAGE, &features("v3")).expect("v3 builds");

    assert_eq!(
        two_path,
        cella
            .join("variants")
            .join("cella-feature-variants-fixture+v2.wasm")
    );
    assert_eq!(
        three_path,
        cella
            .join("variants")
            .join("cella-feature-variants-fixture+v3.wasm")
    );
    // The second build left the first one's file as it was.
    assert_eq!(std::fs::read(&two_path).expect("v2's file"), two);
    assert_eq!(std::fs::read(&three_path).expect("v3's file"), three);
    assert_eq!(version_of(&two), "2.0.0");
    assert_eq!(version_of(&three), "3.0.0");
}
