//! Where a fault goes and what replaces the instruction there, per kind.
//!
//! A plan maps (defined function, operator index) to the operators written in
//! place of that operator. Every replacement keeps the operand stack's types,
//! so the module still validates: a deleted instruction drops its operands and
//! pushes zeroes for its results, an inserted loop or trap is stack-neutral.

use crate::analysis::{Body, Module};
use crate::kinds::FaultKind;
use crate::random::Random;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use wasmparser::{BlockType, MemArg, Operator, ValType};

/// Where a site is: defined function, operator index.
pub type Site = (usize, usize);

/// The edits for one fault.
pub struct Plan<'a> {
    /// What replaces each edited operator.
    pub edits: BTreeMap<Site, Vec<Operator<'a>>>,
    /// For [`FaultKind::StateCorruptedOnSave`]: wrap `save_state`.
    pub save_wrapper: Option<SaveWrapper>,
    /// The site chosen (the first one, for a kind that edits several).
    pub site: Site,
    /// How many sites the kind had in this module.
    pub candidates: usize,
}

/// `save_state` replaced by a function that calls it and flips a byte of the blob.
pub struct SaveWrapper {
    /// The original `save_state` (function index).
    pub original: u32,
    /// Its type index (`() -> i64`).
    pub type_index: u32,
    /// Which byte: this value modulo the blob's length.
    pub byte: u32,
    /// The bits flipped (non-zero).
    pub mask: u8,
}

/// The plan for `kind` in `module` from `random`, or `None` if the kind has no site there.
pub fn plan<'a>(module: &Module<'a>, kind: FaultKind, random: &mut Random) -> Option<Plan<'a>> {
    if kind == FaultKind::StateCorruptedOnSave {
        return save_plan(module, random);
    }
    let sites: Vec<Site> = module
        .bodies
        .iter()
        .enumerate()
        .flat_map(|(defined, body)| {
            (0..body.operators.len())
                .filter(move |&index| applies(module, body, index, kind))
                .map(move |index| (defined, index))
        })
        .collect();
    if sites.is_empty() {
        return None;
    }
    let chosen: Vec<Site> = if kind == FaultKind::IrqNotAcknowledged {
        sites.clone()
    } else {
        vec![sites[random.below(sites.len())]]
    };
    let mut edits = BTreeMap::new();
    for &(defined, index) in &chosen {
        let body = &module.bodies[defined];
        let replacement = replace(module, body, index, kind, random)?;
        edits.insert((defined, index), replacement);
    }
    Some(Plan {
        edits,
        save_wrapper: None,
        site: chosen[0],
        candidates: sites.len(),
    })
}

fn save_plan<'a>(module: &Module<'a>, random: &mut Random) -> Option<Plan<'a>> {
    let original = module.save_state?;
    if !module.has_memory {
        return None;
    }
    let imports = module.imports.len();
    let type_index = *module
        .defined
        .get((original as usize).checked_sub(imports)?)?;
    Some(Plan {
        edits: BTreeMap::new(),
        save_wrapper: Some(SaveWrapper {
            original,
            type_index,
            byte: random.next() as u32,
            mask: 1 << random.below(8),
        }),
        site: (module.defined.len(), 0),
        candidates: 1,
    })
}

/// The type of a numeric value that a constant can stand for.
fn zero(value_type: ValType) -> Option<Operator<'static>> {
    Some(match value_type {
        ValType::I32 => Operator::I32Const { value: 0 },
        ValType::I64 => Operator::I64Const { value: 0 },
        ValType::F32 => Operator::F32Const {
            value: 0.0f32.into(),
        },
        ValType::F64 => Operator::F64Const {
            value: 0.0f64.into(),
        },
        _ => return None,
    })
}

/// Another local of the same type as `index`, if any.
fn other_local(body: &Body<'_>, index: u32, random: &mut Random) -> Option<u32> {
    let value_type = *body.locals.get(index as usize)?;
    let others: Vec<u32> = (0..body.locals.len() as u32)
        .filter(|&other| other != index && body.locals[other as usize] == value_type)
        .collect();
    (!others.is_empty()).then(|| others[random.below(others.len())])
}

fn has_other_local(body: &Body<'_>, index: u32) -> bool {
    let Some(value_type) = body.locals.get(index as usize) else {
        return false;
    };
    body.locals
        .iter()
        .filter(|other| *other == value_type)
        .count()
        > 1
}

