//! What the injector needs to know about a module before it picks a site:
//! function types, imported functions, each body's locals and operators.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasmparser::{ExternalKind, FuncType, Operator, Parser, Payload, TypeRef, ValType};

/// One function body: its locals (parameters first) and its operators.
pub struct Body<'a> {
    pub locals: Vec<ValType>,
    pub operators: Vec<Operator<'a>>,
}

/// The facts about one module.
pub struct Module<'a> {
    pub types: Vec<FuncType>,
    /// Imported functions: (import module, name, type index).
    pub imports: Vec<(&'a str, &'a str, u32)>,
    /// Type index of each defined function.
    pub defined: Vec<u32>,
    pub bodies: Vec<Body<'a>>,
    /// Function index exported as `save_state`.
    pub save_state: Option<u32>,
    pub has_memory: bool,
}

impl<'a> Module<'a> {
    /// Reads `bytes`; the error is the parser's message.
    pub fn read(bytes: &'a [u8]) -> Result<Self, String> {
        read(bytes).map_err(|error| error.to_string())
    }

    /// The type of function `index` (imported or defined).
    pub fn function_type(&self, index: u32) -> Option<&FuncType> {
        let index = index as usize;
        let type_index = match self.imports.get(index) {
            Some((_, _, type_index)) => *type_index,
            None => *self.defined.get(index - self.imports.len())?,
        };
        self.types.get(type_index as usize)
    }

    /// The function index of defined function `defined`.
    pub fn function_index(&self, defined: usize) -> u32 {
        (self.imports.len() + defined) as u32
    }
}

fn read(bytes: &[u8]) -> wasmparser::Result<Module<'_>> {
    let mut module = Module {
        types: Vec::new(),
        imports: Vec::new(),
        defined: Vec::new(),
        bodies: Vec::new(),
        save_state: None,
        has_memory: false,
    };
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for function_type in group?.into_types() {
                        match function_type.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(function_type) => {
                                module.types.push(function_type)
                            }
                            // Not a function type: an index placeholder that no call uses.
                            _ => module.types.push(FuncType::new([], [])),
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(type_index) => {
                            module
                                .imports
                                .push((import.module, import.name, type_index))
                        }
                        TypeRef::Memory(_) => module.has_memory = true,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader {
                    module.defined.push(type_index?);
                }
            }
            Payload::MemorySection(reader) => module.has_memory |= reader.count() > 0,
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func && export.name == "save_state" {
                        module.save_state = Some(export.index);
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let defined = module.bodies.len();
                let type_index = module.defined.get(defined).copied().unwrap_or(0);
                let mut locals: Vec<ValType> = module
                    .types
                    .get(type_index as usize)
                    .map(|function_type| function_type.params().to_vec())
                    .unwrap_or_default();
                for entry in body.get_locals_reader()? {
                    let (count, value_type) = entry?;
                    for _ in 0..count {
                        locals.push(value_type);
                    }
                }
                let mut operators = Vec::new();
                let mut reader = body.get_operators_reader()?;
                while !reader.eof() {
                    operators.push(reader.read()?);
                }
                module.bodies.push(Body { locals, operators });
            }
            _ => {}
        }
    }
    Ok(module)
}
