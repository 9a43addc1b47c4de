//! The module table and the event loop.
//!
//! At boot the kernel reads `system.manifest` from the boot archive, and for
//! each module in order: finds its `.wasm`, builds its grant, loads it (the
//! Wasm host refuses a module whose request exceeds the grant, naming the
//! capability) and starts it. Then it loops: pending IRQ lines become IRQ
//! events for the module holding the line, queued messages go to the module
//! serving their endpoint, due restarts happen, and the module whose event
//! (a message, an IRQ or a due timer) has waited longest gets it, on its own
//! worker thread ([`super::worker`]), under the Wasm host's fuel budget. A
//! module that faults is contained and handed to the supervisor
//! (`crate::supervisor::recovery`).

use super::platform::KernelPlatform;
use super::router::{self, KernelOutbox, Routed};
use super::slot::{KernelSandbox, ModuleState, Pending, Slot};
use super::worker::{self, Done, Job, Work};
use crate::archive::Archive;
use crate::mm::budget;
use crate::supervisor::policy::{RestartPolicy, RestartTracker};
use crate::system_manifest::{GrantLine, ModulePlan, SystemManifest};
use crate::{console, irq, kprintln, time};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Delivery, Grant, Limits, LoadedModule, Runtime};
use hashbrown::HashMap;

/// The endpoint whose server gets the kernel's console output.
pub const CONSOLE_OUTPUT_ENDPOINT: &str = "uart";
/// Most events queued for one module unless its `queue` limit says otherwise;
/// more are refused and reported.
pub const INBOX_CAPACITY: usize = 4096;

/// What the kernel asked a module, so it knows what a reply answers.
pub enum KernelRequest {
    Time,
    /// A test scenario's request; the reply is only counted (see `test_hooks`).
    #[cfg(feature = "test-hooks")]
    Probe,
    /// A test scenario's request whose reply is kept for the scenario to check
    /// (see `test_hooks`).
    #[cfg(feature = "test-hooks")]
    Collect,
    /// A process's IPC call; the reply answers its token.
    Ipc {
        token: u64,
    },
}

/// All modules and the state of the event loop.
pub struct System {
    pub(crate) runtime: Runtime<KernelPlatform, KernelOutbox>,
    pub(crate) slots: Vec<Slot>,
    /// Endpoint names; the id of `endpoints[i]` is `i + 1`.
    pub(crate) endpoints: Vec<String>,
    /// Endpoint name -> id, for lookups by name.
    endpoint_ids: HashMap<String, u64>,
    /// Module name -> its index in `slots`.
    slot_indexes: HashMap<String, usize>,
    pub(crate) kernel_requests: BTreeMap<u32, (usize, KernelRequest)>,
    next_request: u32,
    /// The boot archive, where modules (and swap targets) are found.
    pub(crate) archive: Archive<'static>,
    /// Modules pushed from the host arrive here.
    push: super::push::PushPort,
    /// A supervisor command (or push) is being carried out; commands that
    /// arrive meanwhile wait in `deferred_commands`.
    pub(crate) in_command: bool,
    deferred_commands: VecDeque<(String, Vec<u8>)>,
    /// Kernel IPC endpoints standing for the endpoints modules serve
    /// (IPC endpoint, router endpoint id); see `ipc_bridge`.
    pub(crate) ipc_endpoints: Vec<(crate::ipc::EndpointId, u64)>,
    /// Replies to [`KernelRequest::Probe`] so far.
    #[cfg(feature = "test-hooks")]
    pub(crate) probe_replies: u64,
    /// Replies to [`KernelRequest::Collect`] by request id, until the scenario takes them.
    #[cfg(feature = "test-hooks")]
    pub(crate) collected_replies: BTreeMap<u32, Vec<u8>>,
    /// Timing of the last hot swap (for the supervisor benchmark).
    #[cfg(feature = "test-hooks")]
    pub(crate) last_swap: crate::supervisor::hot_swap::SwapTiming,
}

impl System {
    /// Loads and starts every module the manifest lists; failures are reported and skipped.
    pub fn boot(manifest: &SystemManifest, archive: Archive<'static>) -> Self {
        Self::boot_with_limits(manifest, archive, Limits::default())
    }

