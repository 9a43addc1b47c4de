//! Loading: validate the bytes in full, rewrite what wasmi 2.0.0 cannot
//! translate, read the manifest, check imports and exports
//! against ABI v1 and the requests against the grant, all before anything is
//! instantiated.

use crate::capabilities::{Capability, MAX_SERVED_ENDPOINTS};
use crate::grant::Grant;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_abi::{
    Export, HostFunction, IMPORT_MODULE, MANIFEST_SECTION, Manifest, ManifestError, Signature,
    ValueType,
};
use core::any::Any;
use wasmi::{ExternType, FuncType, ValType};

/// Why a module could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The bytes are not a valid Wasm module for this engine (message from
    /// the validator; start functions are refused here too).
    Invalid(String),
    /// No `cella.manifest` custom section.
    MissingManifest,
    /// More than one `cella.manifest` section.
    DuplicateManifest,
    /// The manifest is malformed.
    Manifest(ManifestError),
    /// A requested capability is not covered by the grant (the request, as
    /// its manifest line).
    NotGranted {
        /// The request, e.g. `port 0x60 1`.
        request: String,
    },
    /// An import that ABI v1 does not define.
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// An ABI v1 import with the wrong signature.
    ImportSignature {
        /// Import name.
        name: String,
    },
    /// A required export is missing.
    MissingExport {
        /// Export name.
        name: &'static str,
    },
    /// An ABI export (or `memory`) with the wrong type or signature.
    ExportSignature {
        /// Export name.
        name: &'static str,
    },
    /// The grant has the module serve more than [`MAX_SERVED_ENDPOINTS`]
    /// endpoints.
    TooManyServed {
        /// How many it serves.
        count: usize,
    },
}

/// A module that could not be loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The manifest's module name, or the caller's label before the manifest
    /// was read.
    pub module: String,
    /// Why.
    pub kind: LoadErrorKind,
}

impl core::fmt::Display for LoadErrorKind {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadErrorKind::Invalid(message) => {
                // The validator's messages span lines; keep reports on one.
                formatter.write_str("not a valid Wasm module:")?;
                for word in message.split_whitespace() {
                    write!(formatter, " {word}")?;
                }
                Ok(())
            }
            LoadErrorKind::MissingManifest => write!(
                formatter,
                "no `{MANIFEST_SECTION}` custom section (the SDK's module! macro writes it)"
            ),
            LoadErrorKind::DuplicateManifest => {
                write!(formatter, "more than one `{MANIFEST_SECTION}` section")
            }
            LoadErrorKind::Manifest(error) => write!(formatter, "bad manifest: {error}"),
            LoadErrorKind::NotGranted { request } => write!(
                formatter,
                "it requests `{request}`, which its grant does not cover"
            ),
            LoadErrorKind::UnknownImport { module, name } => {
                write!(
                    formatter,
                    "it imports `{module}::{name}`, which ABI v1 does not define"
                )
            }
            LoadErrorKind::ImportSignature { name } => {
                write!(formatter, "it imports `{name}` with the wrong signature")
            }
            LoadErrorKind::MissingExport { name } => {
                write!(formatter, "it does not export `{name}`")
            }
            LoadErrorKind::ExportSignature { name } => {
                write!(formatter, "its export `{name}` has the wrong type")
            }
            LoadErrorKind::TooManyServed { count } => write!(
                formatter,
                "it serves {count} endpoints; a module serves at most {MAX_SERVED_ENDPOINTS}"
            ),
        }
    }
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            formatter,
            "cannot load module {}: {}",
            self.module, self.kind
        )
    }
}

impl core::error::Error for LoadError {}

