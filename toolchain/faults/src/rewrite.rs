//! Writes the module again with a plan's edits, through `wasm-encoder`'s
//! re-encoder: every section is copied as it was (custom sections included)
//! except the edited function bodies, and for a `save_state` wrapper the
//! function, code and export sections.

use crate::plan::{Plan, SaveWrapper};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction,
};

struct Rewriter<'p, 'a> {
    plan: &'p Plan<'a>,
    /// Defined functions seen so far in the code section.
    next_body: usize,
    /// Defined functions in the module (the wrapper's index follows them).
    defined: u32,
    imported: u32,
}

impl Reencode for Rewriter<'_, '_> {
    type Error = core::convert::Infallible;

    fn parse_function_section(
        &mut self,
        functions: &mut FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_function_section(self, functions, section)?;
        if let Some(wrapper) = &self.plan.save_wrapper {
            functions.function(wrapper.type_index);
        }
        Ok(())
    }

    fn parse_export(
        &mut self,
        exports: &mut ExportSection,
        export: wasmparser::Export<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        if self.plan.save_wrapper.is_some()
            && export.kind == wasmparser::ExternalKind::Func
            && export.name == "save_state"
        {
            exports.export(export.name, ExportKind::Func, self.imported + self.defined);
            return Ok(());
        }
        reencode::utils::parse_export(self, exports, export)
    }

    fn parse_code_section(
        &mut self,
        code: &mut CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        reencode::utils::parse_code_section(self, code, section)?;
        if let Some(wrapper) = &self.plan.save_wrapper {
            code.function(&save_wrapper_body(wrapper));
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        body: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error<Self::Error>> {
        let defined = self.next_body;
        self.next_body += 1;
        if !self
            .plan
            .edits
            .keys()
            .any(|(function, _)| *function == defined)
        {
            return reencode::utils::parse_function_body(self, code, body);
        }
        let mut function = self.new_function_with_parsed_locals(&body)?;
        let mut reader = body.get_operators_reader()?;
        let mut index = 0;
        while !reader.eof() {
            let operator = reader.read()?;
            match self.plan.edits.get(&(defined, index)) {
                Some(replacement) => {
                    for operator in replacement {
                        function.instruction(&self.instruction(operator.clone())?);
                    }
                }
                None => {
                    function.instruction(&self.instruction(operator)?);
                }
            }
            index += 1;
        }
        code.function(&function);
        Ok(())
    }
}

/// `save_state` again, then one byte of the blob it returned flipped:
/// `(length << 32) | pointer`, byte `pointer + byte % length` when `length > 0`.
fn save_wrapper_body(wrapper: &SaveWrapper) -> Function {
    use wasm_encoder::{MemArg, ValType};
    const BLOB: u32 = 0;
    const ADDRESS: u32 = 1;
    let byte = MemArg {
        offset: 0,
        align: 0,
        target: wasm_encoder::MemArgTarget::Memory(0),
        ordering: None,
    };
    let mut function = Function::new([(1, ValType::I64), (1, ValType::I32)]);
    let length = [
        Instruction::LocalGet(BLOB),
        Instruction::I64Const(32),
        Instruction::I64ShrU,
        Instruction::I32WrapI64,
    ];
    function.instruction(&Instruction::Call(wrapper.original));
    function.instruction(&Instruction::LocalSet(BLOB));
    for instruction in &length {
        function.instruction(instruction);
    }
    function.instruction(&Instruction::If(wasm_encoder::BlockType::Empty));
    function.instruction(&Instruction::LocalGet(BLOB));
    function.instruction(&Instruction::I32WrapI64);
    function.instruction(&Instruction::I32Const(wrapper.byte as i32));
    for instruction in &length {
        function.instruction(instruction);
    }
    function.instruction(&Instruction::I32RemU);
    function.instruction(&Instruction::I32Add);
    function.instruction(&Instruction::LocalTee(ADDRESS));
    function.instruction(&Instruction::LocalGet(ADDRESS));
    function.instruction(&Instruction::I32Load8U(byte));
    function.instruction(&Instruction::I32Const(i32::from(wrapper.mask)));
    function.instruction(&Instruction::I32Xor);
    function.instruction(&Instruction::I32Store8(byte));
    function.instruction(&Instruction::End);
    function.instruction(&Instruction::LocalGet(BLOB));
    function.instruction(&Instruction::End);
    function
}

/// The module in `bytes` written again with `plan`'s edits.
pub fn rewrite(
    bytes: &[u8],
    plan: &Plan<'_>,
    imported: u32,
    defined: u32,
) -> Result<Vec<u8>, String> {
    let mut rewriter = Rewriter {
        plan,
        next_body: 0,
        defined,
        imported,
    };
    let mut module = wasm_encoder::Module::new();
    rewriter
        .parse_core_module(&mut module, wasmparser::Parser::new(0), bytes)
        .map_err(|error| error.to_string())?;
    Ok(module.finish())
}