    /// As [`System::boot`], with every sandbox under `limits`.
    pub fn boot_with_limits(
        manifest: &SystemManifest,
        archive: Archive<'static>,
        limits: Limits,
    ) -> Self {
        let mut endpoints: Vec<String> = Vec::new();
        for plan in &manifest.modules {
            let granted = plan.grants.iter().filter_map(|grant| match grant {
                GrantLine::Endpoint { name } => Some(name),
                _ => None,
            });
            for name in plan.serves.iter().chain(granted) {
                if !endpoints.contains(name) {
                    endpoints.push(name.clone());
                }
            }
        }
        let endpoint_ids = endpoints
            .iter()
            .enumerate()
            .map(|(index, name)| (name.clone(), index as u64 + 1))
            .collect();
        let mut system = System {
            runtime: Runtime::new(limits),
            slots: Vec::new(),
            endpoints,
            endpoint_ids,
            slot_indexes: HashMap::new(),
            kernel_requests: BTreeMap::new(),
            next_request: 1,
            archive,
            push: super::push::PushPort::new(manifest.push.as_ref(), &archive),
            in_command: false,
            #[cfg(feature = "test-hooks")]
            probe_replies: 0,
            #[cfg(feature = "test-hooks")]
            collected_replies: BTreeMap::new(),
            ipc_endpoints: Vec::new(),
            deferred_commands: VecDeque::new(),
            #[cfg(feature = "test-hooks")]
            last_swap: Default::default(),
        };
        worker::set_event_loop_thread();
        let started = time::now_nanoseconds();
        for plan in &manifest.modules {
            // `boot no` modules are loaded now and started by hand (`start NAME`).
            let slot = if plan.on_demand {
                system.park_module(plan)
            } else {
                system.start_module(plan)
            };
            system.push_slot(slot);
        }
        let up = system.slots.iter().filter(|slot| slot.is_running()).count();
        let booted = system
            .slots
            .iter()
            .filter(|slot| !slot.plan.on_demand)
            .count();
        system.route_console_output();
        system.open_ipc_endpoints();
        kprintln!(
            "cella: all modules up ({up} of {booted} started) in {} ms",
            (time::now_nanoseconds() - started) / 1_000_000
        );
        system.ask_for_time();
        system
    }

    /// Points console output at the console driver once it runs.
    pub(crate) fn route_console_output(&mut self) {
        let Some(endpoint) = self.endpoint_id(CONSOLE_OUTPUT_ENDPOINT) else {
            return;
        };
        let running = self
            .server_of(endpoint)
            .is_some_and(|server| self.slots[server].is_running());
        if running && console::output_endpoint() != Some(endpoint) {
            console::route_output_to(endpoint);
            log::info!("console output now goes through the `{CONSOLE_OUTPUT_ENDPOINT}` driver");
        }
    }

    pub(crate) fn endpoint_id(&self, name: &str) -> Option<u64> {
        self.endpoint_ids.get(name).copied()
    }

