//! The event loop: the one place where the module system moves. Each
//! [`EventLoop::step`] takes back the instances whose events finished,
//! routes what modules sent, turns IRQ lines into events, takes what
//! processes and the host sent, advances the commands under way (a hot swap
//! or a restart is a state the loop advances, never a loop of its own),
//! restarts the modules whose time has come, and lends the module whose
//! event has waited longest that event.

use super::operations::{Operations, Requester, Task};
use super::router::{KernelRequest, Router};
use super::services::{Done, Job, KernelServices, Work};
use super::slot::{InstanceFigures, Pending};
use super::table::{ModuleTable, account_of};
use crate::supervisor::command_line::Command;
use crate::supervisor::records::FaultRecords;
use crate::supervisor::reports::{CommandError, Report};
use crate::system_manifest::SystemManifest;
use cella_wasm_host::{Delivery, Limits, Platform};

/// The module system: its table, router, the commands under way and the
/// fault records, driven by one loop over kernel services `K`.
pub struct EventLoop<K: KernelServices> {
    pub kernel: K,
    pub table: ModuleTable<K>,
    pub router: Router,
    pub operations: Operations<K>,
    /// The shell's `run` calls waiting for their commands, and the answers
    /// kept for `report_page` (see `super::command_calls`).
    pub command_calls: super::command_calls::CommandCalls,
    pub records: FaultRecords,
    /// The native processes the system manifest lists, with their grants:
    /// what an install is checked against besides the modules.
    pub processes: alloc::vec::Vec<crate::system_manifest::ModulePlan>,
    /// Events lent so far (each module remembers the turn it was last served).
    turns: u64,
    /// The boot is done: the prompt may be drawn (see `super::prompt`).
    pub(crate) prompt_allowed: bool,
    /// The last step left work that another step could do at once (see
    /// [`EventLoop::turn`]).
    again: bool,
}

impl<K: KernelServices> EventLoop<K> {
    /// Loads and starts every module `manifest` lists (failures are
    /// reported and handed to the supervisor like any fault), with every
    /// sandbox under `limits`.
    pub fn boot(
        kernel: K,
        manifest: &SystemManifest,
        archive: crate::archive::Archive<'static>,
        limits: Limits,
    ) -> Self {
        let mut system = EventLoop {
            kernel,
            table: ModuleTable::new(archive, limits),
            router: Router::for_plans(&manifest.modules),
            operations: Operations::default(),
            command_calls: super::command_calls::CommandCalls::default(),
            records: FaultRecords::default(),
            processes: manifest.processes.clone(),
            turns: 0,
            prompt_allowed: false,
            again: false,
        };
        let started = system.kernel.now();
        for plan in &manifest.modules {
            system.add_from_archive(plan);
        }
        let booted: alloc::vec::Vec<&super::slot::Slot<K>> = system
            .table
            .slots
            .iter()
            .filter(|slot| super::lifecycle::boots_from_archive(&slot.plan))
            .collect();
        let up = booted.iter().filter(|slot| slot.is_running()).count();
        let not_up: alloc::vec::Vec<&str> = booted
            .iter()
            .filter(|slot| !slot.is_running())
            .map(|slot| slot.plan.name.as_str())
            .collect();
        let line = boot_line(up, booted.len(), &not_up, system.kernel.now() - started);
        system.route_console_output();
        system
            .router
            .open_served_endpoints(&system.table, &mut system.kernel);
        system.open_supervisor();
        system.kernel.print_line(&line);
        // The line just printed reaches the terminal's driver in the first
        // step, and the shell draws its first prompt after it.
        system.prompt_allowed = true;
        system.ask_for_time();
        system.start_from_file_system();
        system
    }

    /// Asks the `rtc` server for the time, to show a kernel request and its reply.
    fn ask_for_time(&mut self) {
        use cella_interfaces::rtc;
        let mut request = [0; 8];
        if let Ok(length) = rtc::time::request(&mut request) {
            self.router.request(
                &mut self.table,
                rtc::ENDPOINT,
                &request[..length],
                KernelRequest::Time,
            );
        }
    }

    /// Runs the event loop forever.
    pub fn run(&mut self) -> ! {
        loop {
            self.turn();
        }
    }