/// Heap bytes that loading a module may take at its peak, per byte of its
/// `.wasm`: validating and compiling it (wasmi 2.0.0's compiled code and
/// the validator's state). Measured worst cases, per byte of input (with
/// instantiation): about 84 for a small module of nested multi-value blocks,
/// 75 for deeply nested `loop`s, 64 for nested `block`s, 31 for `br_table`
/// targets, 20 for `call_indirect`; ordinary compiler output about 2.5. The
/// bound leaves half again as much room (`tests/compile_memory.rs` checks
/// every such shape against it).
pub const PEAK_LOAD_BYTES_PER_WASM_BYTE: usize = 128;
/// Fixed part of the bound: an engine, its linker and bookkeeping.
pub const PEAK_LOAD_FIXED_BYTES: usize = 64 * 1024;

/// The most heap that loading `wasm_bytes` of module may take at its peak:
/// an embedder that has this much to spare can load any module of that size
/// without running out of memory in the middle of a compile.
pub fn peak_load_bytes(wasm_bytes: usize) -> usize {
    wasm_bytes
        .saturating_mul(PEAK_LOAD_BYTES_PER_WASM_BYTE)
        .saturating_add(PEAK_LOAD_FIXED_BYTES)
}

/// A validated, compiled module with its manifest checked against a grant:
/// ready to start any number of times. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LoadedModule {
    pub(crate) module: wasmi::Module,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) state_version: u32,
    pub(crate) capabilities: Vec<Capability>,
    /// The endpoints it serves, with [`cella_abi::Rights::RECEIVE`]: an
    /// instance holds them after [`LoadedModule::capabilities`].
    pub(crate) served: Vec<Capability>,
    /// The runtime that loaded it (set by the runtime after loading).
    pub(crate) runtime: u32,
    /// The ABI linker for the module's own engine, of the loading runtime's
    /// host-state type (set by the runtime after loading).
    pub(crate) linker: Option<Arc<dyn Any + Send + Sync>>,
    /// DMA bytes the grant allows in all: during a hot swap, the bound on
    /// what predecessor and successor hold together.
    pub(crate) dma_grant: u64,
    /// The module's own limits from its grant, over the runtime's.
    pub(crate) own_limits: cella_system::system_manifest::ModuleLimits,
}

impl LoadedModule {
    /// Module name from the manifest.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Module version from the manifest.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// State-format version from the manifest.
    pub fn state_version(&self) -> u32 {
        self.state_version
    }

    /// The capabilities an instance will hold, in manifest order.
    pub fn capabilities(&self) -> &[Capability] {
        &self.capabilities
    }

    /// The endpoint capabilities an instance holds for the endpoints the
    /// module serves, in the grant's order, after its requested ones.
    pub fn served(&self) -> &[Capability] {
        &self.served
    }
}

fn value_type(value: ValueType) -> ValType {
    match value {
        ValueType::I32 => ValType::I32,
        ValueType::I64 => ValType::I64,
    }
}

fn matches(func: &FuncType, signature: Signature) -> bool {
    func.params().len() == signature.params.len()
        && func.results().len() == signature.results.len()
        && func
            .params()
            .iter()
            .zip(signature.params)
            .all(|(have, want)| *have == value_type(*want))
        && func
            .results()
            .iter()
            .zip(signature.results)
            .all(|(have, want)| *have == value_type(*want))
}

