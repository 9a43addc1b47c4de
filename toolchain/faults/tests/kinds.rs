//! Each fault kind changes the code as it says, and the result validates.

use cella_faults::{FaultKind, InjectError, inject};
use wasmparser::{Parser, Payload};

const FIXTURE: &str = r#"
(module
  (import "cella" "irq_ack" (func $ack (param i32) (result i32)))
  (import "cella" "log" (func $log (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func $init (export "init") (result i32)
    (local $a i32) (local $b i32)
    i32.const 5
    local.set $a
    local.get $a
    local.tee $b
    i32.const 16
    i32.store offset=4
    i32.const 8
    i32.load
    local.get $b
    i32.add
    global.set $g
    block
      local.get $a
      br_if 0
      i32.const 0
      i32.const 4
      call $log
      drop
    end
    local.get $a
    if
      nop
    end
    i32.const 0)
  (func $on_irq (export "on_irq") (param $handle i32)
    local.get $handle
    call $ack
    drop)
  (func $save (export "save_state") (result i64)
    i64.const 0x0000000400000010)
  (@custom "cella.manifest" "cella 1\nname fixture\n"))
"#;

const IMPORTS: usize = 2;

/// Each defined function's operators as text, and the export `save_state`'s index.
fn read(bytes: &[u8]) -> (Vec<Vec<String>>, Option<u32>, bool) {
    let mut bodies = Vec::new();
    let mut save_state = None;
    let mut manifest = false;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.expect("readable") {
            Payload::CodeSectionEntry(body) => {
                let mut reader = body.get_operators_reader().expect("operators");
                let mut operators = Vec::new();
                while !reader.eof() {
                    operators.push(format!("{:?}", reader.read().expect("operator")));
                }
                bodies.push(operators);
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.expect("export");
                    if export.name == "save_state" {
                        save_state = Some(export.index);
                    }
                }
            }
            Payload::CustomSection(section) => manifest |= section.name() == "cella.manifest",
            _ => {}
        }
    }
    (bodies, save_state, manifest)
}

struct Outcome {
    before: Vec<String>,
    after: Vec<String>,
    all_after: Vec<Vec<String>>,
}

/// Injects `kind` with `seed`, checks validity, and returns the changed function before and after.
fn injected(kind: FaultKind, seed: u64) -> Outcome {
    let original = wat::parse_str(FIXTURE).expect("fixture");
    let injection = inject(&original, kind, seed).expect("injected");
    wasmparser::Validator::new()
        .validate_all(&injection.bytes)
        .expect("the mutated module validates");
    let (before, _, _) = read(&original);
    let (after, _, manifest) = read(&injection.bytes);
    assert!(manifest, "the manifest section is kept");
    let function = injection.function as usize - IMPORTS;
    Outcome {
        before: before.get(function).cloned().unwrap_or_default(),
        after: after[function].clone(),
        all_after: after,
    }
}

/// Operators in `after` that are not where they were in `before`: (removed, inserted)
/// after trimming the common prefix and suffix.
fn difference(before: &[String], after: &[String]) -> (Vec<String>, Vec<String>) {
    let prefix = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    let suffix = before[prefix..]
        .iter()
        .rev()
        .zip(after[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (
        before[prefix..before.len() - suffix].to_vec(),
        after[prefix..after.len() - suffix].to_vec(),
    )
}

const SEEDS: u64 = 40;

#[test]
fn destination_operand_writes_another_local_of_the_same_type() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::DestinationOperand, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert_eq!((removed.len(), inserted.len()), (1, 1), "seed {seed}");
        let kind = |text: &str| text.split(' ').next().unwrap_or("").to_string();
        assert!(removed[0].starts_with("LocalSet") || removed[0].starts_with("LocalTee"));
        assert_eq!(kind(&removed[0]), kind(&inserted[0]));
        assert_ne!(removed[0], inserted[0]);
    }
}

#[test]
fn source_operand_reads_another_local_or_flips_one_constant_bit() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::SourceOperand, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert_eq!((removed.len(), inserted.len()), (1, 1), "seed {seed}");
        let old = &removed[0];
        assert!(
            old.starts_with("LocalGet")
                || old.starts_with("I32Const")
                || old.starts_with("I64Const"),
            "{old}"
        );
        assert_ne!(old, &inserted[0]);
    }
}

#[test]
fn pointer_corrupted_flips_a_load_address_bit_or_moves_a_store_offset() {
    let mut loads = 0;
    let mut stores = 0;
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::PointerCorrupted, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        if removed.len() == 1 && removed[0].starts_with("I32Store") {
            assert_eq!(inserted.len(), 1);
            assert!(inserted[0].starts_with("I32Store") && inserted[0] != removed[0]);
            stores += 1;
        } else {
            assert!(removed.is_empty(), "seed {seed}: {removed:?}");
            assert_eq!(inserted.len(), 2, "seed {seed}: {inserted:?}");
            assert!(inserted[0].starts_with("I32Const") && inserted[1] == "I32Xor");
            loads += 1;
        }
    }
    assert!(loads > 0 && stores > 0, "{loads} loads, {stores} stores");
}

#[test]
fn instruction_deleted_leaves_drops_and_zeroes_in_its_place() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::InstructionDeleted, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert!(!removed.is_empty(), "seed {seed}: nothing removed");
        assert!(
            inserted
                .iter()
                .all(|operator| operator == "Drop" || operator.contains("Const { value: 0")),
            "seed {seed}: {removed:?} -> {inserted:?}"
        );
    }
}

#[test]
fn branch_inverted_negates_the_condition() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::BranchInverted, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert!(removed.is_empty());
        assert_eq!(inserted, vec![String::from("I32Eqz")], "seed {seed}");
        let at = outcome
            .after
            .iter()
            .position(|operator| operator == "I32Eqz")
            .unwrap();
        let next = &outcome.after[at + 1];
        assert!(next.starts_with("BrIf") || next.starts_with("If"), "{next}");
    }
}