    /// One step, then a wait unless that step left work another step can
    /// do at once: a second module's event to lend, or a command, restart,
    /// push or device fault that moves on in stages. What a step took in
    /// (completions, processes' messages, routed messages, answers) is in
    /// the inboxes before the step lends, so it needs no second pass; what
    /// arrives meanwhile ends the wait at once, and a module's due timer
    /// ends it at the next clock tick. A process's call to a module thus
    /// costs the loop one pass, not three.
    pub fn turn(&mut self) {
        if !self.step() || !self.again {
            self.kernel.wait_for_work();
        }
    }

    /// Blocks until something may have happened.
    pub fn wait_for_work(&mut self) {
        self.kernel.wait_for_work();
    }

    /// One turn of the loop: moves everything that arrived and delivers at
    /// most one event. Returns whether there was work.
    pub fn step(&mut self) -> bool {
        let completed = self.take_completed();
        self.collect_interrupts();
        let device_faulted = self.fault_modules_of_faulting_devices();
        let routed = self.route_queued();
        self.redraw_prompt_after_output();
        let pushed = self.take_push();
        let advanced = self.advance_operations();
        let now = self.kernel.now();
        let restarted = self.restart_due(now);
        let calls_answered = self.take_call_answers();
        let answered = self.deliver_call_answers();
        self.give_back_loans();
        let (delivered, more_to_deliver) = self.deliver_one();
        self.again = device_faulted || pushed || advanced || restarted || more_to_deliver;
        completed
            || device_faulted
            || routed
            || pushed
            || advanced
            || restarted
            || calls_answered
            || answered
            || delivered
    }

    /// Routes what modules sent, replied and called onto the endpoints'
    /// queues (messages sent to the supervisor are refused), then moves
    /// what the endpoints modules serve hold into their inboxes and
    /// answers the calls queued for the supervisor. Returns whether
    /// anything was routed or arrived.
    pub(crate) fn route_queued(&mut self) -> bool {
        let messages = self.kernel.take_routed();
        let any = !messages.is_empty();
        for message in messages {
            if let Some(line) = self
                .router
                .route(message, &mut self.table, &mut self.kernel)
            {
                self.command_from_module(line);
            }
        }
        // What modules just sent and called is on the endpoints' queues
        // with what processes queued.
        let arrived = self
            .router
            .take_endpoint_messages(&mut self.table, &mut self.kernel);
        self.answer_supervisor_calls();
        any || arrived
    }

    /// Queues each line that fired as an event of its holder: an MSI-X
    /// vector for the module granted its function, a legacy line for every
    /// running module granted it (a PCI INTx line may be shared), which
    /// each acknowledge it before it is unmasked again.
    pub(crate) fn collect_interrupts(&mut self) {
        let pending = self.kernel.take_pending_irqs();
        for line in (0..64u8).filter(|line| pending & (1 << line) != 0) {
            let function = self.kernel.msix_line_function(line);
            let mut delivered = 0u8;
            let mut holders = 0u8;
            for slot in self.table.slots.iter_mut().filter(|slot| {
                slot.is_running()
                    && match function {
                        Some(function) => slot.devices().any(|held| held == function),
                        None => slot.irq_lines.contains(&line),
                    }
            }) {
                holders = holders.saturating_add(1);
                if slot.inbox_has_room() {
                    slot.inbox.push_back(Pending::Irq(line));
                    delivered = delivered.saturating_add(1);
                } else {
                    log::warn!(
                        "module {}: inbox full, IRQ {line} left masked",
                        slot.plan.name
                    );
                }
                // An MSI-X vector has one holder.
                if function.is_some() {
                    break;
                }
            }
            match (holders, delivered) {
                (0, _) => log::warn!("IRQ {line} fired with no running holder; left masked"),
                (_, 0) => {}
                _ if function.is_none() => self.kernel.expect_irq_acknowledgements(line, delivered),
                _ => {}
            }
        }
    }