    pub(crate) fn endpoint_name(&self, id: u64) -> &str {
        usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| self.endpoints.get(index))
            .map_or("?", String::as_str)
    }

    /// The module serving endpoint `id` (running or not).
    pub(crate) fn server_of(&self, id: u64) -> Option<usize> {
        self.slots.iter().position(|slot| slot.serves.contains(&id))
    }

    /// The table index of module `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.slot_indexes.get(name).copied()
    }

    /// Adds `slot` to the table; a second slot of the same name is not
    /// found by name (the manifest's validation refuses such a manifest).
    fn push_slot(&mut self, slot: Slot) {
        self.slot_indexes
            .entry(slot.plan.name.clone())
            .or_insert(self.slots.len());
        self.slots.push(slot);
    }

    pub(crate) fn grant_for(&self, plan: &ModulePlan) -> Grant {
        Grant::from_plan(plan, |name| self.endpoint_id(name))
    }

    /// Loads `file` from the boot archive and checks it against `plan`'s grant.
    pub(crate) fn load_file(&self, plan: &ModulePlan, file: &str) -> Result<LoadedModule, String> {
        let bytes = match self.archive.find(file) {
            Ok(Some(entry)) => entry.data,
            Ok(None) => return Err(alloc::format!("`{file}` is not in the boot archive")),
            Err(error) => return Err(alloc::format!("boot archive unreadable: {error}")),
        };
        self.load_bytes(plan, bytes)
    }

    /// Checks `bytes` against `plan`'s grant, compiling it charged to the
    /// module's heap account (admitted only within its limit and above the
    /// kernel reserve).
    pub(crate) fn load_bytes(
        &self,
        plan: &ModulePlan,
        bytes: &[u8],
    ) -> Result<LoadedModule, String> {
        if let Some(why) = crate::system_manifest::reserved_name(&plan.name) {
            return Err(alloc::format!("refused at load: {why}"));
        }
        if let Some(why) = super::device_access::refused_grant(&plan.grants) {
            return Err(alloc::format!("refused at load: {why}"));
        }
        let account = self.account_for(&plan.name);
        budget::admit_load(account, bytes.len()).map_err(|why| {
            alloc::format!(
                "refused at load: not enough kernel memory for {}: {why}",
                plan.name
            )
        })?;
        let module = crate::sched::charge_to(account, || {
            self.runtime.load(&plan.name, bytes, &self.grant_for(plan))
        })
        .map_err(|error| alloc::format!("refused at load: {error}"))?;
        if let Some(why) = crate::system_manifest::reserved_name(module.name()) {
            return Err(alloc::format!("refused at load: its manifest says {why}"));
        }
        match budget::over_limit(account) {
            Some(why) => Err(alloc::format!(
                "refused at load: {} is over its kernel memory limit: {why}",
                plan.name
            )),
            None => Ok(module),
        }
    }

    /// The heap account of module `name`: its slot's, or the one the next
    /// slot gets.
    pub(crate) fn account_for(&self, name: &str) -> u32 {
        account_of(self.find(name).unwrap_or(self.slots.len()))
    }

    /// A table entry for `plan`, not yet started.
    pub(crate) fn new_slot(&self, plan: &ModulePlan) -> Slot {
        let limit = match plan.kernel_memory {
            0 => budget::DEFAULT_MODULE_LIMIT_BYTES,
            bytes => bytes,
        };
        budget::set_limit(self.account_for(&plan.name), limit);
        let policy = RestartPolicy::from_settings(
            plan.restart
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
        .unwrap_or_else(|problem| {
            log::warn!(
                "module {}: {problem}; using the default restart policy",
                plan.name
            );
            RestartPolicy::default()
        });
        Slot {
            plan: plan.clone(),
            policy,
            tracker: RestartTracker::default(),
            module: None,
            sandbox: None,
            state: ModuleState::Refused,
            inbox: VecDeque::new(),
            irq_lines: plan
                .grants
                .iter()
                .filter_map(|grant| match grant {
                    GrantLine::Irq { line, .. } => Some(*line),
                    _ => None,
                })
                .collect(),
            serves: plan
                .serves
                .iter()
                .filter_map(|name| self.endpoint_id(name))
                .collect(),
            events_handled: 0,
            tracing: false,
            away: false,
            worker: None,
            waiting_since: None,
        }
    }

    fn start_module(&mut self, plan: &ModulePlan) -> Slot {
        let mut slot = self.new_slot(plan);
        match self.load_file(plan, &plan.file) {
            Ok(module) => {
                // A failure is logged and recorded; the slot stays, stopped.
                let _ = self.start_in(&mut slot, module);
            }
            Err(problem) => log::error!("module {} {problem}; not started", plan.name),
        }
        slot
    }

    /// Adds a module that is not in the system manifest (pushed from the host) and starts it.
    ///
    /// # Errors
    /// A message if it did not start (the fault is recorded and logged).
    pub(crate) fn add_module(
        &mut self,
        plan: ModulePlan,
        module: LoadedModule,
    ) -> Result<(), String> {
        let mut slot = self.new_slot(&plan);
        // A module that does not start is not kept: a refused push changes nothing.
        self.start_in(&mut slot, module)
            .map_err(|fault| alloc::format!("{} failed to start: {fault}", plan.name))?;
        self.push_slot(slot);
        Ok(())
    }

    /// Starts `module` as `slot`'s instance; the fault if it did not start.
    fn start_in(
        &mut self,
        slot: &mut Slot,
        module: LoadedModule,
    ) -> Result<(), cella_wasm_host::Fault> {
        let plan = &slot.plan;
        let account = self.account_for(&plan.name);
        let started = crate::sched::charge_to(account, || {
            self.runtime.start(&module, KernelPlatform, KernelOutbox)
        });
        match started {
            Ok(sandbox) => {
                let grants: Vec<String> = plan
                    .grants
                    .iter()
                    .map(|grant| alloc::format!("{grant}"))
                    .collect();
                log::info!(
                    "module {} {} up (generation {}): grants [{}]; serves [{}]",
                    plan.name,
                    module.version(),
                    sandbox.generation(),
                    grants.join(", "),
                    plan.serves.join(", ")
                );
                slot.sandbox = Some(sandbox);
                slot.state = ModuleState::Running;
                slot.module = Some(module);
                Ok(())
            }
            Err(fault) => {
                log::error!("module {} failed to start: {fault}", plan.name);
                crate::supervisor::records::record(&fault, self.runtime.last_generation());
                slot.state = ModuleState::Stopped;
                slot.module = Some(module);
                Err(fault)
            }
        }
    }

    /// Sends a kernel request to the module serving `endpoint`.
    pub(crate) fn kernel_request(
        &mut self,
        endpoint: &str,
        bytes: &[u8],
        purpose: KernelRequest,
    ) -> bool {
        let Some(server) = self.endpoint_id(endpoint).and_then(|id| self.server_of(id)) else {
            return false;
        };
        let request = self.new_kernel_request(server, purpose);
        self.slots[server].inbox.push_back(Pending::Message {
            request,
            bytes: bytes.to_vec(),
        });
        true
    }

    /// A fresh request id for a request to module `server`.
    pub(crate) fn new_kernel_request(&mut self, server: usize, purpose: KernelRequest) -> u32 {
        let request = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        self.kernel_requests.insert(request, (server, purpose));
        request
    }

    /// Asks the `rtc` server for the time, to show a kernel request and its reply.
    fn ask_for_time(&mut self) {
        self.kernel_request("rtc", b"time", KernelRequest::Time);
    }

    /// Runs the event loop forever.
    pub fn run(&mut self) -> ! {
        loop {
            if !self.step() {
                self.wait_for_work();
            }
        }
    }

    /// Routes what arrived and delivers at most one event. Returns whether there was work.
    pub fn step(&mut self) -> bool {
        let completed = self.take_completed();
        let called = self.poll_ipc();
        self.collect_interrupts();
        self.route_messages();
        let pushed = self.poll_push();
        let restarted = self.restart_due(time::now_nanoseconds());
        let delivered = self.deliver_one();
        completed || called || pushed || restarted || delivered || !router::is_empty()
    }

    /// Blocks the event loop until an interrupt, a routed message or a
    /// worker's completion (other threads run meanwhile).
    pub fn wait_for_work(&self) {
        crate::sched::wait_for_interrupt(|| {
            !router::is_empty() || worker::any_completed() || worker::take_nudge()
        });
    }

    /// Takes a module pushed from the host, if one arrived, and answers the host.
    fn poll_push(&mut self) -> bool {
        if self.in_command {
            return false;
        }
        let Some(event) = self.push.poll(time::now_nanoseconds()) else {
            return false;
        };
        let outcome = match event {
            crate::push_protocol::PushEvent::Challenge(nonce) => {
                self.push.send_nonce(&nonce);
                return true;
            }
            crate::push_protocol::PushEvent::Upload { target, bytes } => {
                log::info!(
                    "push: {} bytes for {target} arrived from the host",
                    bytes.len()
                );
                self.in_command = true;
                let outcome = self.install_pushed(&target, &bytes);
                self.in_command = false;
                outcome
            }
            crate::push_protocol::PushEvent::Rejected(reason) => {
                Err(alloc::format!("upload rejected: {reason}"))
            }
        };
        match &outcome {
            Ok(text) => log::info!("push: {text}"),
            Err(text) => log::warn!("push: {text}; nothing changed"),
        }
        self.push.answer(&outcome);
        true
    }

    fn collect_interrupts(&mut self) {
        let pending = irq::take_pending();
        for line in (0..16u8).filter(|line| pending & (1 << line) != 0) {
            match self
                .slots
                .iter_mut()
                .find(|slot| slot.is_running() && slot.irq_lines.contains(&line))
            {
                Some(slot) if slot.inbox_has_room() => slot.inbox.push_back(Pending::Irq(line)),
                Some(slot) => log::warn!(
                    "module {}: inbox full, IRQ {line} left masked",
                    slot.plan.name
                ),
                None => log::warn!("IRQ {line} fired with no running holder; left masked"),
            }
        }
    }

    /// Routes what modules sent. Supervisor commands run after the batch, one
    /// at a time (a command may run the event loop itself, e.g. a swap while
    /// the new version is prepared; commands arriving then wait their turn).
    fn route_messages(&mut self) {
        self.route_queued();
        if self.in_command {
            return;
        }
        while let Some((from, bytes)) = self.deferred_commands.pop_front() {
            self.in_command = true;
            self.serve_supervisor(&from, &bytes);
            self.in_command = false;
        }
    }

    /// Routes the router's queue (sends and replies), without running the
    /// supervisor commands among them.
    fn route_queued(&mut self) {
        for message in router::take_all() {
            match message {
                Routed::Send {
                    from,
                    endpoint,
                    bytes,
                } => self.route_send(&from, endpoint, bytes),
                Routed::Reply {
                    from,
                    request,
                    bytes,
                } => self.route_reply(&from, request, &bytes),
            }
        }
    }

    fn route_send(&mut self, from: &str, endpoint: u64, bytes: Vec<u8>) {
        if self.endpoint_name(endpoint) == crate::supervisor::commands::SUPERVISOR_ENDPOINT {
            self.deferred_commands
                .push_back((String::from(from), bytes));
            return;
        }
        let endpoint_name = String::from(self.endpoint_name(endpoint));
        let is_console = endpoint_name == CONSOLE_OUTPUT_ENDPOINT;
        let server = self.server_of(endpoint);
        if server.is_none() && self.send_to_process(from, &endpoint_name, &bytes) {
            return;
        }
        match server.map(|index| &mut self.slots[index]) {
            Some(slot) if slot.accepts_messages() && slot.inbox_has_room() => {
                slot.inbox.push_back(Pending::Message { request: 0, bytes });
            }
            _ if is_console => {
                // Console output with no driver to take it: the kernel writes it itself.
                console::write_direct(&bytes);
            }
            Some(slot) if slot.accepts_messages() => {
                log::warn!(
                    "message from {from} to {} refused: inbox full",
                    slot.plan.name
                );
            }
            Some(slot) => log::warn!(
                "message from {from} to {} ({} bytes) not delivered: module {}",
                slot.plan.name,
                bytes.len(),
                slot.state.name()
            ),
            None => log::warn!(
                "message from {from} to `{endpoint_name}` ({} bytes) not delivered: no server",
                bytes.len()
            ),
        }
    }

    fn route_reply(&mut self, from: &str, request: u32, bytes: &[u8]) {
        match self.kernel_requests.remove(&request) {
            Some((_, KernelRequest::Time)) => match core::str::from_utf8(bytes) {
                Ok(text) => log::info!("{from} answered the kernel's time request: {text}"),
                Err(_) => log::warn!(
                    "{from} answered the time request with {} bytes of non-text",
                    bytes.len()
                ),
            },
            #[cfg(feature = "test-hooks")]
            Some((_, KernelRequest::Probe)) => self.probe_replies += 1,
            #[cfg(feature = "test-hooks")]
            Some((_, KernelRequest::Collect)) => {
                self.collected_replies.insert(request, bytes.to_vec());
            }
            Some((_, KernelRequest::Ipc { token })) => {
                // A module's reply is at most the ABI's one message limit,
                // which kernel IPC carries too.
                if let Err(error) = crate::ipc::reply(token, bytes) {
                    log::warn!("{from}'s reply to a process not delivered: {error:?}");
                }
            }
            None => log::warn!("{from} replied to unknown request {request}; dropped"),
        }
    }

    /// Lends the module whose events have waited longest its oldest one: its
    /// due timers or the first event of its inbox, whichever came first (a
    /// due timer has waited since its deadline). Returns whether there was
    /// anything.
    fn deliver_one(&mut self) -> bool {
        let now = time::now_nanoseconds();
        let mut oldest: Option<(u64, usize, bool)> = None;
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let inbox_since = if slot.inbox.is_empty() {
                slot.waiting_since = None;
                None
            } else {
                // First seen waiting now, unless it was waiting already.
                Some(*slot.waiting_since.get_or_insert(now))
            };
            if !slot.takes_event_now() {
                continue;
            }
            let timer_since = slot
                .sandbox
                .as_ref()
                .and_then(KernelSandbox::next_timer_deadline)
                .filter(|deadline| *deadline <= now);
            let candidate = match (timer_since, inbox_since) {
                (Some(timer), Some(inbox)) if timer <= inbox => Some((timer, true)),
                (_, Some(inbox)) => Some((inbox, false)),
                (Some(timer), None) => Some((timer, true)),
                (None, None) => None,
            };
            if let Some((since, timer)) = candidate
                && oldest.is_none_or(|(oldest, _, _)| since < oldest)
            {
                oldest = Some((since, index, timer));
            }
        }
        let Some((since, index, timer)) = oldest else {
            return false;
        };
        if timer {
            self.deliver(index, Work::Timer);
            return true;
        }
        let slot = &mut self.slots[index];
        let Some(pending) = slot.inbox.pop_front() else {
            return false;
        };
        // Arrival times are not recorded per event: the rest of the queue
        // counts as waiting since the same time.
        slot.waiting_since = (!slot.inbox.is_empty()).then_some(since);
        let work = match pending {
            Pending::Irq(line) => Work::Irq(line),
            Pending::Message { request, bytes } => Work::Message { request, bytes },
        };
        self.deliver(index, work);
        true
    }

    /// Hands `work` to module `index`'s worker (the module is away until it
    /// completes). Without the scheduler, or if the worker cannot start, the
    /// event runs right here instead.
    fn deliver(&mut self, index: usize, work: Work) {
        let slot = &mut self.slots[index];
        let Some(sandbox) = slot.sandbox.take() else {
            return;
        };
        let job = Job {
            slot: index,
            account: account_of(index),
            sandbox,
            work,
        };
        if slot.worker.is_none() && crate::sched::is_running() {
            match worker::Worker::start(&slot.plan.name) {
                Ok(started) => slot.worker = Some(started),
                Err(error) => log::warn!(
                    "module {}: no worker thread ({error:?}); its events run on the event loop",
                    slot.plan.name
                ),
            }
        }
        slot.away = true;
        match &slot.worker {
            Some(worker) => worker.lend(job),
            None => {
                let done = worker::execute(job);
                // As for a worker's completion: its messages first.
                self.route_queued();
                self.complete(done);
            }
        }
    }

    /// Takes back every sandbox whose worker finished. Returns whether any did.
    ///
    /// What a module sent and replied during its event is routed before the
    /// event's outcome is handled: a worker queues its messages before its
    /// completion, so a reply followed by a trap in the same event is always
    /// delivered, and the fault settles only what the module left unanswered.
    fn take_completed(&mut self) -> bool {
        let completed = worker::take_completed();
        let any = !completed.is_empty();
        if any {
            self.route_queued();
        }
        for done in completed {
            self.complete(done);
        }
        any
    }

    /// A sandbox is home with the outcome of its event.
    fn complete(&mut self, done: Done) {
        let Done {
            slot: index,
            sandbox,
            work,
            result,
            accesses_before,
        } = done;
        let slot = &mut self.slots[index];
        slot.away = false;
        slot.events_handled += 1;
        if slot.tracing {
            crate::supervisor::trace::print_new_accesses(
                &slot.plan.name,
                &sandbox,
                accesses_before,
            );
        }
        slot.sandbox = Some(sandbox);
        match result {
            Ok(delivery @ (Delivery::Refused | Delivery::NoHandler)) => {
                if let Work::Message { request, bytes } = &work {
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
                    self.settle_refused_request(*request, delivery);
                }
            }
            Ok(_) => {}
            Err(fault) => self.contain(index, &fault, Some(&work.event())),
        }
    }

    /// A request the module never took (refused, or no handler) will never
    /// be answered: the kernel forgets it, and a process waiting for it gets
    /// an error now instead of at its deadline.
    fn settle_refused_request(&mut self, request: u32, delivery: Delivery) {
        if request == 0 {
            return;
        }
        if let Some((_, KernelRequest::Ipc { token })) = self.kernel_requests.remove(&request) {
            let error = match delivery {
                Delivery::Refused => crate::ipc::IpcError::Full,
                _ => crate::ipc::IpcError::Closed,
            };
            let _ = crate::ipc::fail(token, error);
        }
    }

    /// Waits until module `index`'s instance is home (at most one event).
    pub(crate) fn bring_home(&mut self, index: usize) {
        while self.slots.get(index).is_some_and(|slot| slot.away) {
            if !self.take_completed() {
                crate::sched::wait_for_interrupt(worker::any_completed);
            }
        }
    }

    /// Waits until every instance is home.
    pub(crate) fn bring_all_home(&mut self) {
        for index in 0..self.slots.len() {
            self.bring_home(index);
        }
    }
}

/// The heap account of the module in slot `index` (account 0 is the
/// kernel's; modules past the last account share it).
pub(crate) fn account_of(index: usize) -> u32 {
    let last = crate::mm::heap::ACCOUNTS - 1;
    u32::try_from(index.saturating_add(1).min(last)).unwrap_or(0)
}
