//! Preparing a new instance away from the runtime: hot swap loads (validates,
//! compiles) and instantiates the new version on another thread while the
//! old instance keeps serving, so only the state hand-over stops events.

use crate::capabilities::CapabilityTable;
use crate::faults::Fault;
use crate::grant::Grant;
use crate::limits::Limits;
use crate::loader::{self, LoadError, LoadedModule};
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::runtime::Parts;
use crate::sandbox::Sandbox;
use crate::state::State;
use alloc::vec::Vec;
use wasmi::{Engine, Linker};

/// A runtime's engine, ABI linker and limits, to load and instantiate
/// modules on another thread. Made by [`crate::Runtime::preparer`]; modules
/// it loads belong to that runtime.
pub struct Preparer<P: Platform + 'static, O: Outbox + 'static> {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<State<P, O>>,
    pub(crate) limits: Limits,
}

/// A new instance, created but not started: no entry point has run, so it
/// has touched no device. [`crate::Runtime::swap_prepared`] puts it in place.
pub struct Prepared<P: Platform + 'static, O: Outbox + 'static> {
    pub(crate) sandbox: Sandbox<P, O>,
}

impl<P: Platform + 'static, O: Outbox + 'static> Prepared<P, O> {
    /// The module it is an instance of.
    pub fn module(&self) -> &LoadedModule {
        &self.sandbox.module
    }

    /// Its generation (reserved by [`crate::Runtime::reserve_generation`]).
    pub fn generation(&self) -> u32 {
        self.sandbox.generation()
    }

    /// Takes over `lineage`: the generations of the instance it replaces.
    pub(crate) fn adopt_lineage(&mut self, lineage: Vec<u32>) {
        let capabilities = &mut self.sandbox.store.data_mut().capabilities;
        *capabilities = CapabilityTable::new(
            capabilities.generation(),
            lineage,
            self.sandbox.module.capabilities.clone(),
        );
    }
}

impl<P: Platform + Clone + 'static, O: Outbox + Clone + 'static> Preparer<P, O> {
    /// As [`crate::Runtime::load`].
    ///
    /// # Errors
    /// As [`crate::Runtime::load`].
    pub fn load(
        &self,
        label: &str,
        bytes: &[u8],
        grant: &Grant,
    ) -> Result<LoadedModule, LoadError> {
        loader::load(&self.engine, label, bytes, grant)
    }

    /// Instantiates `module` as generation `generation` without running any
    /// entry point.
    ///
    /// # Errors
    /// A [`Fault`] if instantiation fails (limits, a module loaded by another
    /// runtime).
    pub fn prepare(
        &self,
        module: &LoadedModule,
        platform: P,
        outbox: O,
        generation: u32,
    ) -> Result<Prepared<P, O>, Fault> {
        let parts = Parts {
            engine: &self.engine,
            linker: &self.linker,
            limits: self.limits,
        };
        parts
            .instantiate(module, platform, outbox, generation, Vec::new())
            .map(|sandbox| Prepared { sandbox })
    }
}
