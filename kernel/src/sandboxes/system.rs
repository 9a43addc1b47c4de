//! The module table and the event loop.
//!
//! At boot the kernel reads `system.manifest` from the boot archive, and for
//! each module in order: finds its `.wasm`, builds its grant, loads it (the
//! Wasm host refuses a module whose request exceeds the grant, naming the
//! capability) and starts it. Then it loops: pending IRQ lines become IRQ
//! events for the module holding the line, queued messages go to the module
//! serving their endpoint, due timers fire, and one event at a time is
//! delivered, round robin, each under the Wasm host's fuel budget. A module
//! that faults is reported and stays down (the supervisor issue restarts it);
//! its IRQ lines are masked and messages for it are reported, not lost silently.

use super::platform::KernelPlatform;
use super::router::{self, KernelOutbox, Routed};
use crate::archive::Archive;
use crate::system_manifest::{GrantLine, ModulePlan, SystemManifest};
use crate::{console, irq, kprintln, time};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::{Delivery, Event, Fault, Grant, Limits, Runtime, Sandbox};

/// The endpoint whose server gets the kernel's console output.
pub const CONSOLE_OUTPUT_ENDPOINT: &str = "uart";
/// Most events queued for one module; more are refused and reported.
const INBOX_CAPACITY: usize = 4096;

type KernelSandbox = Sandbox<KernelPlatform, KernelOutbox>;

enum Pending {
    Irq(u8),
    Message { request: u32, bytes: Vec<u8> },
}

struct Slot {
    plan: ModulePlan,
    sandbox: Option<KernelSandbox>,
    inbox: VecDeque<Pending>,
    irq_lines: Vec<u8>,
    serves: Vec<u64>,
}

/// What the kernel asked a module, so it knows what a reply answers.
enum KernelRequest {
    Time,
}

/// All modules and the state of the event loop.
pub struct System {
    runtime: Runtime<KernelPlatform, KernelOutbox>,
    slots: Vec<Slot>,
    /// Endpoint names; the id of `endpoints[i]` is `i + 1`.
    endpoints: Vec<String>,
    kernel_requests: BTreeMap<u32, KernelRequest>,
    next_request: u32,
    cursor: usize,
}

impl System {
    /// Loads and starts every module the manifest lists; failures are reported and skipped.
    pub fn boot(manifest: &SystemManifest, archive: &Archive<'_>) -> Self {
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
        let mut system = System {
            runtime: Runtime::new(Limits::default()),
            slots: Vec::new(),
            endpoints,
            kernel_requests: BTreeMap::new(),
            next_request: 1,
            cursor: 0,
        };
        let started = time::now_nanoseconds();
        for plan in &manifest.modules {
            let sandbox = system.start(plan, archive);
            let serves = plan
                .serves
                .iter()
                .filter_map(|name| system.endpoint_id(name))
                .collect();
            let irq_lines = plan
                .grants
                .iter()
                .filter_map(|grant| match grant {
                    GrantLine::Irq { line, .. } => Some(*line),
                    _ => None,
                })
                .collect();
            system.slots.push(Slot {
                plan: plan.clone(),
                sandbox,
                inbox: VecDeque::new(),
                irq_lines,
                serves,
            });
        }
        let up = system
            .slots
            .iter()
            .filter(|slot| slot.sandbox.is_some())
            .count();
        if let Some(endpoint) = system.endpoint_id(CONSOLE_OUTPUT_ENDPOINT)
            && system.server_of(endpoint).is_some()
        {
            console::route_output_to(endpoint);
            log::info!("console output now goes through the `{CONSOLE_OUTPUT_ENDPOINT}` driver");
        }
        kprintln!(
            "cella: all modules up ({up} of {} started) in {} ms",
            system.slots.len(),
            (time::now_nanoseconds() - started) / 1_000_000
        );
        system.ask_for_time();
        system
    }

    fn endpoint_id(&self, name: &str) -> Option<u64> {
        self.endpoints
            .iter()
            .position(|known| known == name)
            .map(|index| index as u64 + 1)
    }

