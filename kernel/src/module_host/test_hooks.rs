//! What the test kernel's scenarios may see and do in the module table (feature
//! `test-hooks`; the production kernel is built without it).
//!
//! The scenarios in `tests/kernel` drive the event loop step by step, queue
//! events, carry out commands to their end, swap modules in from bytes and
//! read the replies to their own requests. Everything they need is here, in
//! one place, instead of reaching into the module system's parts.

use super::services::{Kernel, System};
use crate::archive::Archive;
use crate::module_system::operations::Task;
use crate::module_system::router::{CONSOLE_OUTPUT_ENDPOINT, KernelRequest};
use crate::module_system::slot::{Pending, Slot};
use crate::supervisor::command_line::Command;
use crate::supervisor::records::FaultRecord;
use crate::supervisor::report_text::text_of;
use crate::supervisor::reports::{Report, SwapReport};
use crate::system_manifest::ModulePlan;
use crate::{console, time};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Capability, Entry, LoadedModule};

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
        self.wait_until_all_home();
        console::take_back(Vec::new());
    }

    /// Names of the modules the manifest boots from the boot archive that are not running.
    pub fn modules_down(&self) -> Vec<&str> {
        self.table
            .slots
            .iter()
            // A module kept on the file system starts only from a disk that holds it.
            .filter(|slot| {
                crate::module_system::lifecycle::boots_from_archive(&slot.plan)
                    && !slot.is_running()
            })
            .map(|slot| slot.plan.name.as_str())
            .collect()
    }

    /// The table index of module `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.table.find(name)
    }

    /// Module `index` of the table (see [`System::find`]).
    ///
    /// # Panics
    /// If `index` is not in the table (a scenario's own mistake).
    pub fn module(&self, index: usize) -> &Slot<Kernel> {
        &self.table.slots[index]
    }

    /// The boot archive the modules came from.
    pub fn boot_archive(&self) -> Archive<'static> {
        self.table.archive
    }

    /// Every fault recorded so far, oldest first.
    pub fn faults(&self) -> Vec<FaultRecord> {
        self.records.all().cloned().collect()
    }

    /// Whether module `index` serves the endpoint the console output goes to.
    pub fn serves_console_output(&self, index: usize) -> bool {
        self.table.slots.get(index).is_some_and(|slot| {
            slot.serves
                .iter()
                .any(|endpoint| self.router.endpoint_name(*endpoint) == CONSOLE_OUTPUT_ENDPOINT)
        })
    }

    /// Queues a message for module `index` as if a module had sent it (`request` 0: no
    /// reply is expected).
    pub fn queue_message(&mut self, index: usize, request: u32, bytes: &[u8]) {
        if let Some(slot) = self.table.slots.get_mut(index) {
            slot.inbox.push_back(Pending::Message {
                request,
                bytes: bytes.to_vec(),
            });
        }
    }

    /// Forgets module `index`'s restart history, so its next fault restarts it at once.
    pub fn reset_restart_history(&mut self, index: usize) {
        if let Some(slot) = self.table.slots.get_mut(index) {
            slot.tracker.reset();
        }
    }

    /// Waits until module `index` is home, then makes `module` the one its next restart
    /// instantiates (its current instance is dropped).
    pub fn replace_loaded_module(&mut self, index: usize, module: LoadedModule) {
        self.wait_until_home(index);
        if let Some(slot) = self.table.slots.get_mut(index) {
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
        self.table
            .load_bytes(plan, bytes, &self.router, &self.kernel)
    }

    /// Carries out `command` to its end; its text as the shell shows it, or
    /// the error's text.
    ///
    /// # Errors
    /// The command's error, as text.
    pub fn command(&mut self, command: Command) -> Result<String, String> {
        let outcome = self.run_command(command);
        let text = String::from(text_of(&outcome).trim_end());
        outcome.map(|_| text.clone()).map_err(|_| text)
    }

    /// `swap NAME FILE`, to its end.
    ///
    /// # Errors
    /// Why the swap did not happen; the old instance keeps running.
    pub fn swap(&mut self, name: &str, file: &str) -> Result<SwapReport, String> {
        swapped(self.run_command(Command::Swap {
            module: String::from(name),
            file: String::from(file),
            force: false,
        }))
    }

    /// Swaps running module `index` to the module in `bytes`, as a push does.
    ///
    /// # Errors
    /// Why the swap did not happen; the old instance keeps running.
    pub fn swap_to_bytes(&mut self, index: usize, bytes: Vec<u8>) -> Result<SwapReport, String> {
        let target = String::from(self.table.name(index));
        swapped(self.run_task(Task::Install { target, bytes }))
    }

    /// `restart NAME`, to its end.
    ///
    /// # Errors
    /// Why it did not restart.
    pub fn restart_by_hand(&mut self, name: &str) -> Result<String, String> {
        self.command(Command::Restart {
            module: String::from(name),
        })
    }

    /// `start NAME`, to its end.
    ///
    /// # Errors
    /// Why it did not start.
    pub fn start_by_hand(&mut self, name: &str) -> Result<String, String> {
        self.command(Command::Start {
            module: String::from(name),
        })
    }

    /// Waits until module `index`'s instance is home (at most one event):
    /// takes completions back, lends nothing new.
    pub fn wait_until_home(&mut self, index: usize) {
        while self.table.slots.get(index).is_some_and(|slot| slot.away) {
            if !self.take_completed() {
                self.wait_for_work();
            }
        }
    }

    /// Requests delivered to module `index`'s running instance and not yet answered
    /// (0 when it has no instance).
    pub fn pending_requests(&self, index: usize) -> usize {
        self.table
            .slots
            .get(index)
            .and_then(|slot| slot.sandbox.as_ref())
            .map_or(0, |sandbox| sandbox.pending_requests().len())
    }

    /// The DMA buffers module `index`'s instance holds: each one's device address and size.
    pub fn dma_buffers(&self, index: usize) -> Vec<(u64, u64)> {
        let Some(sandbox) = self
            .table
            .slots
            .get(index)
            .and_then(|slot| slot.sandbox.as_ref())
        else {
            return Vec::new();
        };
        sandbox
            .capabilities()
            .into_iter()
            .filter_map(|capability| match capability {
                Capability::DmaBuffer {
                    device_address,
                    size,
                    ..
                } => Some((device_address, size)),
                _ => None,
            })
            .collect()
    }

    /// Faults module `index`'s running instance from outside, as a DMA fault of its device
    /// does, once it is home: recorded with `reason`, its waiting requests settled by the
    /// replay rules, restarted by its policy. The requests it had delivered and not answered
    /// at the fault; `None` if it has no live instance.
    pub fn fault_from_outside(&mut self, index: usize, reason: &str) -> Option<usize> {
        self.wait_until_home(index);
        let pending = self.pending_requests(index);
        let sandbox = self
            .table
            .slots
            .get_mut(index)
            .and_then(|slot| slot.sandbox.as_mut())
            .filter(|sandbox| sandbox.is_alive())?;
        let fault = sandbox.fault_by_embedder(Entry::None, String::from(reason));
        self.contain(index, &fault, None);
        Some(pending)
    }

    /// Runs the loop until every instance is home.
    pub fn wait_until_all_home(&mut self) {
        for index in 0..self.table.slots.len() {
            self.wait_until_home(index);
        }
    }

    /// Points console output at the console driver again if it runs.
    pub fn reroute_console_output(&mut self) {
        self.route_console_output();
    }

    /// Sends a request to the module serving `endpoint` whose reply is only counted
    /// ([`System::probe_replies`]); false if nobody serves it.
    pub fn send_probe(&mut self, endpoint: &str, bytes: &[u8]) -> bool {
        self.router
            .request(&mut self.table, endpoint, bytes, KernelRequest::Probe)
            .is_some()
    }

    /// Replies to [`System::send_probe`] so far.
    pub fn probe_replies(&self) -> u64 {
        self.router.probe_replies
    }

    /// Sends a request to the module serving `endpoint` whose reply is kept until
    /// [`System::take_collected_reply`]; its request id, or `None` if nobody serves it or
    /// the server is down for good.
    pub fn send_collected(&mut self, endpoint: &str, bytes: &[u8]) -> Option<u32> {
        self.router
            .request(&mut self.table, endpoint, bytes, KernelRequest::Collect)
    }

    /// [`System::send_collected`] lending the module buffer `loan` (one of
    /// the kernel's own, from `device_access::dma_allocate`) with the
    /// request, as `ipc_call_lending` does: the request holds it until it
    /// ends. `None` if the buffer cannot be lent or nobody takes the
    /// request.
    pub fn send_collected_lending(
        &mut self,
        endpoint: &str,
        bytes: &[u8],
        loan: cella_wasm_host::Loan,
    ) -> Option<u32> {
        if !super::dma_loans::hold(None, loan.device_address, loan.size) {
            return None;
        }
        let Some(request) = self.send_collected(endpoint, bytes) else {
            super::dma_loans::give_back(None, loan.device_address);
            return None;
        };
        self.router.loans.insert(request, loan);
        Some(request)
    }

    /// Whether request `id` of [`System::send_collected`] is neither answered nor forgotten.
    pub fn request_outstanding(&self, id: u32) -> bool {
        !self.router.collected_replies.contains_key(&id) && self.router.is_open(id)
    }

    /// Whether request `id` of [`System::send_collected`] has its reply.
    pub fn has_collected_reply(&self, id: u32) -> bool {
        self.router.collected_replies.contains_key(&id)
    }

    /// Takes the reply to request `id` of [`System::send_collected`] and forgets the request.
    pub fn take_collected_reply(&mut self, id: u32) -> Option<Vec<u8>> {
        self.router.forget(id);
        self.router.collected_replies.remove(&id)
    }
}

/// A swap's report, or its error as text.
fn swapped(
    outcome: Result<Report, crate::supervisor::reports::CommandError>,
) -> Result<SwapReport, String> {
    match outcome {
        Ok(Report::Swapped(report))
        | Ok(Report::Installed(crate::supervisor::reports::Installed::Swapped(report))) => {
            Ok(report)
        }
        Ok(other) => Err(format!("not a swap: {}", text_of(&Ok(other)).trim_end())),
        Err(error) => Err(format!("{error}")),
    }
}