    /// Lends the module whose events have waited longest its oldest one: its
    /// due timers or the first event of its inbox, whichever came first (a
    /// due timer has waited since its deadline). After its turn the rest of
    /// a module's queue waits as if it arrived then, so modules with
    /// backlogs take turns. Modules a command waits for get nothing new.
    /// Returns whether it lent an event, and whether another module had one
    /// to take as well.
    fn deliver_one(&mut self) -> (bool, bool) {
        let now = self.kernel.now();
        // (waiting since, last served turn): among equal waits, the module
        // served least recently goes first.
        let mut oldest: Option<((u64, u64), usize, bool)> = None;
        // The same for suspended handlers: the answer's place in the inbox,
        // or `None` for the deadline.
        let mut waiting_answer: Option<((u64, u64), usize, Option<usize>)> = None;
        let mut candidates = 0u32;
        for (index, slot) in self.table.slots.iter_mut().enumerate() {
            let inbox_since = if slot.inbox.is_empty() {
                slot.waiting_since = None;
                None
            } else {
                // First seen waiting now, unless it was waiting already.
                Some(*slot.waiting_since.get_or_insert(now))
            };
            // A handler waiting for an answer (`ipc_wait`) takes that answer
            // or its deadline and nothing else, even while a command holds
            // its module: a swap hands over only once the handler ended.
            if let Some(waited) = slot.waiting_for() {
                let answer = slot.inbox.iter().position(
                    |pending| matches!(pending, Pending::Reply { call, .. } if *call == waited),
                );
                let deadline = slot
                    .sandbox
                    .as_ref()
                    .and_then(|sandbox| sandbox.wait_deadline())
                    .filter(|deadline| *deadline <= now);
                let candidate = match (answer, deadline) {
                    (Some(position), _) => Some((inbox_since.unwrap_or(now), Some(position))),
                    (None, Some(deadline)) => Some((deadline, None)),
                    (None, None) => None,
                };
                candidates += u32::from(candidate.is_some());
                if let Some((since, position)) = candidate
                    && waiting_answer
                        .is_none_or(|(oldest, _, _)| (since, slot.last_served) < oldest)
                {
                    waiting_answer = Some(((since, slot.last_served), index, position));
                }
                continue;
            }
            if !slot.takes_event_now() || self.operations.holds(index) {
                continue;
            }
            // A timer event also fails the calls whose deadline passed.
            let timer_since = slot
                .sandbox
                .as_ref()
                .and_then(|sandbox| {
                    let timer = sandbox.next_timer_deadline();
                    let call = sandbox.next_call_deadline();
                    timer.into_iter().chain(call).min()
                })
                .filter(|deadline| *deadline <= now);
            let candidate = match (timer_since, inbox_since) {
                (Some(timer), Some(inbox)) if timer <= inbox => Some((timer, true)),
                (_, Some(inbox)) => Some((inbox, false)),
                (Some(timer), None) => Some((timer, true)),
                (None, None) => None,
            };
            candidates += u32::from(candidate.is_some());
            if let Some((since, timer)) = candidate
                && oldest.is_none_or(|(oldest, _, _)| (since, slot.last_served) < oldest)
            {
                oldest = Some(((since, slot.last_served), index, timer));
            }
        }
        let more = candidates > 1;
        // An answer a handler waits for goes first: the handler holds its
        // request (and often its caller) until it ends.
        if let Some((_, index, position)) = waiting_answer {
            self.turns += 1;
            let slot = &mut self.table.slots[index];
            slot.last_served = self.turns;
            let work = match position.and_then(|position| slot.inbox.remove(position)) {
                Some(Pending::Reply { call, outcome }) => Work::Reply { call, outcome },
                _ => Work::Timer,
            };
            self.lend(index, work, more);
            return (true, more);
        }
        let Some((_, index, timer)) = oldest else {
            return (false, false);
        };
        self.turns += 1;
        self.table.slots[index].last_served = self.turns;
        if timer {
            self.lend(index, Work::Timer, more);
            return (true, more);
        }
        let slot = &mut self.table.slots[index];
        let Some(pending) = slot.inbox.pop_front() else {
            return (false, more);
        };
        // The rest of its queue waits behind the modules that waited before
        // this turn: modules with backlogs take turns, one event each.
        slot.waiting_since = (!slot.inbox.is_empty()).then_some(now);
        let work = match pending {
            Pending::Irq(line) => Work::Irq(line),
            Pending::Message { request, bytes } => Work::Message {
                loan: self.router.loan_of(request),
                request,
                bytes,
            },
            Pending::Reply { call, outcome } => Work::Reply { call, outcome },
        };
        let ran_here = self.lend(index, work, more);
        // What the event sent is in the inboxes already when it ran here.
        (true, more || (ran_here && self.any_event_to_lend()))
    }

