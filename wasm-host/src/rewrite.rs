//! A load-time rewrite that keeps valid modules away from a panic in wasmi
//! 2.0.0's translator.
//!
//! wasmi keeps one integer register. An integer store (`i32.store`,
//! `i32.store8`, `i32.store16`, `i64.store`, `i64.store8`, `i64.store16`,
//! `i64.store32`) whose offset does not fit in 16 bits and whose address and
//! value are both that register (the same local, as after `local.tee X;
//! local.get X`) has no encoding, and the translator reaches `unreachable!()`
//! (`choose_store_op_vt`, translator/func/mod.rs:2584). rustc emits this for
//! ordinary code (a struct with a 64 KiB field followed by a pointer to
//! itself, `(*d).me = d`). Float stores have an encoding for that case, and
//! stores with a 16-bit offset fall back to another one.
//!
//! Every such store whose operands may both be locals' values (validate.rs
//! finds them: a constant operand rules it out) is rewritten to
//!
//! ```text
//! local.set $value  local.set $address  local.get $address  local.get $value  <store>
//! ```
//!
//! with two fresh locals per function (`$address: i32`, `$value` of the
//! store's value type). The store then reads two different locals, which
//! cannot both be the one register, so wasmi always has an encoding. The
//! store itself, its offset and alignment are unchanged, so the effective
//! address, the bytes written and the out-of-bounds trap are exactly those of
//! the original; the only difference is a few units of fuel for the local
//! moves. Functions without such a store, and all other sections, are copied
//! byte for byte.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{CodeSection, Function, Instruction, Module, RawSection, ValType};
use wasmparser::{FunctionBody, MemArg, Operator, Parser, Payload};

/// Offsets above this have no 16-bit encoding in wasmi.
const LARGEST_16_BIT_OFFSET: u64 = 0xffff;

/// The value type of an integer store whose offset needs more than 16 bits,
/// or `None` for any other operator.
pub(crate) fn affected_store(operator: &Operator<'_>) -> Option<ValType> {
    let (memarg, value): (&MemArg, ValType) = match operator {
        Operator::I32Store { memarg }
        | Operator::I32Store8 { memarg }
        | Operator::I32Store16 { memarg } => (memarg, ValType::I32),
        Operator::I64Store { memarg }
        | Operator::I64Store8 { memarg }
        | Operator::I64Store16 { memarg }
        | Operator::I64Store32 { memarg } => (memarg, ValType::I64),
        _ => return None,
    };
    (memarg.offset > LARGEST_16_BIT_OFFSET).then_some(value)
}

/// `body` with the stores at operator indices `stores` (all affected stores)
/// spilled through fresh locals, which are numbered after the function's
/// `params` parameters and declared locals.
fn rewrite_body(
    body: &FunctionBody<'_>,
    params: u32,
    stores: &[usize],
) -> Result<Function, String> {
    let mut reencoder = RoundtripReencoder;
    let mut locals = Vec::new();
    let mut next_local = params;
    for declaration in body.get_locals_reader().map_err(|e| e.to_string())? {
        let (count, ty) = declaration.map_err(|e| e.to_string())?;
        let ty = reencoder.val_type(ty).map_err(|e| e.to_string())?;
        locals.push((count, ty));
        next_local = next_local
            .checked_add(count)
            .ok_or("too many locals to rewrite")?;
    }
    let address = next_local;
    let value_i32 = address.checked_add(1).ok_or("too many locals to rewrite")?;
    let value_i64 = address.checked_add(2).ok_or("too many locals to rewrite")?;
    locals.extend([(1, ValType::I32), (1, ValType::I32), (1, ValType::I64)]);
    let mut function = Function::new(locals);
    let mut reader = body.get_operators_reader().map_err(|e| e.to_string())?;
    // `stores` is in ascending order: one pass with a cursor.
    let mut chosen_stores = stores.iter().peekable();
    let mut index = 0;
    while !reader.eof() {
        let operator = reader.read().map_err(|e| e.to_string())?;
        let chosen = chosen_stores.next_if_eq(&&index).is_some();
        index += 1;
        if let Some(ty) = affected_store(&operator).filter(|_| chosen) {
            let value = if ty == ValType::I64 {
                value_i64
            } else {
                value_i32
            };
            function.instruction(&Instruction::LocalSet(value));
            function.instruction(&Instruction::LocalSet(address));
            function.instruction(&Instruction::LocalGet(address));
            function.instruction(&Instruction::LocalGet(value));
        }
        let instruction = reencoder.instruction(operator).map_err(|e| e.to_string())?;
        function.instruction(&instruction);
    }
    Ok(function)
}

/// The number of parameters of each function type, by type index.
fn param_counts(payload: &Payload<'_>, counts: &mut Vec<u32>) -> Result<(), String> {
    if let Payload::TypeSection(reader) = payload {
        for func_type in reader.clone().into_iter_err_on_gc_types() {
            let func_type = func_type.map_err(|e| e.to_string())?;
            let params = u32::try_from(func_type.params().len()).map_err(|e| e.to_string())?;
            counts.push(params);
        }
    }
    Ok(())
}

/// `bytes` with the stores `validated` names rewritten, so that none trips
/// wasmi 2.0.0's translator; `None` if it names none (nothing is copied).
/// `bytes` must be the module that passed [`crate::validate::validate`].
///
/// # Errors
/// A message if the module cannot be rewritten (it then cannot be loaded).
pub(crate) fn rewrite(
    bytes: &[u8],
    validated: &crate::validate::Validated,
) -> Result<Option<Vec<u8>>, String> {
    if !validated.needs_rewrite() {
        return Ok(None);
    }
    let mut type_params = Vec::new();
    let mut function_types = Vec::new();
    let mut bodies = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        param_counts(&payload, &mut type_params)?;
        match payload {
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    function_types.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }
    let mut code = CodeSection::new();
    // The stores come in the order validation met them, by function then
    // operator: each body takes its run from the front.
    let mut remaining = validated.stores.as_slice();
    for (index, body) in bodies.iter().enumerate() {
        let own = remaining
            .iter()
            .take_while(|(function, _)| *function == index)
            .count();
        let (mine, rest) = remaining.split_at(own);
        remaining = rest;
        let stores: Vec<usize> = mine.iter().map(|(_, operator)| *operator).collect();
        if !stores.is_empty() {
            let params = function_types
                .get(index)
                .and_then(|ty| type_params.get(*ty as usize))
                .ok_or("a function body without a type")?;
            code.function(&rewrite_body(body, *params, &stores)?);
        } else {
            let range = body.range();
            code.raw(bytes.get(range).ok_or("function body out of range")?);
        }
    }
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| e.to_string())?;
        if let Payload::CodeSectionStart { .. } = payload {
            module.section(&code);
        } else if let Some((id, range)) = payload.as_section() {
            let data = bytes.get(range).ok_or("section out of range")?;
            module.section(&RawSection { id, data });
        }
    }
    Ok(Some(module.finish()))
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