    fn endpoint_name(&self, id: u64) -> &str {
        usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_sub(1))
            .and_then(|index| self.endpoints.get(index))
            .map_or("?", String::as_str)
    }

    /// The index of the live module serving endpoint `id`.
    fn server_of(&self, id: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.sandbox.is_some() && slot.serves.contains(&id))
    }

    fn grant_for(&self, plan: &ModulePlan) -> Grant {
        let mut grant = Grant::new();
        let mut dma_bytes = 0u64;
        let mut timers = 0u32;
        for line in &plan.grants {
            grant = match line {
                GrantLine::Port { base, count, .. } => grant.port_range(*base, *count),
                GrantLine::Mmio { base, length, .. } => grant.mmio_region(*base, *length),
                GrantLine::Irq { line, .. } => grant.irq_line(*line),
                GrantLine::Dma { bytes } => {
                    dma_bytes = dma_bytes.saturating_add(*bytes);
                    grant
                }
                GrantLine::Endpoint { name } => match self.endpoint_id(name) {
                    Some(id) => grant.endpoint(name, id),
                    None => grant,
                },
                GrantLine::Timer => {
                    timers = timers.saturating_add(1);
                    grant
                }
            };
        }
        grant.dma_bytes(dma_bytes).timers(timers)
    }

    fn start(&mut self, plan: &ModulePlan, archive: &Archive<'_>) -> Option<KernelSandbox> {
        let bytes = match archive.find(&plan.file) {
            Ok(Some(entry)) => entry.data,
            Ok(None) => {
                log::error!(
                    "module {}: `{}` is not in the boot archive; not started",
                    plan.name,
                    plan.file
                );
                return None;
            }
            Err(error) => {
                log::error!(
                    "module {}: boot archive unreadable: {error}; not started",
                    plan.name
                );
                return None;
            }
        };
        let grant = self.grant_for(plan);
        let module = match self.runtime.load(&plan.name, bytes, &grant) {
            Ok(module) => module,
            Err(error) => {
                log::error!("module {} refused at load: {error}", plan.name);
                return None;
            }
        };
        match self.runtime.start(&module, KernelPlatform, KernelOutbox) {
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
                Some(sandbox)
            }
            Err(fault) => {
                log::error!("module {} failed to start: {fault}", plan.name);
                None
            }
        }
    }

    /// Asks the `rtc` server for the time, to show a kernel request and its reply.
    fn ask_for_time(&mut self) {
        let Some(endpoint) = self.endpoint_id("rtc") else {
            return;
        };
        let Some(server) = self.server_of(endpoint) else {
            return;
        };
        let request = self.next_request;
        self.next_request = self.next_request.wrapping_add(1).max(1);
        self.kernel_requests.insert(request, KernelRequest::Time);
        self.slots[server].inbox.push_back(Pending::Message {
            request,
            bytes: b"time".to_vec(),
        });
    }

    /// Runs the event loop forever.
    pub fn run(&mut self) -> ! {
        loop {
            if !self.step() {
                idle_until_interrupt();
            }
        }
    }

    /// Runs the event loop for `nanoseconds` of kernel time.
    pub fn run_for(&mut self, nanoseconds: u64) {
        let deadline = time::now_nanoseconds().saturating_add(nanoseconds);
        while time::now_nanoseconds() < deadline {
            if !self.step() {
                idle_until_interrupt();
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
            if self.step() || self.slots.iter().any(|slot| !slot.inbox.is_empty()) {
                quiet_since = time::now_nanoseconds();
            } else {
                idle_until_interrupt();
            }
        }
        console::take_back(Vec::new());
    }

    /// Names of the modules the manifest lists that are not running.
    pub fn modules_down(&self) -> Vec<&str> {
        self.slots
            .iter()
            .filter(|slot| slot.sandbox.is_none())
            .map(|slot| slot.plan.name.as_str())
            .collect()
    }

    /// Routes what arrived and delivers at most one event. Returns whether there was work.
    pub fn step(&mut self) -> bool {
        self.collect_interrupts();
        self.route_messages();
        let timers_fired = self.fire_timers();
        let delivered = self.deliver_one();
        timers_fired || delivered || !router::is_empty()
    }

    fn collect_interrupts(&mut self) {
        let pending = irq::take_pending();
        for line in (0..16u8).filter(|line| pending & (1 << line) != 0) {
            match self
                .slots
                .iter_mut()
                .find(|slot| slot.sandbox.is_some() && slot.irq_lines.contains(&line))
            {
                Some(slot) if slot.inbox.len() < INBOX_CAPACITY => {
                    slot.inbox.push_back(Pending::Irq(line))
                }
                Some(slot) => log::warn!(
                    "module {}: inbox full, IRQ {line} left masked",
                    slot.plan.name
                ),
                None => log::warn!("IRQ {line} fired with no live holder; left masked"),
            }
        }
    }

    fn route_messages(&mut self) {
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
        match self.server_of(endpoint) {
            Some(server) if self.slots[server].inbox.len() < INBOX_CAPACITY => {
                self.slots[server]
                    .inbox
                    .push_back(Pending::Message { request: 0, bytes });
            }
            Some(_) | None if Some(endpoint) == console::output_endpoint() => {
                // Console output with no driver to take it: the kernel writes it itself.
                console::write_direct(&bytes);
            }
            Some(server) => log::warn!(
                "message from {from} to `{}` refused: {}'s inbox is full",
                self.endpoint_name(endpoint),
                self.slots[server].plan.name
            ),
            None => log::warn!(
                "message from {from} to `{}` ({} bytes) not delivered: no live server",
                self.endpoint_name(endpoint),
                bytes.len()
            ),
        }
    }

    fn route_reply(&mut self, from: &str, request: u32, bytes: &[u8]) {
        match self.kernel_requests.remove(&request) {
            Some(KernelRequest::Time) => match core::str::from_utf8(bytes) {
                Ok(text) => log::info!("{from} answered the kernel's time request: {text}"),
                Err(_) => log::warn!(
                    "{from} answered the time request with {} bytes of non-text",
                    bytes.len()
                ),
            },
            None => log::warn!("{from} replied to unknown request {request}; dropped"),
        }
    }

    fn fire_timers(&mut self) -> bool {
        let now = time::now_nanoseconds();
        let mut fired = false;
        for index in 0..self.slots.len() {
            let due = self.slots[index]
                .sandbox
                .as_ref()
                .and_then(KernelSandbox::next_timer_deadline)
                .is_some_and(|deadline| deadline <= now);
            if due {
                fired = true;
                self.deliver(index, Event::Timer);
            }
        }
        fired
    }

    fn deliver_one(&mut self) -> bool {
        let count = self.slots.len();
        for offset in 0..count {
            let index = (self.cursor + offset) % count;
            let Some(pending) = self.slots[index].inbox.pop_front() else {
                continue;
            };
            self.cursor = (index + 1) % count;
            match pending {
                Pending::Irq(line) => self.deliver(index, Event::Irq { line }),
                Pending::Message { request, bytes } => {
                    self.deliver(
                        index,
                        Event::Message {
                            request,
                            bytes: &bytes,
                        },
                    );
                }
            }
            return true;
        }
        false
    }

    fn deliver(&mut self, index: usize, event: Event<'_>) {
        let slot = &mut self.slots[index];
        let Some(sandbox) = slot.sandbox.as_mut() else {
            return;
        };
        match sandbox.deliver(event) {
            Ok(Delivery::Refused) => {
                log::warn!("module {} refused an event ({event:?})", slot.plan.name);
            }
            Ok(_) => {}
            Err(fault) => self.contain(index, &fault),
        }
    }

    /// Takes a faulted module out: report, mask its lines, account for its queue.
    fn contain(&mut self, index: usize, fault: &Fault) {
        let slot = &mut self.slots[index];
        log::error!("module {} faulted: {fault}", slot.plan.name);
        if let Some(sandbox) = slot.sandbox.take() {
            for access in sandbox.recent_accesses().iter().rev().take(8) {
                log::error!("  recent: {access:?}");
            }
        }
        for &line in &slot.irq_lines {
            irq::revoke(line);
        }
        let served_console =
            console::output_endpoint().is_some_and(|endpoint| slot.serves.contains(&endpoint));
        let waiting: Vec<Vec<u8>> = slot
            .inbox
            .drain(..)
            .filter_map(|pending| match pending {
                Pending::Message { bytes, .. } => Some(bytes),
                Pending::Irq(_) => None,
            })
            .collect();
        if served_console {
            log::warn!(
                "console driver {} is down; the kernel writes COM1 itself again",
                slot.plan.name
            );
            console::take_back(waiting);
        } else if !waiting.is_empty() {
            log::warn!(
                "{} messages queued for {} were not delivered (module down)",
                waiting.len(),
                slot.plan.name
            );
        }
    }
}

/// Sleeps until the next interrupt unless work arrived in the meantime.
fn idle_until_interrupt() {
    x86_64::instructions::interrupts::disable();
    if router::is_empty() {
        // `sti; hlt` as one step: an interrupt between the check and the halt still wakes us.
        x86_64::instructions::interrupts::enable_and_hlt();
    } else {
        x86_64::instructions::interrupts::enable();
    }
}
