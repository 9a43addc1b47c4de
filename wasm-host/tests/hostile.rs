//! Hand-written hostile modules (tests/hostile/*.wat). Each file's first line
//! says how it must end (`;; expect: <phase> <outcome>`); every one must end
//! exactly so, touch no device, and leave the host able to run a good module.

mod common;

use cella_wasm_host::{Delivery, Event, QueueOutbox, Runtime, SimulatedPlatform};
use std::path::Path;

const COUNTER_V1: &str = include_str!("modules/counter_v1.wat");

/// Runs one hostile module through load, start, events, save and (for
/// `swap` expectations) a swap from counter v1; returns "<phase> <outcome>".
fn outcome(
    runtime: &mut common::Host,
    wasm: &[u8],
    expect: &str,
    platform: &SimulatedPlatform,
) -> String {
    let outbox = QueueOutbox::new(16);
    let grant = common::grant();
    let module = match runtime.load("hostile", wasm, &grant) {
        Ok(module) => module,
        Err(error) => {
            assert!(!error.module.is_empty());
            return format!("load {:?}", error.kind);
        }
    };
    if expect.starts_with("swap") {
        let good = wat::parse_str(COUNTER_V1).unwrap();
        let good = runtime.load("counter", &good, &grant).unwrap();
        let mut sandbox = runtime
            .start(&good, platform.clone(), outbox.clone())
            .unwrap();
        let error = runtime.swap(&mut sandbox, &module).unwrap_err();
        assert!(
            sandbox.is_alive(),
            "old instance must survive a failed swap"
        );
        assert_eq!(sandbox.module().version(), "1");
        assert_eq!(
            sandbox.deliver(Event::Message {
                request: 0,
                bytes: b"x"
            }),
            Ok(Delivery::Handled { count: 1 })
        );
        return format!("swap {:?} {:?}", error.stage, error.fault.kind);
    }
    let mut sandbox = match runtime.start(&module, platform.clone(), outbox) {
        Ok(sandbox) => sandbox,
        Err(fault) => {
            assert_eq!(fault.module, module.name());
            return format!("start {:?}", fault.kind);
        }
    };
    let events = [
        ("irq", Event::Irq { line: 4 }),
        (
            "message",
            Event::Message {
                request: 1,
                bytes: b"hello",
            },
        ),
        ("timer", Event::Timer),
    ];
    for (phase, event) in events {
        if let Err(fault) = sandbox.deliver(event) {
            assert!(!sandbox.is_alive());
            return format!("{phase} {:?}", fault.kind);
        }
    }
    match sandbox.save_state() {
        Err(fault) => format!("save {:?}", fault.kind),
        Ok(_) => "ran".to_string(),
    }
}

#[test]
fn every_hostile_module_ends_as_expected_and_the_host_stays_usable() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wat"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} hostile modules", files.len());
    let good = wat::parse_str(COUNTER_V1).unwrap();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix(";; expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be `;; expect: ...`"))
            .trim()
            .to_string();
        let wasm = wat::parse_str(&text).unwrap_or_else(|error| panic!("{name}: {error}"));
        // A fresh runtime per module, with a victim started first so that
        // generation 1 belongs to someone else (see stolen_handle.wat).
        let mut runtime: common::Host = Runtime::new(Default::default());
        let victim_platform = common::platform();
        let good_module = runtime.load("counter", &good, &common::grant()).unwrap();
        let _victim = runtime
            .start(&good_module, victim_platform, QueueOutbox::new(4))
            .unwrap();
        let platform = common::platform();
        let got = outcome(&mut runtime, &wasm, &expect, &platform);
        println!("{name}: {got}");
        if !got.starts_with(&expect) {
            failures.push(format!("{name}: expected `{expect}`, got `{got}`"));
        }
        let touched: Vec<_> = platform
            .accesses()
            .into_iter()
            .filter(|access| !matches!(access, cella_wasm_host::Access::IrqSetEnabled { .. }))
            .collect();
        if !expect.starts_with("swap") && !touched.is_empty() {
            failures.push(format!("{name}: touched the device: {touched:?}"));
        }
        // The host is still fine: a good module starts and handles events.
        let mut fine = runtime
            .start(&good_module, common::platform(), QueueOutbox::new(4))
            .unwrap();
        assert_eq!(
            fine.deliver(Event::Irq { line: 4 }),
            Ok(Delivery::Handled { count: 1 }),
            "{name}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("hostile modules: {} passed", files.len());
}

