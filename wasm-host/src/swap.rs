//! Hot swap: move a running module's state into a new version, atomically.

use crate::faults::Fault;
use crate::loader::LoadedModule;
use crate::outbox::Outbox;
use crate::platform::Platform;
use crate::prepare::Prepared;
use crate::runtime::Runtime;
use crate::sandbox::Sandbox;
use cella_abi::LogLevel;

/// The step of a swap that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapStage {
    /// The old instance could not save its state.
    Save,
    /// The new version could not be instantiated.
    Instantiate,
    /// The new version refused or choked on the state.
    Restore,
}

/// The stage as reports name it: `the save step`, `the instantiation of the
/// new version` or `the restore step`.
impl core::fmt::Display for SwapStage {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            Self::Save => "the save step",
            Self::Instantiate => "the instantiation of the new version",
            Self::Restore => "the restore step",
        })
    }
}

/// A failed swap. The old instance is still installed and running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapError {
    /// Where it failed.
    pub stage: SwapStage,
    /// The fault (of the old module for [`SwapStage::Save`], else of the new).
    pub fault: Fault,
}

impl<P: Platform + Clone + 'static, O: Outbox + Clone + 'static> Runtime<P, O> {
    /// Replaces the module running in `sandbox` by `new`, carrying its state:
    /// `new` is instantiated, the old instance saves its state
    /// (`save_state`), the new one restores it (`state_buffer`,
    /// `restore_state`; not `init`), and only then does it take the old
    /// one's place. Requests the old instance had not answered carry over,
    /// and so do the calls it waits on.
    /// The caller delivers no events meanwhile (it holds `&mut sandbox`).
    ///
    /// # Errors
    /// A [`SwapError`] when any step fails; `sandbox` then still runs the old
    /// instance, with its IRQ lines as they were.
    pub fn swap(
        &mut self,
        sandbox: &mut Sandbox<P, O>,
        new: &LoadedModule,
    ) -> Result<(), SwapError> {
        let platform = sandbox.store.data().platform.clone();
        let outbox = sandbox.store.data().outbox.clone();
        let prepared = self
            .preparer()
            .prepare(new, platform, outbox)
            .map_err(|fault| SwapError {
                stage: SwapStage::Instantiate,
                fault,
            })?;
        self.swap_prepared(sandbox, prepared)
    }

    /// The hand-over of a swap whose new instance was prepared beforehand
    /// ([`crate::Preparer::prepare`]): save, restore, replace. This is all
    /// the time the module gets no events.
    ///
    /// Until the new instance takes over, whatever it sends or replies is
    /// held and its DMA allocations count the old instance's buffers against
    /// the grant. At the commit the held messages go out; on failure they
    /// are discarded, the old instance keeps its pending requests as they
    /// were and each of its IRQ lines is masked or unmasked as it was.
    ///
    /// # Errors
    /// As [`Runtime::swap`] (never [`SwapStage::Instantiate`]).
    pub fn swap_prepared(
        &mut self,
        sandbox: &mut Sandbox<P, O>,
        prepared: Prepared<P, O>,
    ) -> Result<(), SwapError> {
        let saved = sandbox.save_state().map_err(|fault| SwapError {
            stage: SwapStage::Save,
            fault,
        })?;
        let mut prepared = prepared;
        let generation = self.reserve_generation();
        let old = sandbox.store.data();
        prepared.adopt(
            generation,
            old.capabilities.lineage(),
            old.capabilities.dma_used(),
        );
        let mut fresh = prepared.sandbox;
        fresh.store.data_mut().pending_requests = old.pending_requests.clone();
        // It borrows the buffers lent with them.
        crate::loans::carry_over(old, fresh.store.data_mut());
        // The new version receives the replies to the old one's calls.
        fresh.store.data_mut().calls = old.calls.clone();
        let old_lines = sandbox.line_states();
        if let Err(fault) = fresh.restore_state(&saved) {
            // Dropping the new instance discards its held messages, frees its
            // DMA buffers and masks the lines it unmasked.
            drop(fresh);
            let state = sandbox.store.data_mut();
            for (line, enabled) in old_lines {
                state.platform.irq_set_enabled(line, enabled);
            }
            return Err(SwapError {
                stage: SwapStage::Restore,
                fault,
            });
        }
        let new_lines = fresh.enabled_lines();
        sandbox.release(&new_lines);
        *sandbox = fresh;
        commit(sandbox);
        Ok(())
    }
}

/// The new instance has taken over: the old one's DMA is gone, and the
/// messages it held go out now.
fn commit<P: Platform, O: Outbox>(sandbox: &mut Sandbox<P, O>) {
    let state = sandbox.store.data_mut();
    state.dma_held_by_predecessor = 0;
    let Some(held) = state.held.take() else {
        return;
    };
    let undelivered = held.release(&mut state.outbox);
    for request in &undelivered.requests {
        if !state.pending_requests.contains(request) {
            state.pending_requests.push(*request);
        }
    }
    if let Some(warning) = undelivered.report() {
        state.platform.log(&state.module, LogLevel::Warn, &warning);
    }
}
