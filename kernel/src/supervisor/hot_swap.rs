//! Hot swap in the running system: `swap NAME FILE`, and modules pushed from
//! the host.
//!
//! A swap has slow steps and a short one. Validating and compiling the new
//! `.wasm` and instantiating it (milliseconds under TCG) run on a thread of
//! their own while the old instance keeps handling its events
//! ([`System::run_elsewhere`]). Only the hand-over stops the module's
//! events: wait for the old instance to finish its current event, save its
//! state, restore it into the new instance, put the new one in place. That
//! hand-over is the blackout `cargo cella bench` measures.

use crate::mm::budget;
use crate::sandboxes::platform::KernelPlatform;
use crate::sandboxes::router::KernelOutbox;
use crate::sandboxes::system::System;
use crate::time;
use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use cella_wasm_host::Prepared;

/// A new instance ready to take over.
type KernelPrepared = Prepared<KernelPlatform, KernelOutbox>;

/// When the last swap stopped the module's events and when it handed over (kept for the
/// test kernel's supervisor benchmark).
#[cfg(feature = "test-hooks")]
#[derive(Clone, Copy, Debug, Default)]
pub struct SwapTiming {
    pub events_stopped_at: u64,
    pub handed_over_at: u64,
}

impl System {
    /// `swap NAME FILE`: replaces the running module with the `.wasm` at FILE in
    /// the boot archive, carrying its state over. The new module's request must
    /// fit the old grant (checked before anything stops). On any failure the
    /// old instance keeps running unchanged.
    ///
    /// # Errors
    /// Why the swap did not happen.
    pub fn swap(&mut self, name: &str, file: &str) -> Result<String, String> {
        let index = self
            .find(name)
            .ok_or_else(|| format!("no module named {name}"))?;
        let bytes = match self.archive.find(file) {
            Ok(Some(entry)) => entry.data,
            Ok(None) => return Err(format!("`{file}` is not in the boot archive")),
            Err(error) => return Err(format!("boot archive unreadable: {error}")),
        };
        self.swap_to(index, Cow::Borrowed(bytes))
    }

    /// Swaps running module `index` to the module in `bytes`.
    pub(crate) fn swap_to(
        &mut self,
        index: usize,
        bytes: Cow<'static, [u8]>,
    ) -> Result<String, String> {
        let name = self.slots[index].plan.name.clone();
        if !self.slots[index].is_running() {
            return Err(format!(
                "{name} is not running ({})",
                self.slots[index].state.name()
            ));
        }
        let started = time::now_nanoseconds();
        let prepared = self.prepare_elsewhere(index, bytes)?;
        self.hand_over(index, prepared, started)
    }

    /// Loads and instantiates `bytes` for module `index` on another thread,
    /// running the event loop until it is done.
    fn prepare_elsewhere(
        &mut self,
        index: usize,
        bytes: Cow<'static, [u8]>,
    ) -> Result<KernelPrepared, String> {
        let plan = &self.slots[index].plan;
        let grant = self.grant_for(plan);
        let label = plan.name.clone();
        let preparer = self.runtime.preparer();
        // The new version is charged to the module's account while the old
        // one still holds its share: both together must fit its limit.
        let account = crate::sandboxes::system::account_of(index);
        budget::admit_load(account, bytes.len())
            .map_err(|why| format!("not enough kernel memory for a second instance: {why}"))?;
        let prepared = self.run_elsewhere("swap-prepare", move || {
            crate::sched::charge_to(account, || {
                preparer
                    .load(&label, &bytes, &grant)
                    .map_err(|error| format!("refused at load: {error}"))
                    .and_then(|module| {
                        preparer
                            .prepare(&module, KernelPlatform, KernelOutbox)
                            .map_err(|fault| format!("failed at Instantiate: {fault}"))
                    })
            })
        })?;
        match budget::over_limit(account) {
            Some(why) => Err(format!(
                "the new version does not fit beside the old one: {why}"
            )),
            None => Ok(prepared),
        }
    }

    /// Stops module `index`'s events and moves its state into `prepared`.
    fn hand_over(
        &mut self,
        index: usize,
        prepared: KernelPrepared,
        started: u64,
    ) -> Result<String, String> {
        let events_stopped_at = time::now_nanoseconds();
        self.bring_home(index);
        let name = self.slots[index].plan.name.clone();
        let slot = &mut self.slots[index];
        let (old_version, old_state) = slot.module.as_ref().map_or((String::new(), 0), |module| {
            (String::from(module.version()), module.state_version())
        });
        let new = prepared.module().clone();
        let running = slot.is_running();
        let sandbox = match slot.sandbox.as_mut() {
            Some(sandbox) if running => sandbox,
            _ => {
                return Err(format!(
                    "{name} stopped running while its new version was prepared ({})",
                    slot.state.name()
                ));
            }
        };
        let account = crate::sandboxes::system::account_of(index);
        let runtime = &mut self.runtime;
        crate::sched::charge_to(account, || runtime.swap_prepared(sandbox, prepared)).map_err(|error| {
            super::records::log_last_accesses(&error.fault);
            format!(
                "swap of {name} {old_version} (state format {old_state}) to {} (state format {}) failed at {:?}: {}; the old version keeps running",
                new.version(),
                new.state_version(),
                error.stage,
                error.fault
            )
        })?;
        let handed_over_at = time::now_nanoseconds();
        #[cfg(feature = "test-hooks")]
        {
            self.last_swap = SwapTiming {
                events_stopped_at,
                handed_over_at,
            };
        }
        let generation = sandbox.generation();
        let message = format!(
            "{name}: swapped {old_version} -> {} (state format {old_state} -> {}, generation {generation}) in {} us, events stopped for {} us; {} queued events follow",
            new.version(),
            new.state_version(),
            (handed_over_at - started) / 1000,
            (handed_over_at - events_stopped_at) / 1000,
            slot.inbox.len()
        );
        slot.module = Some(new);
        log::info!("{message}");
        Ok(message)
    }

    /// Installs a module pushed from the host: a hot swap if `target` is
    /// running; otherwise it is loaded and started under `target`'s grant from
    /// the system manifest, or, for a name the manifest does not know, as a new
    /// module with no capabilities beyond logging and time.
    ///
    /// # Errors
    /// Why nothing changed.
    pub fn install_pushed(&mut self, target: &str, bytes: &[u8]) -> Result<String, String> {
        if let Some(index) = self.find(target) {
            self.bring_home(index);
            if self.slots[index].is_running() {
                return self.swap_to(index, Cow::Owned(bytes.to_vec()));
            }
            let plan = self.slots[index].plan.clone();
            let new = self.load_bytes(&plan, bytes)?;
            let slot = &mut self.slots[index];
            slot.module = Some(new);
            slot.sandbox = None;
            return self
                .restart_by_hand(target)
                .map(|state| format!("loaded and started ({state})"));
        }
        let plan = crate::system_manifest::ModulePlan {
            name: String::from(target),
            file: String::from("(pushed from the host)"),
            ..Default::default()
        };
        let new = self.load_bytes(&plan, bytes)?;
        let version = String::from(new.version());
        self.add_module(plan, new)?;
        Ok(format!(
            "{target} {version} loaded new and started (no capabilities beyond logging and time)"
        ))
    }
}