    /// Whether a module at home has an event waiting in its inbox.
    fn any_event_to_lend(&self) -> bool {
        self.table.slots.iter().enumerate().any(|(index, slot)| {
            !slot.inbox.is_empty() && slot.takes_event_now() && !self.operations.holds(index)
        })
    }

    /// Lends module `index`'s instance with `work`; it is away until its
    /// completion comes back. A process's call to a module with no more
    /// than the default fuel per event, while no other module has an event
    /// waiting (`others_waiting`), runs on the loop's own thread instead
    /// and is complete when this returns (true then): the process waits on
    /// two threads taking turns, not three, and the loop is held for at most
    /// one default event (about 2 ms, docs/abi.md).
    fn lend(&mut self, index: usize, work: Work, others_waiting: bool) -> bool {
        let process_call = match &work {
            Work::Message { request, .. } => self
                .router
                .call_token(*request)
                .map(|token| (*request, token)),
            _ => None,
        };
        let default_fuel = self.table.runtime.limits().fuel_per_event;
        let slot = &mut self.table.slots[index];
        let Some(sandbox) = slot.sandbox.take() else {
            return false;
        };
        slot.away = true;
        let job = Job {
            slot: index,
            account: account_of(index),
            sandbox,
            work,
        };
        let small = slot
            .plan
            .limits
            .fuel_per_event
            .is_none_or(|fuel| fuel <= default_fuel);
        // On the loop's thread the reply reaches the process as the loop
        // routes it, right after the event.
        let job = if process_call.is_some() && small && !others_waiting {
            match self.kernel.run_here(&slot.plan.name, job) {
                Ok(done) => {
                    // As `take_completed` does: what it sent first, then its outcome.
                    self.route_queued();
                    self.complete(done);
                    return true;
                }
                Err(job) => job,
            }
        } else {
            job
        };
        // On a worker, the module's reply goes to the process from the
        // worker's thread, without waiting for the loop.
        if let Some((request, token)) = process_call {
            self.kernel.answer_directly(request, token);
        }
        let slot = &mut self.table.slots[index];
        slot.seen_before_event = InstanceFigures::of(&job.sandbox);
        self.kernel.lend(&slot.plan.name, job);
        false
    }

    /// Takes back every instance whose event finished. Returns whether any did.
    ///
    /// What a module sent and replied during its event is routed before the
    /// event's outcome is handled: the kernel queues a module's messages
    /// before its completion, so a reply followed by a trap in the same
    /// event is always delivered, and the fault settles only what the
    /// module left unanswered.
    pub fn take_completed(&mut self) -> bool {
        let completed = self.kernel.take_completed();
        let any = !completed.is_empty();
        if any {
            self.route_queued();
        }
        for done in completed {
            self.complete(done);
        }
        any
    }

