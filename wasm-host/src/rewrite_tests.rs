//! The store rewrite, store by store: the rewritten module, run in wasmi
//! 2.0.0, must do exactly what the Wasm spec says the original does (checked
//! against a model of one store: bytes written or an out-of-bounds trap with
//! memory untouched), and exactly what the original does in wasmi wherever
//! wasmi can translate the original.

use super::rewrite;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};
use wasmi::{Engine, Instance, Linker, Memory, Module, Store, Val};

const MEMORY_BYTES: u64 = 2 * 65536;
const OFFSETS: [u64; 6] = [
    0x1_0000,
    0x1_0001,
    70_000,
    0x1_fff8,
    0xffff_fff0,
    0xffff_ffff,
];

/// One Wasm store: its operator, width in bytes and value type.
struct StoreKind {
    operator: &'static str,
    width: u64,
    value: &'static str,
}

const STORES: [StoreKind; 9] = [
    StoreKind {
        operator: "i32.store",
        width: 4,
        value: "i32",
    },
    StoreKind {
        operator: "i32.store8",
        width: 1,
        value: "i32",
    },
    StoreKind {
        operator: "i32.store16",
        width: 2,
        value: "i32",
    },
    StoreKind {
        operator: "i64.store",
        width: 8,
        value: "i64",
    },
    StoreKind {
        operator: "i64.store8",
        width: 1,
        value: "i64",
    },
    StoreKind {
        operator: "i64.store16",
        width: 2,
        value: "i64",
    },
    StoreKind {
        operator: "i64.store32",
        width: 4,
        value: "i64",
    },
    StoreKind {
        operator: "f32.store",
        width: 4,
        value: "f32",
    },
    StoreKind {
        operator: "f64.store",
        width: 8,
        value: "f64",
    },
];

/// How the store gets its operands: `run(address, value)` has locals
/// 2 (i32) and 3 (the value type).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pattern {
    /// `local.get 0 local.get 1`: wasmi translates the original.
    Parameters,
    /// Address and value from `local.tee 2 local.get 2` after a computed
    /// address (`x & x`; the value is the address, i32 values only): rustc's
    /// `(*d).me = d`.
    SameLocal,
    /// The same through a frame pointer from `global.get $sp`.
    FramePointer,
    /// Address and value each from a `local.tee`.
    BothTeed,
}

fn body(pattern: Pattern, store: &StoreKind, offset: u64) -> String {
    let operands = match pattern {
        Pattern::Parameters => "local.get 0 local.get 1",
        Pattern::SameLocal => "local.get 0 local.get 0 i32.and local.tee 2 local.get 2",
        Pattern::FramePointer => {
            "local.get 0 global.set $sp global.get $sp local.tee 2 local.get 2"
        }
        Pattern::BothTeed => "local.get 0 local.tee 2 local.get 1 local.tee 3",
    };
    let value = store.value;
    format!(
        r#"(module
             (memory (export "memory") 2 2)
             (global $sp (mut i32) (i32.const 0))
             (func (export "run") (param i32 {value}) (local i32 {value})
               {operands} {} offset={offset}))"#,
        store.operator
    )
}

fn engine() -> Engine {
    Engine::new(&crate::runtime::engine_config(&crate::Limits::default()))
}

/// Whether wasmi 2.0.0 panics translating `bytes`.
fn wasmi_panics(engine: &Engine, bytes: &[u8]) -> bool {
    let previous = std::panic::take_hook();
    std::panic::set_hook(std::boxed::Box::new(|_| {}));
    let outcome = catch_unwind(AssertUnwindSafe(|| Module::new(engine, bytes).is_ok()));
    std::panic::set_hook(previous);
    outcome.is_err()
}

fn value_of(store: &StoreKind, bits: u64) -> Val {
    match store.value {
        "i32" => Val::I32(bits as u32 as i32),
        "i64" => Val::I64(bits as i64),
        "f32" => Val::F32(wasmi::F32::from_bits(bits as u32)),
        _ => Val::F64(wasmi::F64::from_bits(bits)),
    }
}

