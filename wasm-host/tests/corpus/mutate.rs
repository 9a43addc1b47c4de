//! Mutations of valid modules: byte-level (truncate, splice, overwrite) and
//! instruction-level (one operator of one function deleted, duplicated,
//! replaced, or given another immediate), re-encoded with `wasm-encoder`.

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{CodeSection, Function, Instruction, MemArg, Module, RawSection};
use wasmparser::{FunctionBody, Operator, Parser, Payload};

/// xorshift64*: small, deterministic, no dependency.
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, limit: u64) -> u64 {
        self.next() % limit.max(1)
    }
}

/// One byte-level mutation of `wasm`.
pub fn bytes(random: &mut Random, wasm: &[u8]) -> Vec<u8> {
    let mut bytes = wasm.to_vec();
    if bytes.is_empty() {
        return bytes;
    }
    match random.below(4) {
        0 => bytes.truncate(random.below(bytes.len() as u64) as usize),
        1 => {
            let start = random.below(bytes.len() as u64) as usize;
            let length = random.below(16) as usize;
            let end = (start + length).min(bytes.len());
            let slice = bytes[start..end].to_vec();
            let at = random.below(bytes.len() as u64) as usize;
            bytes.splice(at..at, slice);
        }
        _ => {
            for _ in 0..=random.below(8) {
                let at = random.below(bytes.len() as u64) as usize;
                bytes[at] = random.next() as u8;
            }
        }
    }
    bytes
}

/// A memory offset: small, just past 16 bits (wasmi's store encoding
/// limit), or anything.
fn offset(random: &mut Random) -> u64 {
    match random.below(3) {
        0 => random.below(0x100),
        1 => 0x1_0000 + random.below(0x1_0000),
        _ => u64::from(random.next() as u32),
    }
}

/// An operator to put in, chosen to stress the translator: constants,
/// stack and local shuffles, branches, calls, loads and stores with big
/// offsets.
fn replacement(random: &mut Random) -> Instruction<'static> {
    let memarg = |random: &mut Random, align| MemArg {
        offset: offset(random),
        align,
        memory_index: 0,
    };
    let local = random.below(6) as u32;
    match random.below(18) {
        0 => Instruction::I32Const(random.next() as i32),
        1 => Instruction::I64Const(random.next() as i64),
        2 => Instruction::Drop,
        3 => Instruction::Nop,
        4 => Instruction::Unreachable,
        5 => Instruction::LocalGet(local),
        6 => Instruction::LocalSet(local),
        7 => Instruction::LocalTee(local),
        8 => Instruction::Br(random.below(4) as u32),
        9 => Instruction::BrIf(random.below(4) as u32),
        10 => Instruction::Call(random.below(40) as u32),
        11 => Instruction::Return,
        12 => Instruction::I32Add,
        13 => Instruction::I32Store(memarg(random, 2)),
        14 => Instruction::I32Store8(memarg(random, 0)),
        15 => Instruction::I64Store(memarg(random, 3)),
        16 => Instruction::I32Load(memarg(random, 2)),
        _ => Instruction::GlobalGet(random.below(3) as u32),
    }
}

/// `operator` with one immediate changed, if it has one this knows.
fn with_new_immediate(
    random: &mut Random,
    operator: &Operator<'_>,
) -> Option<Instruction<'static>> {
    let memarg = |random: &mut Random, align: u8| MemArg {
        offset: offset(random),
        align: u32::from(align),
        memory_index: 0,
    };
    Some(match operator {
        Operator::I32Store { memarg: m } => Instruction::I32Store(memarg(random, m.align)),
        Operator::I32Store8 { memarg: m } => Instruction::I32Store8(memarg(random, m.align)),
        Operator::I32Store16 { memarg: m } => Instruction::I32Store16(memarg(random, m.align)),
        Operator::I64Store { memarg: m } => Instruction::I64Store(memarg(random, m.align)),
        Operator::I32Load { memarg: m } => Instruction::I32Load(memarg(random, m.align)),
        Operator::I64Load { memarg: m } => Instruction::I64Load(memarg(random, m.align)),
        Operator::I32Load8U { memarg: m } => Instruction::I32Load8U(memarg(random, m.align)),
        Operator::LocalGet { .. } => Instruction::LocalGet(random.below(8) as u32),
        Operator::LocalSet { .. } => Instruction::LocalSet(random.below(8) as u32),
        Operator::LocalTee { .. } => Instruction::LocalTee(random.below(8) as u32),
        Operator::I32Const { .. } => Instruction::I32Const(random.next() as i32),
        Operator::I64Const { .. } => Instruction::I64Const(random.next() as i64),
        Operator::Br { .. } => Instruction::Br(random.below(4) as u32),
        Operator::BrIf { .. } => Instruction::BrIf(random.below(4) as u32),
        Operator::Call { .. } => Instruction::Call(random.below(40) as u32),
        Operator::GlobalGet { .. } => Instruction::GlobalGet(random.below(3) as u32),
        _ => return None,
    })
}

/// Re-encodes `body` with operator number `target` mutated.
fn mutate_body(random: &mut Random, body: &FunctionBody<'_>, target: usize) -> Option<Function> {
    let mut reencoder = RoundtripReencoder;
    let mut locals = Vec::new();
    for declaration in body.get_locals_reader().ok()? {
        let (count, ty) = declaration.ok()?;
        locals.push((count, reencoder.val_type(ty).ok()?));
    }
    let mut function = Function::new(locals);
    let mut reader = body.get_operators_reader().ok()?;
    let mut index = 0;
    while !reader.eof() {
        let operator = reader.read().ok()?;
        let instruction = reencoder.instruction(operator.clone()).ok()?;
        if index == target {
            match random.below(4) {
                0 => {}
                1 => {
                    function.instruction(&instruction);
                    function.instruction(&instruction);
                }
                2 => {
                    function.instruction(&replacement(random));
                }
                _ => {
                    let changed = with_new_immediate(random, &operator)
                        .unwrap_or_else(|| replacement(random));
                    function.instruction(&changed);
                }
            }
        } else {
            function.instruction(&instruction);
        }
        index += 1;
    }
    Some(function)
}

fn operator_count(body: &FunctionBody<'_>) -> usize {
    let Ok(reader) = body.get_operators_reader() else {
        return 0;
    };
    reader.into_iter().take_while(Result::is_ok).count()
}

/// One instruction-level mutation of `wasm` (a valid module), or `None` if
/// it has no function body.
pub fn instruction(random: &mut Random, wasm: &[u8]) -> Option<Vec<u8>> {
    let bodies: Vec<FunctionBody<'_>> = Parser::new(0)
        .parse_all(wasm)
        .filter_map(|payload| match payload {
            Ok(Payload::CodeSectionEntry(body)) => Some(body),
            _ => None,
        })
        .collect();
    if bodies.is_empty() {
        return None;
    }
    let chosen = random.below(bodies.len() as u64) as usize;
    let target = random.below(operator_count(&bodies[chosen]) as u64) as usize;
    let mut code = CodeSection::new();
    for (index, body) in bodies.iter().enumerate() {
        if index == chosen {
            code.function(&mutate_body(random, body, target)?);
        } else {
            code.raw(&wasm[body.range()]);
        }
    }
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.ok()?;
        if let Payload::CodeSectionStart { .. } = payload {
            module.section(&code);
        } else if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    Some(module.finish())
}
