//! Full validation with `wasmparser` before wasmi sees a module's bytes.
//!
//! wasmi 2.0.0 translates each function while it validates it, and some
//! invalid inputs reach a panic in its translator before its validator
//! refuses them (operators after a function's final `end`: "out of bounds
//! control frame", "out of bounds `StackPos`", an overflow in its operand
//! stack; a code section that declares no functions but has a body: a
//! division by zero). A module that passes here is valid Wasm for exactly the
//! features the runtime's wasmi `Config` enables, so wasmi only ever sees
//! valid modules.

use alloc::string::{String, ToString};
use wasmparser::{
    FuncValidatorAllocations, Operator, Parser, ValidPayload, Validator, WasmFeatures,
};

/// The Wasm features wasmi 2.0.0 accepts under the runtime's `Config`
/// (`Runtime::new`): wasmi's defaults (its `Config::default_features`) with
/// multi-memory and custom page sizes turned off, and without the `memory64`
/// and `simd` cargo features of wasmi, which Cella does not enable.
pub(crate) fn features() -> WasmFeatures {
    let mut features = WasmFeatures::empty();
    for feature in [
        WasmFeatures::MUTABLE_GLOBAL,
        WasmFeatures::MULTI_VALUE,
        WasmFeatures::SATURATING_FLOAT_TO_INT,
        WasmFeatures::SIGN_EXTENSION,
        WasmFeatures::BULK_MEMORY,
        WasmFeatures::REFERENCE_TYPES,
        WasmFeatures::GC_TYPES,
        WasmFeatures::TAIL_CALL,
        WasmFeatures::EXTENDED_CONST,
        WasmFeatures::FLOATS,
    ] {
        features.insert(feature);
    }
    features
}

/// Validates `bytes` completely (every section and every function body),
/// and says whether a function has a store that `rewrite` must change
/// (found in the same pass over the operators).
///
/// # Errors
/// The validator's message, with the offset of the first problem.
pub(crate) fn validate(bytes: &[u8]) -> Result<Validated, String> {
    check(bytes).map_err(|error| error.to_string())
}

/// What a successful validation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validated {
    /// The stores wasmi 2.0.0 might not translate as they are, as (function
    /// body index in the code section, operator index in the body), in
    /// ascending order (the order of the validation pass).
    pub(crate) stores: alloc::vec::Vec<(usize, usize)>,
}

impl Validated {
    /// Whether `rewrite` must run.
    pub(crate) fn needs_rewrite(&self) -> bool {
        !self.stores.is_empty()
    }
}

/// Where each operand on a function's operand stack may have come from, as
/// far as the store rewrite cares: wasmi 2.0.0 panics only when a store's
/// address and value are both a local's value (see rewrite.rs). A constant
/// is never one, and stays a constant until it is popped; everything else
/// may be. Followed operator by operator with the validator's arity and
/// stack height; whenever they disagree, every operand counts as possibly a
/// local (more rewriting, never less).
#[derive(Default)]
struct Operands {
    /// `true`: possibly a local's value; `false`: a constant.
    may_be_local: alloc::vec::Vec<bool>,
}

impl Operands {
    fn top_two_may_be_locals(&self) -> bool {
        let length = self.may_be_local.len();
        length < 2 || (self.may_be_local[length - 1] && self.may_be_local[length - 2])
    }

    fn apply(
        &mut self,
        operator: &Operator<'_>,
        arity: Option<(u32, u32)>,
        before: u32,
        after: u32,
    ) {
        let constant = matches!(
            operator,
            Operator::I32Const { .. }
                | Operator::I64Const { .. }
                | Operator::F32Const { .. }
                | Operator::F64Const { .. }
        );
        let exact = arity.filter(|(pops, pushes)| {
            self.may_be_local.len() == before as usize
                && pops <= &before
                && u64::from(before) - u64::from(*pops) + u64::from(*pushes) == u64::from(after)
        });
        match exact {
            Some((pops, pushes)) => {
                self.may_be_local.truncate((before - pops) as usize);
                for _ in 0..pushes {
                    self.may_be_local.push(!constant);
                }
            }
            None => {
                self.may_be_local.clear();
                self.may_be_local.resize(after as usize, true);
            }
        }
    }
}