/// Runs `run(address, value)` in a fresh instance: the memory afterwards, or
/// the trap's message.
fn execute(engine: &Engine, module: &Module, address: u32, value: Val) -> Result<Vec<u8>, String> {
    let mut store = Store::new(engine, ());
    store.set_fuel(1_000).unwrap();
    let instance: Instance = Linker::new(engine)
        .instantiate_and_start(&mut store, module)
        .unwrap();
    let run = instance.get_func(&store, "run").unwrap();
    let memory: Memory = instance.get_memory(&store, "memory").unwrap();
    run.call(&mut store, &[Val::I32(address as i32), value], &mut [])
        .map_err(|error| error.to_string())?;
    Ok(memory.data(&store).to_vec())
}

/// The spec's store: little-endian low `width` bytes of the value at
/// address + offset, or a trap that leaves memory untouched.
fn model(store: &StoreKind, address: u32, offset: u64, bits: u64) -> Result<Vec<u8>, String> {
    let mut memory = vec![0u8; MEMORY_BYTES as usize];
    let effective = u64::from(address) + offset;
    if effective + store.width > MEMORY_BYTES {
        return Err("out of bounds memory access".to_string());
    }
    let start = effective as usize;
    let bytes = bits.to_le_bytes();
    memory[start..start + store.width as usize].copy_from_slice(&bytes[..store.width as usize]);
    Ok(memory)
}

fn addresses(offset: u64, width: u64) -> Vec<u32> {
    let mut list = vec![0, 1, 7, 0x7fff_ffff, 0xffff_fff8, u32::MAX];
    let last = MEMORY_BYTES as i64 - offset as i64 - width as i64;
    for delta in [-3, -1, 0, 1, 2] {
        if let Ok(address) = u32::try_from(last + delta) {
            list.push(address);
        }
    }
    list
}

#[test]
fn rewritten_stores_match_the_spec_and_the_original_everywhere() {
    let engine = engine();
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let mut panicked_before = Vec::new();
    let mut cases = 0;
    for store in &STORES {
        let integer = !store.value.starts_with('f');
        for pattern in [
            Pattern::Parameters,
            Pattern::SameLocal,
            Pattern::FramePointer,
            Pattern::BothTeed,
        ] {
            let same_value = matches!(pattern, Pattern::SameLocal | Pattern::FramePointer);
            if same_value && store.value != "i32" {
                continue;
            }
            for offset in OFFSETS {
                let original = wat::parse_str(body(pattern, store, offset)).unwrap();
                let label = format!("{} {pattern:?} offset={offset:#x}", store.operator);
                let original_panics = wasmi_panics(&engine, &original);
                if original_panics {
                    panicked_before.push(label.clone());
                }
                let validated = crate::validate::validate(&original).unwrap();
                assert_eq!(
                    validated.needs_rewrite(),
                    integer,
                    "{label}: flagged or not"
                );
                let rewritten = rewrite(&original, &validated).unwrap();
                assert_eq!(rewritten.is_some(), integer, "{label}: rewritten or not");
                let rewritten = rewritten.unwrap_or_else(|| original.clone());
                crate::validate::validate(&rewritten).unwrap();
                let module = Module::new(&engine, &rewritten[..]).unwrap();
                let original_module =
                    (!original_panics).then(|| Module::new(&engine, &original[..]).unwrap());
                for address in addresses(offset, store.width) {
                    random ^= random << 13;
                    random ^= random >> 7;
                    random ^= random << 17;
                    let bits = if same_value {
                        u64::from(address)
                    } else {
                        random
                    };
                    let value = value_of(store, bits);
                    let got = execute(&engine, &module, address, value.clone());
                    let want = model(store, address, offset, bits);
                    assert_eq!(
                        got.as_ref()
                            .map_err(|error| error.contains("out of bounds")),
                        want.as_ref().map_err(|_| true),
                        "{label} address={address:#x}"
                    );
                    if let Some(original_module) = &original_module {
                        let before = execute(&engine, original_module, address, value);
                        assert_eq!(got, before, "{label} address={address:#x}: original");
                    }
                    cases += 1;
                }
            }
        }
    }
    std::println!("{cases} stores compared; wasmi 2.0.0 panicked on the originals of:");
    for label in &panicked_before {
        std::println!("  {label}");
    }
    // The rewrite is needed: the rustc pattern and the frame-pointer pattern
    // panic unrewritten, for every 32-bit integer store.
    for operator in ["i32.store", "i32.store8", "i32.store16"] {
        for pattern in ["SameLocal", "FramePointer"] {
            assert!(
                panicked_before
                    .iter()
                    .any(|label| label.starts_with(&format!("{operator} {pattern}"))),
                "{operator} {pattern} did not panic unrewritten"
            );
        }
    }
}

