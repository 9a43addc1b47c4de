//! Extra builds of a module, packed into the boot archive as swap targets (`swap NAME FILE` in
//! the shell) but never booted: `[[variant]]` tables in a system manifest file (the test
//! system's `tests/kernel/system.toml` holds the UART driver's swap fixtures).
//!
//! ```toml
//! [[variant]]
//! module = "uart16550"                  # checked against this module's grant
//! file = "modules/uart16550-v2.wasm"    # its name in the boot archive
//! package = "cella-uart16550"           # the cargo package (default: the module's)
//! features = ["v2"]                     # cargo features of this build
//! ```
//!
//! or, for a module written in WAT (a lab's second version), `wat = "labs/NN-NAME/v2.wat"`
//! instead of `package` and `features`: the file is compiled as `wat =` modules are.
//!
//! A variant with features is built in a target directory of its own
//! (`<target>/cella/variants-target`), so a build with features never replaces the module's
//! ordinary `.wasm` that the device tests and the boot archive use, and each build is then
//! copied to a file of its own, `<target>/cella/variants/PACKAGE+FEATURE.wasm` (features
//! sorted, each after a `+`; see [`variant_path`]), so two variants of one crate never
//! overwrite each other. `cargo cella push NAME --features F` builds the same way
//! ([`build_with_features`]). A variant that is a package of its own (the UART driver's swap
//! fixtures under `tests/fixtures/`) is built in the normal target directory. Each is checked
//! with cella-wasm-host's loader under the module's grant, like the module itself.

use crate::archive::ArchiveEntry;
use crate::cargo;
use crate::modules::{WASM_TARGET, check_module, wasm_path};
use crate::progress::Step;
use crate::shell::Shell;
#[cfg(test)]
use crate::system_manifest::SOURCE;
use crate::system_manifest::SystemPlan;
use crate::workspace::Workspace;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The directory of the built variants, inside the tool's output directory.
pub const VARIANTS_DIRECTORY: &str = "variants";

/// The target directory the variants with features are compiled in.
pub const VARIANTS_TARGET_DIRECTORY: &str = "variants-target";

/// Where the build of `package` with `features` is kept:
/// `<cella directory>/variants/PACKAGE+F1+F2.wasm`, the features sorted and without
/// duplicates, any character other than a letter, digit, `-`, `_` or `.` in a feature written
/// as `%` and its two hex digits (a feature `dep/f` becomes `dep%2Ff`), so two feature sets
/// never share a file.
pub fn variant_path(cella_directory: &Path, package: &str, features: &[String]) -> PathBuf {
    let mut names: Vec<String> = features
        .iter()
        .map(|feature| {
            let mut name = String::new();
            for byte in feature.bytes() {
                if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
                    name.push(char::from(byte));
                } else {
                    name.push_str(&format!("%{byte:02X}"));
                }
            }
            name
        })
        .collect();
    names.sort();
    names.dedup();
    let mut file = package.to_owned();
    for name in names {
        file.push('+');
        file.push_str(&name);
    }
    file.push_str(".wasm");
    cella_directory.join(VARIANTS_DIRECTORY).join(file)
}

/// Splits `--features` values the way cargo does: commas and spaces separate features.
pub fn split_features(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.split([',', ' ']))
        .filter(|feature| !feature.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Builds `package` (release, wasm32) with `features` in `<cella>/variants-target`, copies
/// the result to its [`variant_path`] and returns that path and the bytes.
///
/// # Errors
/// The build fails, or the result cannot be read or copied.
pub fn build_with_features(
    shell: &Shell,
    workspace: &Workspace,
    package: &str,
    features: &[String],
) -> Result<(PathBuf, Vec<u8>)> {
    let cella = workspace.cella_directory();
    let target = cella.join(VARIANTS_TARGET_DIRECTORY);
    let mut command = cargo::cargo_command(&workspace.root, "build");
    command
        .args(["--release", "--target", WASM_TARGET, "--package", package])
        .arg("--target-dir")
        .arg(&target);
    if !features.is_empty() {
        command.arg("--features").arg(features.join(","));
    }
    if !shell.verbose() {
        command.arg("--quiet");
    }
    shell.run(&mut command).map_err(|error| {
        error.context(format!(
            "building {package} with features {}",
            features.join(",")
        ))
    })?;
    let built = wasm_path(&target, package);
    let bytes = std::fs::read(&built)
        .map_err(|error| Error::new(format!("reading {}: {error}", built.display())))?;
    let kept = variant_path(&cella, package, features);
    if let Some(directory) = kept.parent() {
        std::fs::create_dir_all(directory)
            .map_err(|error| Error::new(format!("creating {}: {error}", directory.display())))?;
    }
    std::fs::write(&kept, &bytes)
        .map_err(|error| Error::new(format!("writing {}: {error}", kept.display())))?;
    Ok((kept, bytes))
}

/// The top-level key of the tables.
pub const TABLE: &str = "variant";

/// One `[[variant]]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variant {
    /// The module it replaces (its grant applies).
    pub module: String,
    /// Archive path.
    pub file: String,
    /// Cargo package.
    pub package: String,
    /// Cargo features.
    pub features: Vec<String>,
    /// The WAT source it is compiled from instead of a package, relative to the workspace.
    pub wat: Option<String>,
}

