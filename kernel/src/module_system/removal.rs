//! `remove [--force] NAME`: takes a module out of the running system. It is
//! stopped as by `stop` (its IRQ lines revoked, the console taken back if it
//! drove it, the requests waiting for it failed), then unloaded: its
//! instance and its compiled code are dropped, which frees their memory and
//! releases what its instance held (ports, device memory, DMA buffers).
//! The slot stays, marked `removed`, so its name and endpoints answer with
//! that state; a push from the host loads it again under its grant.

use super::commands::serves_console;
use super::event_loop::EventLoop;
use super::operations::no_module;
use super::services::KernelServices;
use super::slot::ModuleState;
use crate::supervisor::decisions::{SupervisorEvent, decide};
use crate::supervisor::replay::Outcome;
use crate::supervisor::reports::{CommandError, Report};
use alloc::format;
use alloc::string::String;

impl<K: KernelServices> EventLoop<K> {
    /// `remove [--force] NAME`, with the instance home.
    pub(super) fn remove(&mut self, name: &str, force: bool) -> Result<Report, CommandError> {
        let index = self.table.find(name).ok_or_else(|| no_module(name))?;
        let slot = &mut self.table.slots[index];
        if slot.state == ModuleState::Removed {
            return Err(CommandError::NotRunning {
                module: String::from(name),
                state: slot.state.name(),
            });
        }
        if !force && serves_console(slot) {
            return Err(CommandError::Refused(format!(
                "{name} carries the console (what you type and what you read): removed, it would leave no way to type a command. `remove --force {name}` removes it anyway; then a push from the host (`cargo cella push`) brings it back"
            )));
        }
        let running = slot.state.is_up();
        let mut actions = decide(
            SupervisorEvent::StopAsked { running },
            &slot.policy,
            &mut slot.tracker,
        );
        // What waits for a module that is down (restarting, held) waits for
        // nothing once it is removed.
        actions.settle = Some(Outcome::Down);
        self.apply(index, actions, 0);
        let slot = &mut self.table.slots[index];
        slot.sandbox = None;
        slot.module = None;
        slot.inbox.clear();
        slot.waiting_since = None;
        slot.tracing = false;
        slot.state = ModuleState::Removed;
        // A native process may serve its endpoints now.
        let served = slot.serves.clone();
        self.router.close_served(&served, &mut self.kernel);
        log::info!("supervisor: {name} removed: stopped and unloaded, its grants released");
        Ok(Report::Removed {
            module: String::from(name),
        })
    }
}