#[test]
fn loop_injected_is_an_endless_loop() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::LoopInjected, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert!(removed.is_empty());
        // The three inserted operators, possibly rotated by an equal neighbour.
        assert_eq!(inserted.len(), 3, "seed {seed}: {inserted:?}");
        let text = outcome.after.join(" | ");
        assert!(
            text.contains("Loop { blockty: Empty } | Br { relative_depth: 0 } | End"),
            "seed {seed}"
        );
    }
}

#[test]
fn random_trap_inserts_one_unreachable() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::RandomTrap, seed);
        let count = |operators: &[String]| operators.iter().filter(|o| *o == "Unreachable").count();
        assert_eq!(
            count(&outcome.after),
            count(&outcome.before) + 1,
            "seed {seed}"
        );
        assert_eq!(outcome.after.len(), outcome.before.len() + 1);
    }
}

#[test]
fn call_argument_corrupted_flips_a_bit_of_the_last_argument() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::CallArgumentCorrupted, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert!(removed.is_empty());
        assert_eq!(inserted.len(), 2, "seed {seed}");
        assert!(inserted[0].starts_with("I32Const") && inserted[1] == "I32Xor");
        let at = outcome
            .after
            .iter()
            .position(|operator| operator == "I32Xor")
            .unwrap();
        assert!(outcome.after[at + 1].starts_with("Call"));
        let value: i64 = inserted[0]
            .trim_start_matches("I32Const { value: ")
            .trim_end_matches(" }")
            .parse()
            .unwrap();
        assert_eq!((value as u32).count_ones(), 1, "one bit: {value}");
    }
}

#[test]
fn host_result_ignored_replaces_the_result_by_success() {
    for seed in 0..SEEDS {
        let outcome = injected(FaultKind::HostResultIgnored, seed);
        let (removed, inserted) = difference(&outcome.before, &outcome.after);
        assert!(removed.is_empty());
        assert_eq!(inserted.len(), 2, "seed {seed}: {inserted:?}");
        let at = outcome
            .after
            .iter()
            .enumerate()
            .position(|(index, operator)| {
                operator.starts_with("Call")
                    && outcome
                        .after
                        .get(index + 1)
                        .is_some_and(|next| next == "Drop")
                    && outcome
                        .after
                        .get(index + 2)
                        .is_some_and(|next| next == "I32Const { value: 0 }")
            });
        assert!(at.is_some(), "seed {seed}: {:?}", outcome.after);
    }
}

#[test]
fn irq_not_acknowledged_removes_every_call_to_irq_ack() {
    let outcome = injected(FaultKind::IrqNotAcknowledged, 7);
    let original = wat::parse_str(FIXTURE).unwrap();
    let (before, _, _) = read(&original);
    let ack = "Call { function_index: 0 }";
    assert!(before.iter().flatten().any(|operator| operator == ack));
    assert!(
        !outcome
            .all_after
            .iter()
            .flatten()
            .any(|operator| operator == ack)
    );
    let on_irq = &outcome.all_after[1];
    assert_eq!(
        on_irq,
        &[
            "LocalGet { local_index: 0 }",
            "Drop",
            "I32Const { value: 0 }",
            "Drop",
            "End"
        ]
    );
}

#[test]
fn irq_not_acknowledged_does_not_apply_without_irq_ack() {
    let module =
        wat::parse_str(r#"(module (func (export "init") (result i32) i32.const 0))"#).unwrap();
    assert_eq!(
        inject(&module, FaultKind::IrqNotAcknowledged, 1).unwrap_err(),
        InjectError::NotApplicable
    );
}

#[test]
fn state_corrupted_on_save_wraps_save_state() {
    for seed in 0..SEEDS {
        let original = wat::parse_str(FIXTURE).unwrap();
        let injection = inject(&original, FaultKind::StateCorruptedOnSave, seed).unwrap();
        wasmparser::Validator::new()
            .validate_all(&injection.bytes)
            .unwrap();
        let (before, old_export, _) = read(&original);
        let (after, new_export, _) = read(&injection.bytes);
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(&after[..before.len()], &before[..]);
        let wrapper = new_export.unwrap();
        assert_eq!(wrapper as usize, IMPORTS + before.len());
        let body = &after[before.len()];
        assert_eq!(
            body[0],
            format!("Call {{ function_index: {} }}", old_export.unwrap())
        );
        assert!(body.iter().any(|operator| operator == "I32Xor"));
        assert!(
            body.iter()
                .any(|operator| operator.starts_with("I32Store8"))
        );
    }
}

#[test]
fn every_kind_is_deterministic_per_seed_and_varies_across_seeds() {
    let original = wat::parse_str(FIXTURE).unwrap();
    for kind in FaultKind::ALL {
        let first = inject(&original, kind, 3).unwrap().bytes;
        assert_eq!(first, inject(&original, kind, 3).unwrap().bytes, "{kind}");
        let distinct: std::collections::BTreeSet<Vec<u8>> = (0..SEEDS)
            .map(|seed| inject(&original, kind, seed).unwrap().bytes)
            .collect();
        if kind != FaultKind::IrqNotAcknowledged {
            assert!(distinct.len() > 1, "{kind}: one mutant for {SEEDS} seeds");
        }
        assert!(!distinct.contains(&original), "{kind}: unchanged module");
    }
}

#[test]
fn unreadable_input_is_an_error() {
    assert!(matches!(
        inject(b"\0asm\x01\0\0\0\x01", FaultKind::RandomTrap, 0),
        Err(InjectError::Unreadable(_))
    ));
}