#[test]
fn garbage_bytes_are_a_load_error() {
    let runtime: common::Host = Runtime::new(Default::default());
    for bytes in [
        &b""[..],
        b"\0asm",
        b"\0asm\x01\0\0\0\x01",
        b"not wasm at all",
    ] {
        let error = runtime
            .load("garbage", bytes, &common::grant())
            .unwrap_err();
        assert_eq!(error.module, "garbage");
        assert!(
            matches!(error.kind, cella_wasm_host::LoadErrorKind::Invalid(_)),
            "{error:?}"
        );
    }
}

/// wasmi 2.0.0 with strict enforced limits divides by the declared function
/// count of a code section of 1000+ bytes without checking it for zero (found
/// by the mutant corpus). The loader rejects such a section before wasmi
/// parses it.
#[test]
fn empty_code_section_with_a_large_body_is_a_load_error_not_a_panic() {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&[10, 0xe9, 0x07, 0]); // code section, 1001 bytes, 0 functions
    bytes.extend_from_slice(&[0; 1000]);
    let runtime: common::Host = Runtime::new(Default::default());
    let error = runtime
        .load("mutant", &bytes, &common::grant())
        .unwrap_err();
    assert!(
        matches!(error.kind, cella_wasm_host::LoadErrorKind::Invalid(_)),
        "{error:?}"
    );
}

/// The same wasmi panic through a code section declared longer than the
/// input (a truncated module, found by the corpus with seed 7).
#[test]
fn truncated_empty_code_section_is_a_load_error_not_a_panic() {
    let mut bytes = b"\0asm\x01\0\0\0".to_vec();
    bytes.extend_from_slice(&[10, 0xec, 0x3d, 0]); // declares 7916 bytes, has 1
    let runtime: common::Host = Runtime::new(Default::default());
    let error = runtime
        .load("mutant", &bytes, &common::grant())
        .unwrap_err();
    assert!(
        matches!(error.kind, cella_wasm_host::LoadErrorKind::Invalid(_)),
        "{error:?}"
    );
}

/// A module whose function has operators after its final `end`: wasmi 2.0.0
/// alone panics on it ("out of bounds control frame at depth (=0)"), and the
/// kernel loads whatever reaches it over the push channel. Refused with a
/// clear message by `Runtime::load` and by the hot-swap `Preparer`, again and
/// again, and the host stays usable.
#[test]
fn operators_after_the_final_end_are_a_load_error_not_a_panic() {
    let modules = [
        "0061736d01000000010401600000030201000a070105000b03400b",
        "0061736d01000000010401600000030201000a090107000b0103000b0b",
        "0061736d01000000010401600000030201000a0b0109000b03400000000b0b",
    ];
    let runtime: common::Host = Runtime::new(Default::default());
    let preparer = runtime.preparer();
    for text in modules {
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect();
        for _ in 0..100 {
            for error in [
                runtime.load("evil", &bytes, &common::grant()).unwrap_err(),
                preparer.load("evil", &bytes, &common::grant()).unwrap_err(),
            ] {
                assert_eq!(error.module, "evil");
                assert!(
                    matches!(error.kind, cella_wasm_host::LoadErrorKind::Invalid(_)),
                    "{error:?}"
                );
                assert!(
                    error
                        .to_string()
                        .starts_with("cannot load module evil: not a valid Wasm module: operators remaining after end of function"),
                    "{error}"
                );
            }
        }
    }
    let good = wat::parse_str(COUNTER_V1).unwrap();
    let good = runtime.load("counter", &good, &common::grant()).unwrap();
    assert_eq!(good.name(), "counter");
}

/// wasmi 2.0.0's translator panics (`unreachable!()`) on an integer store
/// with an offset above 0xffff whose address and value are the same
/// register value (found by the corpus, seed 11 at 100,000 modules). The
/// loader rewrites such stores (wasm-host/src/rewrite.rs): the module loads
/// through `Runtime::load` and the `Preparer`, and the store traps.
#[test]
fn store_offset_translator_panic_is_avoided() {
    let wasm = common::wasm(
        "wasmi-bug",
        "",
        r#"(memory 1)
           (func (export "init") (result i32) (local i32)
             memory.size
             local.tee 0
             local.get 0
             i32.store offset=70000
             i32.const 0)"#,
    );
    let mut runtime: common::Host = Runtime::new(Default::default());
    let prepared = runtime
        .preparer()
        .load("wasmi-bug", &wasm, &common::grant())
        .expect("valid module loads through the preparer");
    assert_eq!(prepared.name(), "wasmi-bug");
    let module = runtime
        .load("wasmi-bug", &wasm, &common::grant())
        .expect("valid module loads");
    let fault = runtime
        .start(&module, common::platform(), QueueOutbox::new(1))
        .err()
        .expect("the store traps");
    assert_eq!(
        fault.kind,
        cella_wasm_host::FaultKind::Trap(cella_wasm_host::TrapCode::MemoryOutOfBounds)
    );
}
