//! Slow work the event loop has to wait for without stopping (compiling a
//! swap's new version, a supervisor `call` to a process): it runs on a thread
//! of its own while the event loop keeps delivering events. Supervisor
//! commands and pushes that arrive meanwhile wait until it is done.

use super::system::System;
use super::worker;
use crate::sched::{self, Priority};
use alloc::boxed::Box;
use alloc::sync::Arc;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

impl System {
    /// Runs `work` on a new thread called `name` and the event loop until it
    /// is done; returns its result. Without the scheduler (or a stack for the
    /// thread) `work` runs right here.
    pub(crate) fn run_elsewhere<T: Send + 'static>(
        &mut self,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let outcome: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let job = Arc::new(Mutex::new(Some(work)));
        let (for_thread, deliver_to) = (Arc::clone(&job), Arc::clone(&outcome));
        let spawned = sched::is_running()
            && sched::spawn_with(
                name,
                Priority::Normal,
                worker::STACK_PAGES,
                None,
                Box::new(move || {
                    if let Some(work) = without_interrupts(|| for_thread.lock().take()) {
                        let result = work();
                        without_interrupts(|| *deliver_to.lock() = Some(result));
                        worker::nudge_event_loop();
                    }
                }),
            )
            .is_ok();
        if !spawned && let Some(work) = without_interrupts(|| job.lock().take()) {
            return work();
        }
        let outer = core::mem::replace(&mut self.in_command, true);
        let result = loop {
            if let Some(result) = without_interrupts(|| outcome.lock().take()) {
                break result;
            }
            if !self.step() {
                self.wait_for_work();
            }
        };
        self.in_command = outer;
        result
    }
}
