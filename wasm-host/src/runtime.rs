//! The runtime: the engine settings, the limits, and the generation counter
//! behind every handle.
//!
//! Each loaded module gets a wasmi engine of its own. wasmi keeps a module's
//! compiled code in its engine until the engine itself is dropped, so with
//! one shared engine every load (each hot swap, each push) would leave its
//! code behind for ever; with one engine per module the code goes when the
//! last instance and handle of that module go.

use crate::capabilities::CapabilityTable;
use crate::faults::{Entry, Fault, FaultKind};
use crate::fuel::Meter;
use crate::grant::Grant;
use crate::handles::next_generation;
use crate::limits::Limits;
use crate::loader::{self, LoadError, LoadedModule};
use crate::log_budget::LogBudget;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::sandbox::{Entries, Sandbox};
use crate::state::State;
use crate::trace::{Counters, Trace};
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, Ordering};
use wasmi::Linker;
use wasmi::{CompilationMode, Config, EnforcedLimits, Engine, Store, StoreLimitsBuilder};

/// Loads modules and starts sandboxes for one platform and outbox type.
pub struct Runtime<P: Platform + 'static, O: Outbox + 'static> {
    config: Config,
    identity: u32,
    limits: Limits,
    generation: u32,
    host: PhantomData<fn() -> (P, O)>,
}

/// Distinguishes runtimes, so a module loaded by one (with its engine
/// settings) is never instantiated by another.
static NEXT_IDENTITY: AtomicU32 = AtomicU32::new(1);

/// Loads `bytes` into an engine of its own, made with `config`, with the ABI
/// linker for that engine (built once per module: building it for every
/// instance leaves a little behind in the engine each time).
pub(crate) fn load_with_own_engine<P: Platform + 'static, O: Outbox + 'static>(
    config: &Config,
    runtime: u32,
    label: &str,
    bytes: &[u8],
    grant: &Grant,
) -> Result<LoadedModule, LoadError> {
    let engine = Engine::new(config);
    let mut module = loader::load(&engine, label, bytes, grant)?;
    module.runtime = runtime;
    module.linker = Some(Arc::new(crate::linker::build::<P, O>(&engine)));
    Ok(module)
}

impl<P: Platform + Clone + 'static, O: Outbox + Clone + 'static> Runtime<P, O> {
    /// A runtime whose sandboxes run under `limits`.
    pub fn new(limits: Limits) -> Self {
        let config = engine_config(&limits);
        Runtime {
            config,
            identity: NEXT_IDENTITY.fetch_add(1, Ordering::Relaxed),
            limits,
            generation: 0,
            host: PhantomData,
        }
    }

    /// The limits every sandbox runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates and compiles `bytes`, reads the manifest and checks it, its
    /// imports and its exports against ABI v1 and `grant`. `label` names the
    /// module in errors found before its manifest is read.
    ///
    /// # Errors
    /// A [`LoadError`] naming the module and the first problem: invalid Wasm,
    /// missing or bad manifest, a request outside the grant, an import
    /// outside ABI v1, a missing or mistyped export.
    pub fn load(
        &self,
        label: &str,
        bytes: &[u8],
        grant: &Grant,
    ) -> Result<LoadedModule, LoadError> {
        load_with_own_engine::<P, O>(&self.config, self.identity, label, bytes, grant)
    }

    /// Instantiates `module` and runs its `init`.
    ///
    /// # Errors
    /// A [`Fault`] if instantiation fails (limits) or `init` traps, runs out
    /// of fuel or returns non-zero.
    pub fn start(
        &mut self,
        module: &LoadedModule,
        platform: P,
        outbox: O,
    ) -> Result<Sandbox<P, O>, Fault> {
        let mut sandbox = self.instantiate(module, platform, outbox, Vec::new())?;
        sandbox.init()?;
        Ok(sandbox)
    }

    /// Replaces `sandbox` (dead or alive) by a fresh instance of the same
    /// module, which runs `init`. Handles of the old instance become stale.
    ///
    /// # Errors
    /// As for [`Runtime::start`]; the sandbox is then dead with that fault.
    pub fn restart(&mut self, sandbox: &mut Sandbox<P, O>) -> Result<(), Fault> {
        sandbox.release(&[]);
        let lineage = sandbox.store.data().capabilities.lineage();
        let platform = sandbox.store.data().platform.clone();
        let outbox = sandbox.store.data().outbox.clone();
        let module = sandbox.module.clone();
        let started = self
            .instantiate(&module, platform, outbox, lineage)
            .and_then(|mut fresh| fresh.init().map(|()| fresh));
        match started {
            Ok(fresh) => {
                *sandbox = fresh;
                Ok(())
            }
            Err(fault) => {
                sandbox.dead = Some(fault.clone());
                Err(fault)
            }
        }
    }