    /// An instance is home with the outcome of its event.
    fn complete(&mut self, done: Done<K::Platform, K::Outbox>) {
        let Done {
            slot: index,
            sandbox,
            work,
            result,
            accesses_before,
        } = done;
        let slot = &mut self.table.slots[index];
        slot.away = false;
        slot.events_handled += 1;
        if slot.tracing {
            super::lifecycle::print_new_accesses(
                &mut self.kernel,
                &self.router,
                &slot.plan.name,
                &sandbox,
                accesses_before,
            );
        }
        slot.sandbox = Some(sandbox);
        match result {
            // Not taken: a handler of the instance waits for an answer
            // (the loop lends such an instance nothing else, so this is a
            // race with a wait that began in the same turn). First in line
            // again.
            Ok(Delivery::NotNow) => {
                let pending = match work {
                    Work::Irq(line) => Some(Pending::Irq(line)),
                    Work::Message { request, bytes, .. } => {
                        Some(Pending::Message { request, bytes })
                    }
                    Work::Reply { call, outcome } => Some(Pending::Reply { call, outcome }),
                    Work::Timer => None,
                };
                if let Some(pending) = pending {
                    slot.inbox.push_front(pending);
                }
            }
            Ok(delivery @ (Delivery::Refused | Delivery::NoHandler)) => {
                if let Work::Message { request, bytes, .. } = &work {
                    log::warn!(
                        "module {} {} a message of {} bytes (request {request})",
                        slot.plan.name,
                        if delivery == Delivery::Refused {
                            "refused (too long, or too many requests unanswered)"
                        } else {
                            "has no handler for"
                        },
                        bytes.len()
                    );
                    self.router
                        .settle_refused(*request, delivery, &mut self.kernel);
                }
            }
            Ok(Delivery::UnknownCall) => {
                if let Work::Reply { call, .. } = &work {
                    log::info!(
                        "module {}: the answer to call {call} came after its deadline; dropped",
                        slot.plan.name
                    );
                }
            }
            Ok(_) => {
                if let Work::Message { request, bytes, .. } = work
                    && request != 0
                {
                    self.router
                        .keep_if_idempotent(request, bytes, &slot.plan.serves);
                }
            }
            Err(fault) => self.contain(index, &fault, Some(&work.event())),
        }
    }

    /// Gives back the buffers lent with requests that ended (the hold each
    /// call took when it was made; see `cella_wasm_host::Outbox::call`).
    fn give_back_loans(&mut self) {
        if self.router.ended_loans.is_empty() {
            return;
        }
        let mut platform = self.kernel.platform();
        for loan in core::mem::take(&mut self.router.ended_loans) {
            platform.dma_return(None, loan.device_address, loan.size);
        }
    }

    /// Points console output at the console driver once it runs.
    pub(crate) fn route_console_output(&mut self) {
        let Some(endpoint) = self
            .router
            .endpoint_id(super::router::CONSOLE_OUTPUT_ENDPOINT)
        else {
            return;
        };
        let running = self
            .table
            .server_of(endpoint)
            .is_some_and(|server| self.table.slots[server].is_running());
        if running && self.kernel.console_output_endpoint() != Some(endpoint) {
            self.kernel.route_console_output(endpoint);
            log::info!(
                "console output now goes through the `{}` driver",
                super::router::CONSOLE_OUTPUT_ENDPOINT
            );
        }
    }

    /// Whether every instance is home (none is away handling an event).
    pub fn all_home(&self) -> bool {
        self.table.slots.iter().all(|slot| !slot.away)
    }

    /// Runs `command` to its end, driving the loop meanwhile; for kernel
    /// code that is itself the loop's driver (the test kernel's scenarios).
    pub fn run_command(&mut self, command: Command) -> Result<Report, CommandError> {
        self.run_task(Task::Command(command))
    }

    /// As [`EventLoop::run_command`], for any task.
    pub fn run_task(&mut self, task: Task) -> Result<Report, CommandError> {
        let id = self.submit(Requester::Kernel, task);
        loop {
            if let Some(report) = self.operations.take_report(id) {
                return report;
            }
            self.turn();
        }
    }
}

/// The line that ends the boot: `cella: all modules up (5 of 5 started) in
/// 160 ms` when every module the manifest boots runs, else `cella: boot
/// done: 4 of 5 modules up (not up: pci) in 160 ms`, naming those that
/// are not (refused at load, or faulted at start and waiting for their
/// restart or held).
fn boot_line(up: usize, booted: usize, not_up: &[&str], nanoseconds: u64) -> alloc::string::String {
    let took = nanoseconds / 1_000_000;
    if not_up.is_empty() {
        alloc::format!("cella: all modules up ({up} of {booted} started) in {took} ms")
    } else {
        alloc::format!(
            "cella: boot done: {up} of {booted} modules up (not up: {}) in {took} ms",
            not_up.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::boot_line;

    #[test]
    fn the_boot_line_says_all_only_when_all_are_up_and_names_the_others() {
        assert_eq!(
            boot_line(5, 5, &[], 160_400_000),
            "cella: all modules up (5 of 5 started) in 160 ms"
        );
        assert_eq!(
            boot_line(3, 5, &["pci", "greedy"], 2_000_000),
            "cella: boot done: 3 of 5 modules up (not up: pci, greedy) in 2 ms"
        );
    }
}