/// Loads and checks a module; see [`crate::Runtime::load`].
pub(crate) fn load(
    engine: &wasmi::Engine,
    label: &str,
    bytes: &[u8],
    grant: &Grant,
) -> Result<LoadedModule, LoadError> {
    let fail = |module: &str, kind| LoadError {
        module: module.to_string(),
        kind,
    };
    // wasmi sees only modules that wasmparser validated in full, rewritten
    // where its translator would panic (validate.rs, rewrite.rs).
    let validated = crate::validate::validate(bytes)
        .map_err(|reason| fail(label, LoadErrorKind::Invalid(reason)))?;
    let rewritten = crate::rewrite::rewrite(bytes, &validated)
        .map_err(|reason| fail(label, LoadErrorKind::Invalid(reason)))?;
    let module = wasmi::Module::new(engine, rewritten.as_deref().unwrap_or(bytes))
        .map_err(|error| fail(label, LoadErrorKind::Invalid(error.to_string())))?;
    let mut sections = module
        .custom_sections()
        .filter(|section| section.name() == MANIFEST_SECTION);
    let section = sections
        .next()
        .ok_or_else(|| fail(label, LoadErrorKind::MissingManifest))?;
    if sections.next().is_some() {
        return Err(fail(label, LoadErrorKind::DuplicateManifest));
    }
    let manifest = Manifest::parse_bytes(section.data())
        .map_err(|error| fail(label, LoadErrorKind::Manifest(error)))?;
    let name = manifest.name;
    for import in module.imports() {
        let function = (import.module() == IMPORT_MODULE)
            .then(|| HostFunction::from_name(import.name()))
            .flatten();
        let Some(function) = function else {
            return Err(fail(
                name,
                LoadErrorKind::UnknownImport {
                    module: import.module().to_string(),
                    name: import.name().to_string(),
                },
            ));
        };
        let signature_ok = match import.ty() {
            ExternType::Func(func) => matches(func, function.signature()),
            _ => false,
        };
        if !signature_ok {
            return Err(fail(
                name,
                LoadErrorKind::ImportSignature {
                    name: import.name().to_string(),
                },
            ));
        }
    }
    for export in Export::ALL {
        match module.get_export(export.name()) {
            None if export == Export::Init => {
                return Err(fail(
                    name,
                    LoadErrorKind::MissingExport {
                        name: export.name(),
                    },
                ));
            }
            None => {}
            Some(ExternType::Func(func)) if matches(&func, export.signature()) => {}
            Some(_) => {
                return Err(fail(
                    name,
                    LoadErrorKind::ExportSignature {
                        name: export.name(),
                    },
                ));
            }
        }
    }
    // Replies to `ipc_call` arrive as `on_reply` events: a module that can
    // call must be able to hear the answer.
    let calls = module.imports().any(|import| {
        import.module() == IMPORT_MODULE
            && (import.name() == HostFunction::IpcCall.name()
                || import.name() == HostFunction::IpcCallLending.name())
    });
    if calls && module.get_export(Export::OnReply.name()).is_none() {
        return Err(fail(
            name,
            LoadErrorKind::MissingExport {
                name: Export::OnReply.name(),
            },
        ));
    }
    match module.get_export(cella_abi::MEMORY_EXPORT) {
        None | Some(ExternType::Memory(_)) => {}
        Some(_) => {
            return Err(fail(
                name,
                LoadErrorKind::ExportSignature {
                    name: cella_abi::MEMORY_EXPORT,
                },
            ));
        }
    }
    let capabilities = grant
        .resolve(manifest.capabilities())
        .map_err(|request| fail(name, LoadErrorKind::NotGranted { request }))?;
    let count = grant.served_count();
    if count > MAX_SERVED_ENDPOINTS {
        return Err(fail(name, LoadErrorKind::TooManyServed { count }));
    }
    Ok(LoadedModule {
        name: name.to_string(),
        version: manifest.version.to_string(),
        state_version: manifest.state_version,
        capabilities,
        served: grant.served(),
        dma_grant: grant.dma_total(),
        own_limits: grant.own_limits(),
        module,
        runtime: 0,
        linker: None,
    })
}

/// The name a module's `cella.manifest` section gives it, read without
/// loading the module (wasmparser reads the section headers; nothing
/// reaches wasmi). For choosing which module a file replaces before it is
/// loaded and checked as any module is.
///
/// # Errors
/// The bytes are not a module with exactly one well-formed manifest.
pub fn manifest_name(bytes: &[u8]) -> Result<String, LoadErrorKind> {
    let mut found = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload =
            payload.map_err(|error| LoadErrorKind::Invalid(error.message().to_string()))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == MANIFEST_SECTION
        {
            if found.is_some() {
                return Err(LoadErrorKind::DuplicateManifest);
            }
            let manifest =
                Manifest::parse_bytes(section.data()).map_err(LoadErrorKind::Manifest)?;
            found = Some(manifest.name.to_string());
        }
    }
    found.ok_or(LoadErrorKind::MissingManifest)
}
