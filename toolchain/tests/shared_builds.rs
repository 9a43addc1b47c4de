//! The host builds of wasmi and cella-wasm-host are shared by everything that needs them: the
//! `cella` tool (built by every `cargo cella` command), the drivers' device tests (a new
//! driver's first test) and the kernel library's host tests (`cargo test -p cella-kernel
//! --lib`, a stage of `cargo cella test`). Cargo compiles a crate again for every different
//! set of features in its dependency tree, so each package the kernel library's tests share
//! with the other two must have the same features in all three; when `spin` differed (the
//! kernel asks for `once`), the kernel stage compiled spin, wasmi and cella-wasm-host again
//! (44 s on this project's 2-core machine, 1 min 24 s in a loaded `cargo cella test`).

use std::collections::BTreeMap;
use std::process::Command;

/// `NAME VERSION` -> `[FEATURES]` for every package in `package`'s tree (host target, with
/// dev-dependencies: what `cargo test -p PACKAGE` builds).
fn features(package: &str) -> BTreeMap<String, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--quiet", "--package", package])
        .args(["--edges", "normal,build,dev", "--prefix", "none"])
        .args(["--format", "{p} [{f}]"])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, version) = (words.next()?, words.next()?);
            let features = line
                .rsplit_once('[')?
                .1
                .trim_end_matches([']', ' ', '*', '(', ')']);
            Some((format!("{name} {version}"), features.to_owned()))
        })
        .collect()
}

#[test]
fn kernel_library_tests_share_the_tools_and_device_tests_builds_of_wasmi() {
    let kernel = features("cella-kernel");
    for other in ["cella", "cella-device-tests"] {
        let other_features = features(other);
        let shared: Vec<&String> = kernel
            .keys()
            .filter(|key| other_features.contains_key(*key))
            .collect();
        assert!(
            shared.iter().any(|key| key.starts_with("wasmi ")),
            "wasmi is in both trees: {shared:?}"
        );
        let differing: Vec<String> = shared
            .iter()
            .filter(|key| kernel[**key] != other_features[**key])
            .map(|key| {
                format!(
                    "{key}: cella-kernel [{}], {other} [{}]",
                    kernel[*key], other_features[*key]
                )
            })
            .collect();
        assert!(
            differing.is_empty(),
            "built twice, once per feature set:\n  {}",
            differing.join("\n  ")
        );
    }
}
