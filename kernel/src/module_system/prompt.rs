//! The shell's prompt and the kernel's own output: both reach the terminal
//! through its driver (the server of `uart`), so a log line can land in the
//! middle of a half-typed command line. The kernel's output then starts on
//! a line of its own (see `crate::console`), and once its output has gone to the
//! driver the event loop sends a `redraw` (`cella_interfaces::console`) to the server of
//! [`PROMPT_ENDPOINT`] (the shell), which draws the prompt and the line typed
//! so far again. Nothing is sent before the boot is done, so the first
//! prompt comes after the line that ends the boot (`all modules up`, or
//! `boot done` naming the modules that are not).

use super::event_loop::EventLoop;
use super::services::KernelServices;
use super::slot::Pending;
use alloc::vec::Vec;

/// The endpoint whose server draws the prompt.
pub const PROMPT_ENDPOINT: &str = "console";

impl<K: KernelServices> EventLoop<K> {
    /// Tells the prompt's server to draw its prompt again if the kernel's
    /// output went to the terminal since the last time, once the boot is
    /// done. A server that is not running or has a full inbox is not told
    /// (the next output tells it), nor one being traced.
    pub(crate) fn redraw_prompt_after_output(&mut self) {
        if !self.prompt_allowed || !core::mem::take(&mut self.router.console_written) {
            return;
        }
        let Some(endpoint) = self.router.endpoint_id(PROMPT_ENDPOINT) else {
            return;
        };
        let Some(server) = self.table.server_of(endpoint) else {
            return;
        };
        let slot = &mut self.table.slots[server];
        // A traced prompt server is not told: the trace of its redraw would
        // be kernel output again, and tell it again, without end.
        let mut redraw = [0; 16];
        if slot.is_running()
            && slot.inbox_has_room()
            && !slot.tracing
            && let Ok(length) = cella_interfaces::console::redraw::request(&mut redraw)
        {
            slot.inbox.push_back(Pending::Message {
                request: 0,
                bytes: Vec::from(redraw.get(..length).unwrap_or_default()),
            });
        }
    }
}
