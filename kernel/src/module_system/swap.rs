//! Hot swap as states of the event loop: checked (the module runs, the file
//! exists, both versions fit its memory limit, and unless forced the new
//! version is a module of the same name) -> preparing (loaded and
//! instantiated elsewhere while the old instance handles its events) ->
//! handing over (no new event; once the old instance is home its state moves
//! over). Modules pushed from the host come in here too.

use super::commands::Hand;
use super::event_loop::EventLoop;
use super::operations::{Progress, Stage, no_module};
use super::services::{KernelServices, PreparedOf};
use super::slot::{ModuleState, SwapStage};
use super::table::{ModuleTable, account_of};
use crate::supervisor::reports::{CommandError, Installed, Report, SwapReport};
use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::LoadedModule;

impl<K: KernelServices> EventLoop<K> {
    /// Checks a swap of module `name` to `bytes` and starts preparing the new version.
    pub(super) fn start_swap(
        &mut self,
        id: u64,
        name: &str,
        bytes: Cow<'static, [u8]>,
        install: bool,
        check_name: bool,
    ) -> Progress<K> {
        let Some(index) = self.table.find(name) else {
            return Progress::finished(Err(no_module(name)));
        };
        let slot = &self.table.slots[index];
        if !slot.is_running() {
            return Progress::finished(Err(CommandError::NotRunning {
                module: String::from(name),
                state: slot.state.name(),
            }));
        }
        let started_at = self.kernel.now();
        // The new version is charged to the module's account while the old
        // one still holds its share: both together must fit its limit.
        let account = account_of(index);
        if let Err(why) = self.kernel.admit_load(account, bytes.len()) {
            return Progress::finished(Err(CommandError::SwapFailed(format!(
                "not enough kernel memory for a second instance: {why}"
            ))));
        }
        let grant = ModuleTable::<K>::grant_for(&slot.plan, &self.router, &self.kernel);
        let preparer = self.table.runtime.preparer();
        self.kernel
            .prepare_elsewhere(id, preparer, slot.plan.name.clone(), bytes, grant, account);
        self.table.slots[index].state = ModuleState::Swapping(SwapStage::Preparing);
        Progress::Next(Stage::Preparing {
            index,
            started_at,
            install,
            check_name,
        })
    }

    /// The new version is prepared (or not): on to the hand-over.
    pub(super) fn prepared(
        &mut self,
        index: usize,
        prepared: Result<Box<PreparedOf<K>>, String>,
        started_at: u64,
        install: bool,
        check_name: bool,
    ) -> Progress<K> {
        let slot = &mut self.table.slots[index];
        let name = slot.plan.name.clone();
        let over_limit = self.kernel.over_memory_limit(account_of(index));
        let result = match (prepared, over_limit) {
            (Err(problem), _) => Err(CommandError::SwapFailed(problem)),
            (Ok(_), Some(why)) => Err(CommandError::SwapFailed(format!(
                "the new version does not fit beside the old one: {why}"
            ))),
            (Ok(_), None) if slot.state != ModuleState::Swapping(SwapStage::Preparing) => {
                Err(CommandError::SwapFailed(format!(
                    "{name} stopped running while its new version was prepared ({})",
                    slot.state.name()
                )))
            }
            (Ok(prepared), None) if check_name && prepared.module().name() != name => {
                Err(CommandError::SwapFailed(format!(
                    "the new version is the module `{}`, not `{name}` (its manifest says so); nothing changed. The shell's `swap --force {name} FILE` swaps it in anyway",
                    prepared.module().name()
                )))
            }
            (Ok(prepared), None) => Ok(prepared),
        };
        match result {
            Ok(prepared) => {
                slot.state = ModuleState::Swapping(SwapStage::HandingOver);
                Progress::Next(Stage::HandingOver {
                    index,
                    prepared,
                    started_at,
                    events_stopped_at: self.kernel.now(),
                    install,
                })
            }
            Err(error) => {
                if slot.state == ModuleState::Swapping(SwapStage::Preparing) {
                    slot.state = ModuleState::Running;
                }
                Progress::finished(Err(error))
            }
        }
    }