/// Reads the `[[variant]]` tables of `text` (manifest file `source`, one of those `plan` came
/// from).
///
/// # Errors
/// Every problem found, one message each.
pub fn parse(
    text: &str,
    source: &str,
    plan: &SystemPlan,
) -> std::result::Result<Vec<Variant>, Vec<String>> {
    let table: Table = text
        .parse()
        .map_err(|error| vec![format!("{source}: not valid TOML: {error}")])?;
    let mut variants = Vec::new();
    let mut problems = Vec::new();
    let Some(list) = table.get(TABLE) else {
        return Ok(variants);
    };
    let Some(list) = list.as_array() else {
        return Err(vec![format!(
            "{source}: `variant` must be an array of tables: write [[variant]]"
        )]);
    };
    for (index, item) in list.iter().enumerate() {
        let mut say = |message: String| {
            problems.push(format!("{source}: variant #{}: {message}", index + 1));
        };
        let Some(item) = item.as_table() else {
            say("not a table".into());
            continue;
        };
        let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut variant = Variant {
            module: text("module").unwrap_or_default(),
            file: text("file").unwrap_or_default(),
            ..Variant::default()
        };
        let Some(spec) = plan
            .modules
            .iter()
            .find(|module| module.name == variant.module)
        else {
            say(format!(
                "`module = \"{}\"` is not a [[module]] of this file",
                variant.module
            ));
            continue;
        };
        if !variant.file.starts_with("modules/") || !variant.file.ends_with(".wasm") {
            say(format!(
                "`file` must be `modules/NAME.wasm`, found `{}`",
                variant.file
            ));
        }
        if variant.file == spec.archive_file() {
            say(format!(
                "`file` {} is the module's own file; pick another name",
                variant.file
            ));
        }
        variant.package = text("package").unwrap_or_else(|| spec.package.clone());
        variant.wat = text("wat");
        if variant.wat.is_some() && (item.contains_key("package") || item.contains_key("features"))
        {
            say("`wat` stands for `package` and `features`: give one or the other".into());
        }
        match item.get("features") {
            None => {}
            Some(Value::Array(features)) => {
                variant.features = features
                    .iter()
                    .filter_map(|feature| feature.as_str().map(str::to_owned))
                    .collect();
            }
            Some(other) => say(format!(
                "`features` must be an array of strings, found {other}"
            )),
        }
        for key in item.keys() {
            if !matches!(
                key.as_str(),
                "module" | "file" | "package" | "features" | "wat"
            ) {
                say(format!(
                    "unknown key `{key}` (known: module, file, package, features, wat)"
                ));
            }
        }
        variants.push(variant);
    }
    if problems.is_empty() {
        Ok(variants)
    } else {
        Err(problems)
    }
}