/// Whether `kind` can go at operator `index` of `body`.
fn applies(module: &Module<'_>, body: &Body<'_>, index: usize, kind: FaultKind) -> bool {
    let operator = &body.operators[index];
    match kind {
        FaultKind::DestinationOperand => match operator {
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                has_other_local(body, *local_index)
            }
            _ => false,
        },
        FaultKind::SourceOperand => match operator {
            Operator::LocalGet { local_index } => has_other_local(body, *local_index),
            Operator::I32Const { .. } | Operator::I64Const { .. } => true,
            _ => false,
        },
        FaultKind::PointerCorrupted => load_or_store(operator).is_some(),
        FaultKind::InstructionDeleted => deletion(module, operator).is_some(),
        FaultKind::BranchInverted => {
            matches!(operator, Operator::BrIf { .. } | Operator::If { .. })
        }
        // Anywhere: before any operator, the final `end` included.
        FaultKind::LoopInjected | FaultKind::RandomTrap => true,
        FaultKind::CallArgumentCorrupted => match operator {
            Operator::Call { function_index } => module
                .function_type(*function_index)
                .and_then(|function_type| function_type.params().last().copied())
                .is_some_and(|last| matches!(last, ValType::I32 | ValType::I64)),
            _ => false,
        },
        FaultKind::HostResultIgnored => match operator {
            Operator::Call { function_index } => {
                (*function_index as usize) < module.imports.len()
                    && module
                        .function_type(*function_index)
                        .is_some_and(|function_type| {
                            function_type.results().len() == 1
                                && zero(function_type.results()[0]).is_some()
                        })
            }
            _ => false,
        },
        FaultKind::IrqNotAcknowledged => match operator {
            Operator::Call { function_index } => {
                module.imports.get(*function_index as usize).is_some_and(
                    |(import_module, name, _)| *import_module == "cella" && *name == "irq_ack",
                ) && deletion(module, operator).is_some()
            }
            _ => false,
        },
        FaultKind::StateCorruptedOnSave => false,
    }
}

/// Whether the operator is a load (`Some(true)`) or a store (`Some(false)`), with its memarg.
fn load_or_store(operator: &Operator<'_>) -> Option<(bool, MemArg)> {
    use Operator::*;
    match *operator {
        I32Load { memarg }
        | I64Load { memarg }
        | F32Load { memarg }
        | F64Load { memarg }
        | I32Load8S { memarg }
        | I32Load8U { memarg }
        | I32Load16S { memarg }
        | I32Load16U { memarg }
        | I64Load8S { memarg }
        | I64Load8U { memarg }
        | I64Load16S { memarg }
        | I64Load16U { memarg }
        | I64Load32S { memarg }
        | I64Load32U { memarg } => Some((true, memarg)),
        I32Store { memarg }
        | I64Store { memarg }
        | F32Store { memarg }
        | F64Store { memarg }
        | I32Store8 { memarg }
        | I32Store16 { memarg }
        | I64Store8 { memarg }
        | I64Store16 { memarg }
        | I64Store32 { memarg } => Some((false, memarg)),
        _ => None,
    }
}

/// `operator` with its memarg's offset set to `offset`.
fn with_offset<'a>(operator: &Operator<'a>, offset: u64) -> Operator<'a> {
    use Operator::*;
    let mut changed = operator.clone();
    match &mut changed {
        I32Store { memarg }
        | I64Store { memarg }
        | F32Store { memarg }
        | F64Store { memarg }
        | I32Store8 { memarg }
        | I32Store16 { memarg }
        | I64Store8 { memarg }
        | I64Store16 { memarg }
        | I64Store32 { memarg } => memarg.offset = offset,
        _ => {}
    }
    changed
}

