//! cella-faults: software fault injection into Wasm modules, modeled on
//! MINIX 3's SWIFI campaign. [`inject`] takes a module's bytes, a seed and a
//! [`FaultKind`] and returns a mutated module that still validates, or says
//! why that kind cannot go into that module. The same seed always gives the
//! same fault. `no_std + alloc`: the kernel's fault campaign runs it.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod analysis;
mod kinds;
mod plan;
mod random;
mod rewrite;

pub use kinds::FaultKind;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A module with one fault in it.
#[derive(Clone, Debug)]
pub struct Injection {
    /// The mutated module (validated).
    pub bytes: Vec<u8>,
    /// The function the fault went into (function index space; for a
    /// `save_state` wrapper, the wrapper's index).
    pub function: u32,
    /// The operator index in that function's body.
    pub operator: usize,
    /// How many sites this kind had in the module.
    pub candidates: usize,
}

/// Why no fault was injected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InjectError {
    /// The module has no site for this kind (such as `irq-ack` in a module
    /// that never acknowledges an IRQ).
    NotApplicable,
    /// The input is not a readable module.
    Unreadable(String),
    /// The mutated module did not validate (a defect of the injector).
    Invalid(String),
}

impl core::fmt::Display for InjectError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InjectError::NotApplicable => {
                formatter.write_str("the module has no site for this fault kind")
            }
            InjectError::Unreadable(why) => write!(formatter, "not a readable module: {why}"),
            InjectError::Invalid(why) => {
                write!(formatter, "the mutated module does not validate: {why}")
            }
        }
    }
}

/// Whether the module in `bytes` exports a function called `name` (false if unreadable).
pub fn exports_function(bytes: &[u8], name: &str) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let Ok(wasmparser::Payload::ExportSection(reader)) = payload {
            return reader.into_iter().flatten().any(|export| {
                export.kind == wasmparser::ExternalKind::Func && export.name == name
            });
        }
    }
    false
}

/// Puts one fault of `kind`, chosen by `seed`, into the module in `bytes`.
///
/// # Errors
/// [`InjectError::NotApplicable`] if the kind has no site in the module;
/// the other variants for unreadable input or (a defect) an invalid result.
pub fn inject(bytes: &[u8], kind: FaultKind, seed: u64) -> Result<Injection, InjectError> {
    let module = analysis::Module::read(bytes).map_err(InjectError::Unreadable)?;
    let mut random = random::Random::new(seed ^ (kind as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let plan = plan::plan(&module, kind, &mut random).ok_or(InjectError::NotApplicable)?;
    let imported = module.imports.len() as u32;
    let defined = module.defined.len() as u32;
    let mutated =
        rewrite::rewrite(bytes, &plan, imported, defined).map_err(InjectError::Unreadable)?;
    wasmparser::Validator::new()
        .validate_all(&mutated)
        .map_err(|error| InjectError::Invalid(error.to_string()))?;
    Ok(Injection {
        bytes: mutated,
        function: module.function_index(plan.site.0),
        operator: plan.site.1,
        candidates: plan.candidates,
    })
}