/// Builds every variant of the manifest files `sources` (which `plan` came from), checks each
/// under its module's grant, and returns the archive entries.
pub fn build(
    shell: &Shell,
    workspace: &Workspace,
    plan: &SystemPlan,
    sources: &[&str],
) -> Result<Vec<ArchiveEntry>> {
    let mut variants = Vec::new();
    for source in sources {
        let path = workspace.root.join(source);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| Error::new(format!("reading {}: {error}", path.display())))?;
        variants.extend(parse(&text, source, plan).map_err(|problems| {
            Error::new(format!(
                "the system manifest's variants have {} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ))
        })?);
    }
    if variants.is_empty() {
        return Ok(Vec::new());
    }
    let step = Step::start(format!("building {} module variants", variants.len()));
    let mut entries = Vec::new();
    for variant in &variants {
        let (built, bytes) = if let Some(wat) = &variant.wat {
            let path = workspace.root.join(wat);
            let bytes = crate::wat_source::compile(&path)
                .map_err(|error| Error::new(format!("variant {}: {error}", variant.file)))?;
            (path, bytes)
        } else if variant.features.is_empty() {
            let mut command = cargo::cargo_command(&workspace.root, "build");
            command
                .args(["--release", "--target", WASM_TARGET, "--package"])
                .arg(&variant.package);
            if !shell.verbose() {
                command.arg("--quiet");
            }
            shell
                .run(&mut command)
                .map_err(|error| error.context(format!("building variant {}", variant.file)))?;
            let built = wasm_path(&workspace.target_directory, &variant.package);
            let bytes = std::fs::read(&built)
                .map_err(|error| Error::new(format!("reading {}: {error}", built.display())))?;
            (built, bytes)
        } else {
            build_with_features(shell, workspace, &variant.package, &variant.features)
                .map_err(|error| error.context(format!("building variant {}", variant.file)))?
        };
        let spec = plan
            .modules
            .iter()
            .find(|module| module.name == variant.module)
            .ok_or_else(|| Error::new(format!("no module {}", variant.module)))?;
        let (module, _) = check_module(spec, &built, &bytes)
            .map_err(|problem| Error::new(format!("variant {}: {problem}", variant.file)))?;
        crate::progress::message(&format!(
            "variant {} of {}: version {}",
            variant.file, variant.module, module.version
        ));
        entries.push(ArchiveEntry::new(variant.file.clone(), module.bytes));
    }
    step.done();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_set_of_features_has_a_file_of_its_own() {
        let cella = Path::new("/t/cella");
        let path = |features: &[&str]| {
            let features: Vec<String> = features.iter().map(|&f| f.to_owned()).collect();
            variant_path(cella, "cella-uart16550", &features)
        };
        assert_eq!(
            path(&["v2"]),
            Path::new("/t/cella/variants/cella-uart16550+v2.wasm")
        );
        assert_eq!(
            path(&[]),
            Path::new("/t/cella/variants/cella-uart16550.wasm")
        );
        assert_eq!(path(&["b", "a", "b"]), path(&["a", "b"]));
        assert_eq!(
            path(&["a", "b"]),
            Path::new("/t/cella/variants/cella-uart16550+a+b.wasm")
        );
        assert_ne!(path(&["v2"]), path(&["v3"]));
        assert_ne!(
            path(&["a+b"]),
            path(&["a", "b"]),
            "a `+` in a name is not a separator"
        );
        assert_eq!(
            path(&["dep/x"]),
            Path::new("/t/cella/variants/cella-uart16550+dep%2Fx.wasm")
        );
        assert_ne!(
            path(&["dep/x"]),
            path(&["dep_x"]),
            "an escaped character never reads as another feature"
        );
        assert_eq!(
            split_features(&["a,b".into(), "c d".into(), ",".into()]),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn variants_name_a_module_a_file_and_features() {
        let text = r#"
[[module]]
name = "uart16550"
package = "cella-uart16550"
[[variant]]
module = "uart16550"
file = "modules/uart16550-v2.wasm"
features = ["v2"]
"#;
        let plan = SystemPlan::parse(text, SOURCE).unwrap();
        let variants = parse(text, SOURCE, &plan).unwrap();
        assert_eq!(
            variants,
            [Variant {
                module: "uart16550".into(),
                file: "modules/uart16550-v2.wasm".into(),
                package: "cella-uart16550".into(),
                features: vec!["v2".into()],
                wat: None,
            }]
        );
        let bad = r#"
[[module]]
name = "uart16550"
[[variant]]
module = "nosuch"
file = "x"
[[variant]]
module = "uart16550"
file = "modules/uart16550.wasm"
colour = 1
"#;
        let plan = SystemPlan::parse(bad, SOURCE).unwrap();
        let problems = parse(bad, SOURCE, &plan).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("`module = \"nosuch\"` is not a [[module]]"));
        assert!(problems[1].contains("the module's own file"));
        assert!(problems[2].contains("unknown key `colour`"));
    }

    #[test]
    fn a_variant_may_be_written_in_wat_but_not_also_be_a_package() {
        let text = r#"
[[module]]
name = "tally"
wat = "labs/06-hot-swap/tally.wat"
[[variant]]
module = "tally"
file = "modules/tally-v2.wasm"
wat = "labs/06-hot-swap/tally-v2.wat"
[[variant]]
module = "tally"
file = "modules/tally-v3.wasm"
wat = "v3.wat"
features = ["x"]
"#;
        let plan = SystemPlan::parse(text, SOURCE).unwrap();
        let problems = parse(text, SOURCE, &plan).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].contains("variant #2: `wat` stands for `package` and `features`"),
            "{problems:#?}"
        );
        let first = text
            .split("[[variant]]\nmodule = \"tally\"\nfile = \"modules/tally-v3")
            .next()
            .unwrap();
        let variants = parse(first, SOURCE, &plan).unwrap();
        assert_eq!(
            variants[0].wat.as_deref(),
            Some("labs/06-hot-swap/tally-v2.wat")
        );
    }
}
