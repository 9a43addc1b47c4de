//! The runtime: one wasmi engine and ABI linker shared by all sandboxes,
//! the limits, and the generation counter behind every handle.

use crate::capabilities::CapabilityTable;
use crate::faults::{Entry, Fault, FaultKind};
use crate::grant::Grant;
use crate::handles::next_generation;
use crate::limits::Limits;
use crate::loader::{self, LoadError, LoadedModule};
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::sandbox::{Entries, Sandbox};
use crate::state::State;
use crate::trace::{Counters, Trace};
use alloc::string::ToString;
use alloc::vec::Vec;
use wasmi::{CompilationMode, Config, EnforcedLimits, Engine, Linker, Store, StoreLimitsBuilder};

/// Loads modules and starts sandboxes for one platform and outbox type.
pub struct Runtime<P: Platform + 'static, O: Outbox + 'static> {
    engine: Engine,
    linker: Linker<State<P, O>>,
    limits: Limits,
    generation: u32,
}

impl<P: Platform + Clone + 'static, O: Outbox + Clone + 'static> Runtime<P, O> {
    /// A runtime whose sandboxes run under `limits`.
    pub fn new(limits: Limits) -> Self {
        let engine = Engine::new(&engine_config(&limits));
        let linker = crate::linker::build(&engine);
        Runtime {
            engine,
            linker,
            limits,
            generation: 0,
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
        loader::load(&self.engine, label, bytes, grant)
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
            engine: &self.engine,
            linker: &self.linker,
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
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            limits: self.limits,
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

/// Borrowed engine, linker and limits: what instantiation needs.
pub(crate) struct Parts<'a, P: Platform + 'static, O: Outbox + 'static> {
    pub(crate) engine: &'a Engine,
    pub(crate) linker: &'a Linker<State<P, O>>,
    pub(crate) limits: Limits,
}

impl<P: Platform + Clone + 'static, O: Outbox + Clone + 'static> Parts<'_, P, O> {
    /// Creates the store and instance of generation `generation` without
    /// running any entry point (start functions are refused at load).
    pub(crate) fn instantiate(
        &self,
        module: &LoadedModule,
        platform: P,
        outbox: O,
        generation: u32,
        lineage: Vec<u32>,
    ) -> Result<Sandbox<P, O>, Fault> {
        if !Engine::same(module.module.engine(), self.engine) {
            return Err(Fault {
                module: module.name.clone(),
                entry: Entry::Instantiate,
                kind: FaultKind::Instantiation("module was loaded by another runtime".to_string()),
            });
        }
        let limits = self.limits;
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.max_memory_bytes())
            .table_elements(limits.max_table_elements as usize)
            .tables(limits.max_tables as usize)
            .memories(1)
            .instances(1)
            .build();
        let state = State {
            module: module.name.clone(),
            platform,
            outbox,
            capabilities: CapabilityTable::new(generation, lineage, module.capabilities.clone()),
            memory: None,
            store_limits,
            limits,
            counters: Counters::default(),
            trace: Trace::new(limits.trace_entries as usize),
            pending_fault: None,
            message: Vec::new(),
            message_present: false,
            pending_requests: Vec::new(),
        };
        let mut store = Store::new(self.engine, state);
        store.limiter(|state| &mut state.store_limits);
        let fail = |kind| Fault {
            module: module.name.clone(),
            entry: Entry::Instantiate,
            kind,
        };
        // Fuel also bounds anything instantiation might execute.
        store
            .set_fuel(limits.fuel_per_event)
            .map_err(|error| fail(FaultKind::Engine(error.to_string())))?;
        let instance = self
            .linker
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
        })
    }
}
