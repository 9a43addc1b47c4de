//! Preparing a new instance away from the runtime: hot swap loads (validates,
//! compiles) and instantiates the new version on another thread while the
//! old instance keeps serving, so only the state hand-over stops events.

use crate::capabilities::CapabilityTable;
use crate::faults::Fault;
use crate::grant::Grant;
use crate::held::HeldMessages;
use crate::limits::Limits;
use crate::loader::{LoadError, LoadedModule};
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::runtime::Parts;
use crate::sandbox::Sandbox;
use alloc::vec::Vec;
use core::marker::PhantomData;
use wasmi::Config;

/// The generation of a prepared instance until it takes over.
const PLACEHOLDER_GENERATION: u32 = 0;

/// A runtime's engine settings and limits, to load and instantiate
/// modules on another thread. Made by [`crate::Runtime::preparer`]; modules
/// it loads belong to that runtime.
pub struct Preparer<P: Platform + 'static, O: Outbox + 'static> {
    pub(crate) config: Config,
    pub(crate) runtime: u32,
    pub(crate) limits: Limits,
    pub(crate) host: PhantomData<fn() -> (P, O)>,
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

    /// Becomes generation `generation`, successor of `lineage` (the
    /// generations of the instance it replaces), which still holds
    /// `predecessor_dma` bytes of DMA. Done at the hand-over, so generations
    /// stay in the order instances take over; no entry point has run, so no
    /// handle of the placeholder generation exists.
    pub(crate) fn adopt(&mut self, generation: u32, lineage: Vec<u32>, predecessor_dma: u64) {
        let state = self.sandbox.store.data_mut();
        state.dma_held_by_predecessor = predecessor_dma;
        state.capabilities = CapabilityTable::new(
            generation,
            lineage,
            self.sandbox.module.capabilities.clone(),
            self.sandbox.module.served.clone(),
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
        crate::runtime::load_with_own_engine::<P, O>(
            &self.config,
            self.runtime,
            label,
            bytes,
            grant,
        )
    }

    /// Instantiates `module` without running any entry point. Its generation
    /// is given at the hand-over ([`crate::Runtime::swap_prepared`]).
    ///
    /// # Errors
    /// A [`Fault`] if instantiation fails (limits, a module loaded by another
    /// runtime).
    pub fn prepare(
        &self,
        module: &LoadedModule,
        platform: P,
        outbox: O,
    ) -> Result<Prepared<P, O>, Fault> {
        let parts = Parts {
            runtime: self.runtime,
            limits: self.limits,
        };
        parts
            .instantiate(module, platform, outbox, PLACEHOLDER_GENERATION, Vec::new())
            .map(|mut sandbox| {
                // Until the swap commits, nothing it sends leaves.
                sandbox.store.data_mut().held = Some(HeldMessages::default());
                Prepared { sandbox }
            })
    }
}