fn check(bytes: &[u8]) -> wasmparser::Result<Validated> {
    let features = features();
    let mut validator = Validator::new_with_features(features);
    let mut parser = Parser::new(0);
    parser.set_features(features);
    let mut allocations = FuncValidatorAllocations::default();
    let mut stores = alloc::vec::Vec::new();
    let mut body_index = 0;
    for payload in parser.parse_all(bytes) {
        if let ValidPayload::Func(function, body) = validator.payload(&payload?)? {
            let mut function = function.into_validator(allocations);
            let mut reader = body.get_binary_reader();
            function.read_locals(&mut reader)?;
            reader.set_features(features);
            let mut operands = Operands::default();
            let mut operator_index = 0;
            while !reader.eof() {
                let offset = reader.original_position();
                let operator = reader.read_operator()?;
                if crate::rewrite::affected_store(&operator).is_some()
                    && operands.top_two_may_be_locals()
                {
                    stores.push((body_index, operator_index));
                }
                operator_index += 1;
                let arity = operator.operator_arity(&function.visitor(offset));
                let height_before = function.operand_stack_height();
                function.op(offset, &operator)?;
                operands.apply(
                    &operator,
                    arity,
                    height_before,
                    function.operand_stack_height(),
                );
            }
            function.finish(reader.original_position())?;
            allocations = function.into_allocations();
            body_index += 1;
        }
    }
    Ok(Validated { stores })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> alloc::vec::Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    /// The validator accepts exactly what the runtime's wasmi accepts, one
    /// module per Wasm feature wasmi knows (a feature enabled on one side
    /// only would either refuse valid Cella modules or let wasmi see input
    /// its validator was not asked about).
    #[test]
    fn accepts_exactly_the_features_of_the_runtime_engine() {
        let engine = wasmi::Engine::new(&crate::runtime::engine_config(&crate::Limits::default()));
        let cases: &[(&str, bool, &str)] = &[
            (
                "multi-value",
                true,
                "(func (result i32 i32) i32.const 0 i32.const 1)",
            ),
            (
                "mutable-global",
                true,
                r#"(global (export "g") (mut i32) (i32.const 0))"#,
            ),
            (
                "saturating-float-to-int",
                true,
                "(func (param f32) (result i32) local.get 0 i32.trunc_sat_f32_s)",
            ),
            (
                "sign-extension",
                true,
                "(func (param i32) (result i32) local.get 0 i32.extend8_s)",
            ),
            (
                "bulk-memory",
                true,
                "(memory 1) (func i32.const 0 i32.const 0 i32.const 0 memory.copy)",
            ),
            (
                "reference-types",
                true,
                "(table 1 externref) (func (result externref) ref.null extern)",
            ),
            ("tail-call", true, "(func return_call 0)"),
            (
                "extended-const",
                true,
                "(global i32 (i32.add (i32.const 1) (i32.const 2)))",
            ),
            (
                "floats",
                true,
                "(func (param f64) (result f64) local.get 0 local.get 0 f64.add)",
            ),
            ("multi-memory", false, "(memory 1) (memory 1)"),
            ("memory64", false, "(memory i64 1)"),
            ("simd", false, "(func (result v128) v128.const i64x2 0 0)"),
            ("custom-page-sizes", false, "(memory 1 (pagesize 1))"),
            (
                "wide-arithmetic",
                false,
                "(func (param i64) (result i64 i64) local.get 0 local.get 0 local.get 0 local.get 0 i64.add128)",
            ),
            ("threads", false, "(memory 1 1 shared)"),
            ("exceptions", false, "(tag)"),
            ("gc", false, "(type (struct))"),
            (
                "function-references",
                false,
                "(type $t (func)) (func (param (ref null $t)))",
            ),
        ];
        for (feature, accepted, body) in cases {
            let bytes = wat::parse_str(alloc::format!("(module {body})")).unwrap();
            let ours = validate(&bytes);
            let wasmi = wasmi::Module::new(&engine, &bytes[..]);
            assert_eq!(ours.is_ok(), *accepted, "{feature}: {ours:?}");
            assert_eq!(wasmi.is_ok(), *accepted, "{feature}: wasmi disagrees");
        }
    }

    #[test]
    fn refuses_operators_after_the_final_end() {
        let error = validate(&hex(
            "0061736d01000000010401600000030201000a070105000b03400b",
        ))
        .unwrap_err();
        assert!(
            error.contains("operators remaining after end of function"),
            "{error}"
        );
    }

    /// Modules of one function `() -> ()` whose body has operators after its
    /// final `end` (the 29-byte module of the outside tester's report first).
    /// Bodies of one function `() -> ()` with operators after its final
    /// `end`, and whether wasmi 2.0.0 alone panics on them ("out of bounds
    /// control frame at depth (=0)"); the 29-byte module of the outside
    /// tester's report first.
    pub(crate) const AFTER_END: [(&str, bool); 7] = [
        ("0b03400b", true),         // end loop end
        ("0b0103000b0b", true),     // end nop loop (type 0) end end
        ("0b03400000000b0b", true), // end loop unreachable x3 end end
        ("0b0b", false),            // end end
        ("0b02400b", false),        // end block end
        ("0b1a0b", false),          // end drop end
        ("0b0c000b", false),        // end br 0 end
    ];

    pub(crate) fn after_end_module(operators: &str) -> alloc::vec::Vec<u8> {
        let body = hex(&alloc::format!("00{operators}"));
        let mut code = alloc::vec![1, body.len() as u8];
        code.extend_from_slice(&body);
        let mut module = hex("0061736d01000000010401600000030201000a");
        module.push(code.len() as u8);
        module.extend_from_slice(&code);
        module
    }

    /// Each member panics wasmi 2.0.0 alone (so the validation is what
    /// keeps it from the kernel) and is refused by the validation.
    #[test]
    fn the_after_end_family_panics_wasmi_alone_and_is_refused_here() {
        assert_eq!(
            after_end_module(AFTER_END[0].0),
            hex("0061736d01000000010401600000030201000a070105000b03400b")
        );
        let engine = wasmi::Engine::new(&crate::runtime::engine_config(&crate::Limits::default()));
        let previous = std::panic::take_hook();
        std::panic::set_hook(std::boxed::Box::new(|_| {}));
        for (operators, panics) in AFTER_END {
            let module = after_end_module(operators);
            assert!(validate(&module).is_err(), "{operators}");
            let wasmi = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                wasmi::Module::new(&engine, &module[..]).is_ok()
            }));
            assert_eq!(wasmi.is_err(), panics, "{operators}");
        }
        std::panic::set_hook(previous);
    }

    #[test]
    fn refuses_an_empty_code_section_with_a_body() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        assert!(validate(&module).is_ok());
        module.extend_from_slice(&[10, 1, 0]);
        assert!(validate(&module).is_ok());
        module[9] = 3;
        module.extend_from_slice(&[0, 0]);
        assert!(validate(&module).is_err());
        assert!(validate(b"\0asm\x01\0\0\0\x0a\xec\x3d\x00").is_err());
        assert!(validate(b"").is_err());
    }
}
