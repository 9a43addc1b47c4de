//! The manifest entry file, the store of installed modules and what a boot takes from it.

use super::*;

/// A fresh, empty directory for test `name`.
fn directory(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "cella-installed-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("test directory");
    directory
}

/// A module named `name` whose own manifest requests `requests` (e.g. `port 0x510 2`).
fn module(name: &str, requests: &str) -> Vec<u8> {
    let requests = requests.replace('\n', "\\n");
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (func (export "init") (result i32) (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname {name}\nversion 1.0.0\n{requests}"))"#
    ))
    .expect("valid WAT")
}

/// The system the store's modules join: `uart` on ports 0x3f8-0x3ff serving `uart`.
fn system() -> Vec<ArchiveEntry> {
    let text = "# Generated\ncella-system 1\nmodule uart modules/uart.wasm\nserve uart\ngrant port 0x3f8 8\n";
    vec![
        ArchiveEntry::new("system.manifest", text),
        ArchiveEntry::new("modules/uart.wasm", module("uart", "")),
    ]
}

const BLINK: &str = "[[module]]\nname = \"blink\"\nserve = [\"blink\"]\nports = [{ base = 0x510, count = 2 }]\nendpoints = [\"uart\"]\nlimits = { queue = 8 }\n";

#[test]
fn an_entry_file_is_one_module_table_and_compiles_to_the_kernels_form() {
    let store = directory("entry");
    let path = store.join("blink.toml");
    std::fs::write(&path, BLINK).unwrap();
    let (spec, text) = read_entry_file(&path).expect("an entry");
    assert_eq!(text, BLINK);
    assert_eq!(
        compiled_entry(&spec),
        "cella-system 1\nmodule blink installed/blink.wasm\nserve blink\ngrant port 0x510 2\ngrant endpoint uart\nlimit queue=8\n"
    );
    for (bad, needle) in [
        (
            "[[module]]\nname = \"a\"\n[[module]]\nname = \"b\"\n",
            "found 2 [[module]]",
        ),
        ("", "found 0 [[module]]"),
        (
            "[[module]]\nname = \"a\"\nports = [{ base = 0xffff, count = 2 }]\n",
            "0xffff",
        ),
        (
            "[push]\ntargets = [\"*\"]\n[[module]]\nname = \"a\"\n",
            "[push] belongs",
        ),
        ("[[module]]\nname = \"a\"\nwings = 2\n", "wings"),
    ] {
        std::fs::write(&path, bad).unwrap();
        let problem = read_entry_file(&path).unwrap_err().to_string();
        assert!(problem.contains(needle), "{bad}: {problem}");
    }
    assert!(read_entry_file(&store.join("missing.toml")).is_err());
    let _ = std::fs::remove_dir_all(store);
}

#[test]
fn a_kept_install_boots_with_the_system_and_what_does_not_fit_is_skipped_with_why() {
    let store = directory("boot");
    keep(&store, "blink", BLINK, &module("blink", "port 0x510 2\n")).unwrap();
    // Conflicts with the system's UART driver.
    let clash = "[[module]]\nname = \"clash\"\nports = [{ base = 0x3f8, count = 1 }]\n";
    keep(&store, "clash", clash, &module("clash", "")).unwrap();
    // Its module asks for more than its entry grants.
    let greedy = "[[module]]\nname = \"greedy\"\n";
    keep(
        &store,
        "greedy",
        greedy,
        &module("greedy", "port 0x600 1\n"),
    )
    .unwrap();
    // Stale: the module file is gone.
    keep(&store, "stale", "[[module]]\nname = \"stale\"\n", b"").unwrap();
    std::fs::remove_file(store.join("stale.wasm")).unwrap();
    // A name the system has.
    keep(
        &store,
        "uart",
        "[[module]]\nname = \"uart\"\n",
        &module("uart", ""),
    )
    .unwrap();
    // Serves what `blink` (added before it, in name order) serves.
    let twice = "[[module]]\nname = \"twice\"\nserve = [\"blink\"]\n";
    keep(&store, "twice", twice, &module("twice", "")).unwrap();

    let mut entries = system();
    let additions = add_to_archive(&store, &mut entries).expect("added");
    assert_eq!(additions.added, ["blink"]);
    let skipped = additions.skipped.join("\n");
    assert_eq!(additions.skipped.len(), 5, "{skipped}");
    for needle in [
        "clash: its entry does not fit the system: module `uart` and module `clash` are both granted ports 0x3f8..0x3f9",
        "greedy: greedy would be refused",
        "stale: reading",
        "uart: its entry does not fit the system: module `uart` is listed twice",
        "twice: its entry does not fit the system: endpoint `blink` is served by 2",
    ] {
        assert!(skipped.contains(needle), "`{needle}` in:\n{skipped}");
    }
    let manifest_text = String::from_utf8(entries[0].bytes.clone()).unwrap();
    let manifest = SystemManifest::parse(&manifest_text).expect("a valid system");
    let names: Vec<&str> = manifest
        .modules
        .iter()
        .map(|plan| plan.name.as_str())
        .collect();
    assert_eq!(names, ["uart", "blink"]);
    assert!(manifest_text.starts_with("# Generated\n# With the modules installed"));
    let blink = entries
        .iter()
        .find(|entry| entry.name == "installed/blink.wasm")
        .expect("the module in the archive");
    assert_eq!(blink.bytes, module("blink", "port 0x510 2\n"));
    let _ = std::fs::remove_dir_all(store);
}

#[test]
fn a_push_of_an_installed_module_updates_the_store_and_others_leave_it_alone() {
    let store = directory("update");
    assert!(
        !update(&store, "blink", b"v2").unwrap(),
        "nothing installed"
    );
    assert!(!store.join("blink.wasm").exists());
    keep(&store, "blink", BLINK, b"v1").unwrap();
    for round in 0..20 {
        let bytes = format!("v{round}");
        assert!(update(&store, "blink", bytes.as_bytes()).unwrap());
        assert_eq!(
            std::fs::read(store.join("blink.wasm")).unwrap(),
            bytes.as_bytes()
        );
    }
    assert_eq!(
        std::fs::read_to_string(store.join("blink.toml")).unwrap(),
        BLINK
    );
    let files = std::fs::read_dir(&store).unwrap().count();
    assert_eq!(files, 2, "no temporary file is left behind");
    // An empty or missing store adds nothing.
    let mut entries = system();
    let before = entries.clone();
    let additions = add_to_archive(&store.join("none"), &mut entries).unwrap();
    assert_eq!(additions, BootAdditions::default());
    assert_eq!(entries, before);
    let _ = std::fs::remove_dir_all(store);
}

#[test]
fn a_removed_install_is_forgotten_and_others_are_left_alone() {
    let store = std::env::temp_dir().join(format!("cella-forget-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    keep(&store, "blink", "entry", b"\0asm").unwrap();
    keep(&store, "lamp", "entry", b"\0asm").unwrap();
    assert!(forget(&store, "blink").unwrap());
    assert!(!store.join("blink.toml").exists() && !store.join("blink.wasm").exists());
    assert!(store.join("lamp.toml").exists() && store.join("lamp.wasm").exists());
    assert!(!forget(&store, "blink").unwrap(), "forgotten once");
    assert!(!forget(&store, "pci").unwrap(), "never installed");
    let _ = std::fs::remove_dir_all(&store);
}
