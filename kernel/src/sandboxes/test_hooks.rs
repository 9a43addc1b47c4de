//! What the test kernel's scenarios may see and do in the module table (feature
//! `test-hooks`; the production kernel is built without it).
//!
//! The scenarios in `tests/kernel` drive the event loop step by step, queue
//! events, swap modules in from bytes and read the replies to their own
//! requests. Everything they need is here, in one place, instead of reaching
//! into [`System`]'s fields.

use super::slot::{Pending, Slot};
use super::system::{CONSOLE_OUTPUT_ENDPOINT, KernelRequest, System};
use crate::archive::Archive;
use crate::supervisor::hot_swap::SwapTiming;
use crate::system_manifest::ModulePlan;
use crate::{console, time};
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::LoadedModule;

impl System {
    /// Runs the event loop for `nanoseconds` of kernel time.
    pub fn run_for(&mut self, nanoseconds: u64) {
        let deadline = time::now_nanoseconds().saturating_add(nanoseconds);
        while time::now_nanoseconds() < deadline {
            if !self.step() {
                self.wait_for_work();
            }
        }
    }

    /// Runs until nothing has happened for 20 ms (at most one second), so
    /// queued console output has left through the driver; then the kernel
    /// takes the console back. Used before ending a run.
    pub fn settle(&mut self) {
        let limit = time::now_nanoseconds() + 1_000_000_000;
        let mut quiet_since = time::now_nanoseconds();
        loop {
            let now = time::now_nanoseconds();
            if now >= limit || now - quiet_since >= 20_000_000 {
                break;
            }
            if self.step() {
                quiet_since = time::now_nanoseconds();
            } else {
                self.wait_for_work();
            }
        }
        self.bring_all_home();
        console::take_back(Vec::new());
    }

    /// Names of the modules the manifest boots that are not running.
    pub fn modules_down(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|slot| !slot.plan.on_demand && !slot.is_running())
            .map(|slot| slot.plan.name.as_str())
            .collect()
    }

    /// Module `index` of the table (see [`System::find`]).
    ///
    /// # Panics
    /// If `index` is not in the table (a scenario's own mistake).
    pub fn module(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    /// The boot archive the modules came from.
    pub fn boot_archive(&self) -> Archive<'static> {
        self.archive
    }

    /// Whether module `index` serves the endpoint the console output goes to.
    pub fn serves_console_output(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|slot| {
            slot.serves
                .iter()
                .any(|endpoint| self.endpoint_name(*endpoint) == CONSOLE_OUTPUT_ENDPOINT)
        })
    }

    /// Queues a message for module `index` as if a module had sent it (`request` 0: no
    /// reply is expected).
    pub fn queue_message(&mut self, index: usize, request: u32, bytes: &[u8]) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.inbox.push_back(Pending::Message {
                request,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// Forgets module `index`'s restart history, so its next fault restarts it at once.
    pub fn reset_restart_history(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.tracker.reset();
        }
    }

    /// Waits until module `index` is home, then makes `module` the one its next restart
    /// instantiates (its current instance is dropped).
    pub fn replace_loaded_module(&mut self, index: usize, module: LoadedModule) {
        self.bring_home(index);
        if let Some(slot) = self.slots.get_mut(index) {
            slot.module = Some(module);
            slot.sandbox = None;
        }
    }

    /// Checks `bytes` against `plan`'s grant, as a load from the boot archive does.
    ///
    /// # Errors
    /// Why the module was refused.
    pub fn load_module_bytes(
        &self,
        plan: &ModulePlan,
        bytes: &[u8],
    ) -> Result<LoadedModule, String> {
        self.load_bytes(plan, bytes)
    }

    /// Swaps running module `index` to the module in `bytes` (see [`System::swap`]).
    ///
    /// # Errors
    /// Why the swap did not happen; the old instance keeps running.
    pub fn swap_to_bytes(&mut self, index: usize, bytes: Vec<u8>) -> Result<String, String> {
        self.swap_to(index, Cow::Owned(bytes))
    }

    /// Waits until module `index`'s instance is home (at most one event).
    pub fn wait_until_home(&mut self, index: usize) {
        self.bring_home(index);
    }

    /// Waits until every instance is home.
    pub fn wait_until_all_home(&mut self) {
        self.bring_all_home();
    }

    /// Points console output at the console driver again if it runs.
    pub fn reroute_console_output(&mut self) {
        self.route_console_output();
    }

    /// Sends a request to the module serving `endpoint` whose reply is only counted
    /// ([`System::probe_replies`]); false if nobody serves it.
    pub fn send_probe(&mut self, endpoint: &str, bytes: &[u8]) -> bool {
        self.kernel_request(endpoint, bytes, KernelRequest::Probe)
    }

    /// Replies to [`System::send_probe`] so far.
    pub fn probe_replies(&self) -> u64 {
        self.probe_replies
    }

    /// Sends a request to the module serving `endpoint` whose reply is kept until
    /// [`System::take_collected_reply`]; its request id, or `None` if nobody serves it or
    /// the server is down for good.
    pub fn send_collected(&mut self, endpoint: &str, bytes: &[u8]) -> Option<u32> {
        let server = self
            .endpoint_id(endpoint)
            .and_then(|id| self.server_of(id))?;
        if !self.slots[server].accepts_messages() {
            return None;
        }
        let request = self.new_kernel_request(server, KernelRequest::Collect);
        self.queue_message(server, request, bytes);
        Some(request)
    }

    /// Whether request `id` of [`System::send_collected`] is neither answered nor forgotten.
    pub fn request_outstanding(&self, id: u32) -> bool {
        !self.collected_replies.contains_key(&id) && self.kernel_requests.contains_key(&id)
    }

    /// Whether request `id` of [`System::send_collected`] has its reply.
    pub fn has_collected_reply(&self, id: u32) -> bool {
        self.collected_replies.contains_key(&id)
    }

    /// Takes the reply to request `id` of [`System::send_collected`] and forgets the request.
    pub fn take_collected_reply(&mut self, id: u32) -> Option<Vec<u8>> {
        self.kernel_requests.remove(&id);
        self.collected_replies.remove(&id)
    }

    /// When the last hot swap stopped the module's events and when it handed over.
    pub fn last_swap(&self) -> SwapTiming {
        self.last_swap
    }
}