    /// Creates the store and instance without running any entry point.
    pub(crate) fn instantiate(
        &mut self,
        module: &LoadedModule,
        platform: P,
        outbox: O,
        lineage: Vec<u32>,
    ) -> Result<Sandbox<P, O>, Fault> {
        self.generation = next_generation(self.generation);
        let parts = Parts {
            runtime: self.identity,
            limits: self.limits,
        };
        parts.instantiate(module, platform, outbox, self.generation, lineage)
    }

    /// The generation of the instance created last, also when it failed to
    /// start (so a failed `init` can be recorded under its generation).
    pub fn last_generation(&self) -> u32 {
        self.generation
    }

    /// A fresh generation that no other instance gets.
    pub(crate) fn reserve_generation(&mut self) -> u32 {
        self.generation = next_generation(self.generation);
        self.generation
    }

    /// What another thread needs to load and instantiate modules for this
    /// runtime, so a hot swap's slow steps happen while the old instance
    /// keeps serving.
    pub fn preparer(&self) -> crate::Preparer<P, O> {
        crate::Preparer {
            config: self.config.clone(),
            runtime: self.identity,
            limits: self.limits,
            host: PhantomData,
        }
    }
}

/// The wasmi configuration of every runtime. The Wasm features it accepts
/// must stay those of `validate::features` (checked by a test there).
pub(crate) fn engine_config(limits: &Limits) -> Config {
    let mut config = Config::default();
    // Eager translation: every function is compiled at load, so anything
    // wasmi rejects shows up in `load`, never in the middle of an event, and
    // the first event pays no translation latency.
    config
        .consume_fuel(true)
        .compilation_mode(CompilationMode::Eager)
        .allow_start_fn(false)
        .set_max_recursion_depth(limits.max_call_depth as usize)
        .enforced_limits(EnforcedLimits::strict())
        .wasm_multi_memory(false)
        .wasm_custom_page_sizes(false);
    config
}

/// The runtime's identity and limits: what instantiation needs.
pub(crate) struct Parts {
    pub(crate) runtime: u32,
    pub(crate) limits: Limits,
}

impl Parts {
    /// Creates the store and instance of generation `generation` without
    /// running any entry point (start functions are refused at load).
    pub(crate) fn instantiate<P: Platform + Clone + 'static, O: Outbox + Clone + 'static>(
        &self,
        module: &LoadedModule,
        platform: P,
        outbox: O,
        generation: u32,
        lineage: Vec<u32>,
    ) -> Result<Sandbox<P, O>, Fault> {
        let linker = module
            .linker
            .as_ref()
            .and_then(|linker| linker.downcast_ref::<Linker<State<P, O>>>());
        let (Some(linker), true) = (linker, module.runtime == self.runtime) else {
            return Err(Fault {
                module: module.name.clone(),
                entry: Entry::Instantiate,
                kind: FaultKind::Instantiation("module was loaded by another runtime".to_string()),
                recent_accesses: Vec::new(),
            });
        };
        let limits = self.limits.with(&module.own_limits);
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.max_memory_bytes())
            .table_elements(limits.max_table_elements as usize)
            .tables(limits.max_tables as usize)
            .memories(1)
            .instances(1)
            .build();
        let limiter = crate::memory_limiter::MemoryLimiter {
            limits: store_limits,
            platform: platform.clone(),
        };
        let state = State {
            module: module.name.clone(),
            platform,
            outbox,
            capabilities: CapabilityTable::new(
                generation,
                lineage,
                module.capabilities.clone(),
                module.served.clone(),
            ),
            memory: None,
            limiter,
            limits,
            counters: Counters::default(),
            trace: Trace::new(limits.trace_entries as usize),
            pending_fault: None,
            message: Vec::new(),
            message_present: false,
            pending_requests: Vec::new(),
            calls: Default::default(),
            held: None,
            dma_held_by_predecessor: 0,
            dma_grant: module.dma_grant,
            meter: Meter::new(0),
            log_budget: LogBudget::default(),
            attempt: None,
            may_wait: false,
            wait_request: None,
        };
        let engine = module.module.engine();
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        let fail = |kind| Fault {
            module: module.name.clone(),
            entry: Entry::Instantiate,
            kind,
            recent_accesses: Vec::new(),
        };
        // Fuel also bounds anything instantiation might execute.
        store
            .set_fuel(limits.fuel_per_event)
            .map_err(|error| fail(FaultKind::Engine(error.to_string())))?;
        let instance = linker
            .instantiate_and_start(&mut store, &module.module)
            .map_err(|error| fail(FaultKind::Instantiation(error.to_string())))?;
        let memory = instance.get_memory(&store, cella_abi::MEMORY_EXPORT);
        store.data_mut().memory = memory;
        let entries = Entries::find(&instance, &store)
            .ok_or_else(|| fail(FaultKind::Instantiation("no `init` export".to_string())))?;
        Ok(Sandbox {
            store,
            entries,
            module: module.clone(),
            dead: None,
            released: false,
            suspended: None,
        })
    }
}
