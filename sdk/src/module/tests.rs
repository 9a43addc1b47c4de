//! The macro's manifest: the version from Cargo.toml or given, joined at compile time.

use super::entry::{check_version, join_parts, joined_length};

/// A module declared without a version: it gets this crate's (`cella-sdk`'s) version.
/// (The SDK denies `unsafe_code`; a module crate expanding the macro does not see the
/// lint, see the macro's documentation.)
#[allow(unsafe_code)]
mod versioned_by_cargo {
    use crate::{Module, Result};

    pub struct Plain;

    impl Module for Plain {
        type Capabilities = Capabilities;

        fn init(capabilities: Capabilities) -> Result<Plain> {
            let _device = capabilities.device;
            Ok(Plain)
        }
    }

    crate::module! {
        name: "plain",
        module: Plain,
        capabilities: {
            device: port(0x2e8, 8),
        },
    }
}

#[test]
fn the_version_comes_from_cargo_toml_unless_given() {
    assert_eq!(versioned_by_cargo::CELLA_VERSION, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        versioned_by_cargo::CELLA_MANIFEST,
        concat!(
            "cella 1\nname plain\nversion ",
            env!("CARGO_PKG_VERSION"),
            "\nport 0x2e8 8\n"
        )
    );
    let manifest = cella_abi::Manifest::parse(versioned_by_cargo::CELLA_MANIFEST).unwrap();
    assert_eq!(manifest.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest.capability_count, 1);
}

#[test]
fn manifest_parts_are_joined_whole() {
    const PARTS: [&str; 3] = ["cella 1\nname x\nversion ", "2.0.0-rc1", "\nstate 2\n"];
    const BYTES: [u8; joined_length(&PARTS)] = join_parts(&PARTS);
    assert_eq!(&BYTES, b"cella 1\nname x\nversion 2.0.0-rc1\nstate 2\n");
    check_version("2.0.0-rc1+build.5");
    let refused = |version: &'static str| std::panic::catch_unwind(|| check_version(version));
    for bad in ["", "1.0 beta", "1.0\n", "1.0#x", &"9".repeat(65)] {
        let bad: &'static str = Box::leak(bad.to_owned().into_boxed_str());
        assert!(refused(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(refused(Box::leak("9".repeat(64).into_boxed_str())).is_ok());
}

/// A module that keeps the answers to its calls (driven through the entry
/// functions the macro's exports call; a second `module!` in this test
/// binary would export `init` twice).
mod calling {
    use crate::{AcquireCapabilities, ErrorCode, Module, Reply, Result};

    pub struct NoCapabilities;

    impl AcquireCapabilities for NoCapabilities {
        fn acquire() -> Result<NoCapabilities> {
            Ok(NoCapabilities)
        }
    }

    #[derive(Default)]
    pub struct Calling {
        pub answers: Vec<(u32, Result<usize>)>,
    }

    impl Module for Calling {
        type Capabilities = NoCapabilities;

        fn init(_capabilities: NoCapabilities) -> Result<Calling> {
            Ok(Calling::default())
        }

        fn on_reply(&mut self, reply: Reply) -> Result<()> {
            self.answers.push((reply.call().raw(), reply.outcome()));
            if reply.outcome().is_err() {
                return Err(ErrorCode::Closed);
            }
            Ok(())
        }
    }
}

#[test]
fn on_reply_hands_each_answer_to_the_module() {
    use super::entry;
    use crate::Slot;
    let slot: Slot<Option<calling::Calling>> = Slot::new(None);
    // Before `init` there is no module: the answer is reported, not lost in a panic.
    entry::on_reply(&slot, 0x0104, 0, 0);
    assert_eq!(entry::init(&slot), 0);
    entry::on_reply(&slot, 0x0105, 0, 12);
    entry::on_reply(&slot, 0x0106, crate::ErrorCode::TimedOut.code(), 0);
    let answers = slot
        .with(|module| module.as_ref().unwrap().answers.clone())
        .unwrap();
    assert_eq!(
        answers,
        [(0x0105, Ok(12)), (0x0106, Err(crate::ErrorCode::TimedOut))]
    );
}

#[test]
fn the_macro_exports_on_reply() {
    let export: extern "C" fn(i32, i32, i32) = versioned_by_cargo::on_reply;
    // `Plain` keeps the default handler, which logs and returns.
    export(1, 0, 0);
}