    /// Moves module `index`'s state into `prepared`, which takes its place.
    pub(super) fn hand_over(
        &mut self,
        index: usize,
        prepared: Box<PreparedOf<K>>,
        started_at: u64,
        events_stopped_at: u64,
    ) -> Result<SwapReport, CommandError> {
        let slot = &mut self.table.slots[index];
        let name = slot.plan.name.clone();
        let swapping = slot.state == ModuleState::Swapping(SwapStage::HandingOver);
        let (old_version, old_state) = slot.module.as_ref().map_or((String::new(), 0), |module| {
            (String::from(module.version()), module.state_version())
        });
        let new = prepared.module().clone();
        let sandbox = match slot.sandbox.as_mut() {
            Some(sandbox) if swapping && sandbox.is_alive() => sandbox,
            _ => {
                return Err(CommandError::SwapFailed(format!(
                    "{name} stopped running while its new version was prepared ({})",
                    slot.state.name()
                )));
            }
        };
        slot.state = ModuleState::Running;
        let runtime = &mut self.table.runtime;
        let router = &self.router;
        self.kernel
            .charge(account_of(index), || runtime.swap_prepared(sandbox, *prepared))
            .map_err(|error| {
                crate::supervisor::records::log_last_accesses(&error.fault, &|access| {
                    router.access_text(access)
                });
                CommandError::SwapFailed(format!(
                    "swap of {name} {old_version} (state format {old_state}) to {} (state format {}) failed at {}: {}; the old version keeps running",
                    new.version(),
                    new.state_version(),
                    error.stage,
                    error.fault
                ))
            })?;
        let handed_over_at = self.kernel.now();
        let old_generation = slot.generation;
        slot.generation = sandbox.generation();
        // The new version took over the old one's calls.
        self.router
            .rebase_calls(index, old_generation, slot.generation);
        self.command_calls
            .rebase(index, old_generation, slot.generation);
        let report = SwapReport {
            module: name,
            old_version,
            new_version: String::from(new.version()),
            old_state_format: old_state,
            new_state_format: new.state_version(),
            generation: slot.generation,
            total_ns: handed_over_at - started_at,
            blackout_ns: handed_over_at - events_stopped_at,
            queued: slot.inbox.len(),
        };
        slot.module = Some(new);
        // Not logged here: whoever asked prints the report once (the shell
        // as its answer, a push as `push: ...` in the log).
        Ok(report)
    }

    /// Installs a module pushed from the host: a hot swap if `target` is
    /// running; otherwise it is loaded and started under `target`'s grant
    /// from the system manifest. A name the running system does not know
    /// is refused: such a module comes with its manifest entry
    /// ([`EventLoop::install_granted`]).
    pub(super) fn install(&mut self, id: u64, target: &str, bytes: Vec<u8>) -> Progress<K> {
        let finished = Progress::finished;
        if let Some(index) = self.table.find(target) {
            if self.table.slots[index].is_running() {
                return self.start_swap(id, target, Cow::Owned(bytes), true, true);
            }
            let plan = self.table.slots[index].plan.clone();
            // A removed module gave up its grants: it comes back under them
            // only if nobody has taken them since.
            if self.table.slots[index].state == ModuleState::Removed
                && let Err(why) = self.fits_running_system(&plan)
            {
                return finished(Err(CommandError::Refused(format!(
                    "{why}; nothing changed"
                ))));
            }
            let module = match self
                .table
                .load_bytes(&plan, &bytes, &self.router, &self.kernel)
            {
                Ok(module) => module,
                Err(problem) => return finished(Err(CommandError::Refused(problem))),
            };
            if let Err(why) = named_as(&module, target) {
                return finished(Err(CommandError::Refused(why)));
            }
            let slot = &mut self.table.slots[index];
            slot.module = Some(module);
            slot.sandbox = None;
            // A removed module's endpoints are open to processes again.
            let served = slot.serves.clone();
            self.router.open_served(&served, &mut self.kernel);
            return finished(self.by_hand(target, Hand::Restart).map(|report| {
                let state = match report {
                    Report::Restarted { state, .. } => state,
                    _ => "running",
                };
                Report::Installed(Installed::Started {
                    module: String::from(target),
                    state,
                })
            }));
        }
        finished(Err(CommandError::Refused(format!(
            "`{target}` is missing from the running system's manifest, so it has no grant; send its manifest entry with it: `cargo cella push {target} --grant` (docs/push.md)"
        ))))
    }
}

/// Checks that a module pushed from the host for `target` names itself
/// `target` in its own manifest (a module loaded from the boot archive may
/// run under another name its system manifest gives it; one from the host
/// may not).
///
/// # Errors
/// What it names itself instead.
pub(super) fn named_as(module: &LoadedModule, target: &str) -> Result<(), String> {
    if module.name() == target {
        Ok(())
    } else {
        Err(format!(
            "the module is `{}`, not `{target}` (its manifest says so); nothing changed",
            module.name()
        ))
    }
}