/// What stands for `operator` once deleted: drops for its operands, zeroes for its results.
fn deletion<'a>(module: &Module<'_>, operator: &Operator<'a>) -> Option<Vec<Operator<'a>>> {
    use Operator::*;
    Some(match operator {
        LocalSet { .. } | GlobalSet { .. } | BrIf { .. } => vec![Drop],
        // `a b op` leaves one value of a's type: dropping b keeps a.
        I32Add | I32Sub | I32Mul | I32And | I32Or | I32Xor | I32Shl | I32ShrU | I32ShrS
        | I32Rotl | I32Rotr | I64Add | I64Sub | I64Mul | I64And | I64Or | I64Xor | I64Shl
        | I64ShrU | I64ShrS | I64Rotl | I64Rotr => vec![Drop],
        // `a op` of the same type leaves a.
        I32Eqz | I32Clz | I32Ctz | I32Popcnt | I64Clz | I64Ctz | I64Popcnt => vec![],
        _ => match load_or_store(operator) {
            Some((false, _)) => vec![Drop, Drop],
            Some((true, _)) => return None,
            None => match operator {
                Call { function_index } => {
                    let function_type = module.function_type(*function_index)?;
                    let mut pieces: Vec<Operator<'a>> =
                        function_type.params().iter().map(|_| Drop).collect();
                    for result in function_type.results() {
                        pieces.push(zero(*result)?);
                    }
                    pieces
                }
                _ => return None,
            },
        },
    })
}

/// The operators that replace operator `index` of `body` for `kind`.
fn replace<'a>(
    module: &Module<'a>,
    body: &Body<'a>,
    index: usize,
    kind: FaultKind,
    random: &mut Random,
) -> Option<Vec<Operator<'a>>> {
    let operator = body.operators[index].clone();
    Some(match kind {
        FaultKind::DestinationOperand => match operator {
            Operator::LocalSet { local_index } => vec![Operator::LocalSet {
                local_index: other_local(body, local_index, random)?,
            }],
            Operator::LocalTee { local_index } => vec![Operator::LocalTee {
                local_index: other_local(body, local_index, random)?,
            }],
            _ => return None,
        },
        FaultKind::SourceOperand => match operator {
            Operator::LocalGet { local_index } => vec![Operator::LocalGet {
                local_index: other_local(body, local_index, random)?,
            }],
            Operator::I32Const { value } => vec![Operator::I32Const {
                value: value ^ random.one_bit(32) as i32,
            }],
            Operator::I64Const { value } => vec![Operator::I64Const {
                value: value ^ random.one_bit(64) as i64,
            }],
            _ => return None,
        },
        FaultKind::PointerCorrupted => match load_or_store(&operator)? {
            // The address is on top of the stack: flip one of its bits.
            (true, _) => vec![
                Operator::I32Const {
                    value: random.one_bit(32) as i32,
                },
                Operator::I32Xor,
                operator,
            ],
            // The value is on top: move the store's static offset instead,
            // by up to 32 KiB (below 64 KiB in all: see docs/reliability.md).
            (false, memarg) => {
                let delta = random.one_bit(16) >> 1;
                let offset = (memarg.offset + delta.max(1)).min(0xffff);
                let offset = if offset == memarg.offset {
                    memarg.offset.saturating_sub(delta.max(1))
                } else {
                    offset
                };
                vec![with_offset(&operator, offset)]
            }
        },
        FaultKind::InstructionDeleted => deletion(module, &operator)?,
        FaultKind::BranchInverted => vec![Operator::I32Eqz, operator],
        FaultKind::LoopInjected => vec![
            Operator::Loop {
                blockty: BlockType::Empty,
            },
            Operator::Br { relative_depth: 0 },
            Operator::End,
            operator,
        ],
        FaultKind::RandomTrap => vec![Operator::Unreachable, operator],
        FaultKind::CallArgumentCorrupted => {
            let Operator::Call { function_index } = operator else {
                return None;
            };
            let last = *module.function_type(function_index)?.params().last()?;
            let (constant, xor) = match last {
                ValType::I32 => (
                    Operator::I32Const {
                        value: random.one_bit(32) as i32,
                    },
                    Operator::I32Xor,
                ),
                ValType::I64 => (
                    Operator::I64Const {
                        value: random.one_bit(64) as i64,
                    },
                    Operator::I64Xor,
                ),
                _ => return None,
            };
            vec![constant, xor, operator]
        }
        FaultKind::HostResultIgnored => {
            let Operator::Call { function_index } = operator else {
                return None;
            };
            let result = *module.function_type(function_index)?.results().first()?;
            vec![operator, Operator::Drop, zero(result)?]
        }
        FaultKind::IrqNotAcknowledged => deletion(module, &operator)?,
        FaultKind::StateCorruptedOnSave => return None,
    })
}