/// A store whose address or value is a constant cannot have both operands in
/// wasmi's register (rustc's stores to statics: `i32.const 0` plus an offset
/// past the shadow stack): validation does not ask for a rewrite, also when
/// the constant sits below other operands or a block.
#[test]
fn stores_with_a_constant_operand_are_left_alone() {
    for body in [
        "i32.const 0 local.get 0 i32.store offset=0x40000",
        "local.get 0 i32.const 7 i32.store8 offset=0x40000",
        "i32.const 0 local.get 0 local.get 0 i32.add i32.store offset=0x40000",
        "i32.const 0 block local.get 0 drop end local.get 0 i64.extend_i32_u i64.store offset=0x40000",
    ] {
        let wasm = wat::parse_str(format!(
            "(module (memory 8) (func (param i32) (local i32) {body}))"
        ))
        .unwrap();
        let validated = crate::validate::validate(&wasm).unwrap();
        assert!(!validated.needs_rewrite(), "{body}");
        let engine = engine();
        assert!(!wasmi_panics(&engine, &wasm), "{body}");
    }
    // The same with a local as the address is rewritten.
    let wasm = wat::parse_str(
        "(module (memory 8) (func (param i32) local.get 0 local.get 0 i32.store offset=0x40000))",
    )
    .unwrap();
    assert!(crate::validate::validate(&wasm).unwrap().needs_rewrite());
}

#[test]
fn modules_without_affected_stores_are_not_copied() {
    let small_offset = wat::parse_str(
        "(module (memory 1) (func (param i32) local.get 0 local.tee 0 local.get 0 i32.store offset=65535))",
    )
    .unwrap();
    let validated = crate::validate::validate(&small_offset).unwrap();
    assert_eq!(rewrite(&small_offset, &validated), Ok(None));
}

#[test]
fn custom_sections_and_other_functions_survive_byte_for_byte() {
    let original = wat::parse_str(
        r#"(module
             (@custom "cella.manifest" "cella 1\nname x\n")
             (memory 1)
             (func $untouched (result i32) i32.const 42)
             (func (param i32) (local i64)
               local.get 0 local.tee 0 local.get 0 i32.store offset=70000))"#,
    )
    .unwrap();
    let validated = crate::validate::validate(&original).unwrap();
    let rewritten = rewrite(&original, &validated).unwrap().unwrap();
    let sections = |bytes: &[u8]| -> Vec<(u8, Vec<u8>)> {
        wasmparser::Parser::new(0)
            .parse_all(bytes)
            .filter_map(|payload| payload.unwrap().as_section())
            .map(|(id, range)| (id, bytes[range].to_vec()))
            .collect()
    };
    let before = sections(&original);
    let after = sections(&rewritten);
    assert_eq!(before.len(), after.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.0, new.0);
        if old.0 != 10 {
            assert_eq!(old, new, "section {} changed", old.0);
        }
    }
    // The untouched function's body is copied: the code section starts with it.
    let code = &after.iter().find(|section| section.0 == 10).unwrap().1;
    assert!(
        code.windows(4)
            .any(|window| window == [0x00, 0x41, 0x2a, 0x0b])
    );
}
