//! The kernel's [`KernelServices`]: what the module system gets from the
//! real machine. Events run on each module's worker thread, slow work on a
//! thread of its own, IRQ lines come from the PIC, console output goes to
//! COM1, allocations are charged to the heap's accounts, native processes
//! are reached through kernel IPC and pushes arrive on COM2.

use super::message_queue::{self, KernelOutbox};
use super::platform::KernelPlatform;
use super::push_port::PushPort;
use super::workers::{self, Done, Job, Worker};
use crate::archive::Archive;
use crate::ipc::{self, IpcError};
use crate::mm::{budget, heap};
use crate::module_system::event_loop::EventLoop;
use crate::module_system::services::{
    EndpointMessage, Finished, KernelServices, MachineMemory, PushRequest, Routed,
};
use crate::push_protocol::PushEvent;
use crate::system_manifest::{GrantLine, SystemManifest};
use crate::{console, irq, proc, time};
use alloc::borrow::Cow;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_interfaces::pci::Function;
use cella_wasm_host::abi::PciAddress;
use cella_wasm_host::{Grant, Limits, Preparer};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use hashbrown::HashMap;

/// The module system as the kernel runs it.
pub type System = EventLoop<Kernel>;

/// Loads and starts every module `manifest` lists from `archive`.
pub fn boot(manifest: &SystemManifest, archive: Archive<'static>) -> System {
    boot_with_limits(manifest, archive, Limits::default())
}

/// As [`boot`], with every sandbox under `limits`.
pub fn boot_with_limits(
    manifest: &SystemManifest,
    archive: Archive<'static>,
    limits: Limits,
) -> System {
    workers::set_event_loop_thread();
    ipc::watch_answers(answer_arrived);
    let kernel = Kernel {
        workers: HashMap::new(),
        push: PushPort::new(manifest.push.as_ref(), &archive),
    };
    EventLoop::boot(kernel, manifest, archive, limits)
}

/// The real machine, for the module system.
pub struct Kernel {
    /// Each module's worker thread, by module name (started on first use).
    workers: HashMap<String, Worker>,
    /// Modules pushed from the host arrive here.
    push: PushPort,
}

/// Set by the IPC watcher when a message was queued on an endpoint a module serves.
static MESSAGE_QUEUED: AtomicBool = AtomicBool::new(false);

/// The watcher of the modules' IPC endpoints (interrupts off, IPC locked).
fn message_queued() {
    MESSAGE_QUEUED.store(true, Ordering::Release);
    workers::nudge_event_loop();
}

/// Set by the IPC watcher when a call a module made got its answer.
static ANSWER_ARRIVED: AtomicBool = AtomicBool::new(false);

/// The watcher of the calls modules make (interrupts off, IPC locked).
fn answer_arrived() {
    ANSWER_ARRIVED.store(true, Ordering::Release);
    workers::nudge_event_loop();
}

/// How long a supervisor `call` waits for a process's reply.
const CALL_TIMEOUT_NS: u64 = crate::module_system::operations::CALL_TIMEOUT_NS;

impl KernelServices for Kernel {
    type Platform = KernelPlatform;
    type Outbox = KernelOutbox;

    fn platform(&self) -> KernelPlatform {
        KernelPlatform
    }

    fn outbox(&self) -> KernelOutbox {
        KernelOutbox
    }

    fn now(&self) -> u64 {
        time::now_nanoseconds()
    }

    fn take_pending_irqs(&mut self) -> u64 {
        irq::take_pending()
    }

    fn msix_line_function(&self, line: u8) -> Option<PciAddress> {
        crate::pci_bus::vectors::route(line).map(|route| route.function)
    }

    fn revoke_irq(&mut self, line: u8) {
        irq::revoke(line);
    }

    fn expect_irq_acknowledgements(&mut self, line: u8, holders: u8) {
        irq::expect_acknowledgements(line, holders);
    }

    fn acknowledge_irq(&mut self, line: u8) {
        irq::acknowledge(line);
    }

    fn console_output_endpoint(&self) -> Option<u64> {
        console::output_endpoint()
    }

    fn route_console_output(&mut self, endpoint: u64) {
        console::route_output_to(endpoint);
    }

    fn take_console_back(&mut self, unwritten: Vec<Vec<u8>>) {
        let refused = console::take_back(unwritten);
        if refused > 0 {
            log::warn!(
                "{refused} messages waiting for the console's driver refused: not `uart` writes"
            );
        }
    }

    fn write_console(&mut self, from: &str, message: &[u8]) {
        if let Err(error) = console::write_uart_message(message) {
            log::warn!(
                "console output from {from} ({} bytes) refused: {error}",
                message.len()
            );
        }
    }

    fn print_line(&mut self, line: &str) {
        crate::kprintln!("{line}");
    }

    fn console_lines_held_back(&self, name: &str) -> (u64, u64) {
        super::platform::lines_dropped(name)
    }

    fn set_memory_limit(&mut self, account: u32, bytes: usize) {
        budget::set_limit(account, bytes);
    }

    fn admit_load(&self, account: u32, wasm_bytes: usize) -> Result<(), String> {
        budget::admit_load(account, wasm_bytes)
    }

    fn over_memory_limit(&self, account: u32) -> Option<String> {
        budget::over_limit(account)
    }

    fn charge<T>(&self, account: u32, work: impl FnOnce() -> T) -> T {
        crate::sched::charge_to(account, work)
    }

    fn memory_of(&self, account: u32) -> (u64, u64) {
        (heap::charged(account) as u64, budget::limit(account) as u64)
    }

    fn machine_memory(&self) -> MachineMemory {
        let frames = crate::mm::paging::frame_statistics();
        let statistics = heap::statistics();
        MachineMemory {
            frames_used: frames.allocated_frames,
            frames_total: frames.total_frames,
            heap_used: statistics.used as u64,
            heap_size: statistics.size as u64,
            heap_kept_for_kernel: budget::KERNEL_RESERVE_BYTES as u64,
            kernel_heap_charged: heap::charged(heap::KERNEL_ACCOUNT) as u64,
            dma_frames_kept: crate::mm::device_memory::dma_frames_kept(),
        }
    }

    fn refused_grant(&self, grants: &[GrantLine]) -> Option<String> {
        super::device_access::refused_grant(grants, super::device_access::dma_confined())
    }

    fn pci_functions(&self) -> Arc<[Function]> {
        crate::pci_bus::found()
    }

    fn take_device_faults(&mut self) -> Vec<(PciAddress, String)> {
        super::device_access::take_device_faults()
    }

    fn run_here(&mut self, _name: &str, job: Job) -> Result<workers::Done, Job> {
        Ok(workers::execute(job))
    }

    fn lend(&mut self, name: &str, job: Job) {
        if !self.workers.contains_key(name) && crate::sched::is_running() {
            match Worker::start(name) {
                Ok(started) => {
                    self.workers.insert(String::from(name), started);
                }
                Err(error) => log::warn!(
                    "module {name}: no worker thread ({error}); its events run on the event loop"
                ),
            }
        }
        match self.workers.get(name) {
            Some(worker) => worker.lend(job),
            None => workers::complete(workers::execute(job)),
        }
    }

    fn take_completed(&mut self) -> VecDeque<Done> {
        workers::take_completed()
    }

    fn wait_for_work(&mut self) {
        crate::sched::wait_for_interrupt(|| {
            !message_queue::is_empty()
                || workers::any_completed()
                || workers::any_finished()
                || MESSAGE_QUEUED.load(Ordering::Acquire)
                || ANSWER_ARRIVED.load(Ordering::Acquire)
        });
    }

    fn prepare_elsewhere(
        &mut self,
        operation: u64,
        preparer: Preparer<KernelPlatform, KernelOutbox>,
        name: String,
        bytes: Cow<'static, [u8]>,
        grant: Grant,
        account: u32,
    ) {
        workers::run_elsewhere("swap-prepare", operation, move || {
            Finished::Prepared(crate::sched::charge_to(account, || {
                preparer
                    .load(&name, &bytes, &grant)
                    .map_err(|error| format!("refused at load: {error}"))
                    .and_then(|module| {
                        preparer
                            .prepare(&module, KernelPlatform, KernelOutbox)
                            .map(alloc::boxed::Box::new)
                            .map_err(|fault| {
                                format!("failed at the instantiation of the new version: {fault}")
                            })
                    })
            }))
        });
    }

    fn call_process_elsewhere(&mut self, operation: u64, endpoint: String, bytes: Vec<u8>) {
        workers::run_elsewhere("supervisor-call", operation, move || {
            let deadline = time::now_nanoseconds() + CALL_TIMEOUT_NS;
            let reply = ipc::lookup(&endpoint)
                .and_then(|id| ipc::call(id, &bytes, Some(deadline)))
                .map_err(|error| format!("{error}"));
            Finished::Called(reply)
        });
    }

    fn take_finished(&mut self) -> Vec<(u64, Finished<Self>)> {
        workers::take_finished()
    }

    fn take_routed(&mut self) -> VecDeque<Routed> {
        message_queue::take_all()
    }

    fn open_endpoint(&mut self, name: &str) -> Result<u64, String> {
        ipc::create_endpoint(Some(name))
            .and_then(|id| ipc::watch(id, message_queued).map(|()| u64::from(id)))
            .map_err(|error| format!("{error}"))
    }

    fn messages_waiting(&mut self) -> bool {
        MESSAGE_QUEUED.swap(false, Ordering::AcqRel)
    }

    fn take_message(&mut self, endpoint: u64) -> Option<EndpointMessage> {
        let id = u32::try_from(endpoint).ok()?;
        ipc::receive(id, false).ok().map(|message| EndpointMessage {
            token: message.token,
            bytes: message.bytes,
        })
    }

    fn answer_token(&mut self, token: u64, answer: Result<&[u8], IpcError>) {
        let result = match answer {
            Ok(bytes) => ipc::reply(token, bytes),
            Err(error) => ipc::fail(token, error),
        };
        match result {
            Ok(()) => {}
            // The caller withdrew the call (it timed out, or its instance ended).
            Err(IpcError::BadToken) => {
                log::info!("an answer was dropped: its caller no longer waits")
            }
            Err(error) => log::warn!("an answer was not delivered: {error}"),
        }
    }

    fn answer_directly(&mut self, request: u32, token: u64) {
        super::message_queue::answer_directly(request, token);
    }

    fn answered_directly(&mut self, request: u32) -> bool {
        super::message_queue::answered_directly(request)
    }

    fn endpoint_named(&self, name: &str) -> Option<u64> {
        ipc::lookup(name).ok().map(u64::from)
    }

    fn send_on(&mut self, endpoint: u64, bytes: &[u8]) -> Result<(), IpcError> {
        let id = u32::try_from(endpoint).map_err(|_| IpcError::Closed)?;
        ipc::send(id, bytes)
    }

    fn call_on(&mut self, endpoint: u64, bytes: &[u8]) -> Result<u64, IpcError> {
        let id = u32::try_from(endpoint).map_err(|_| IpcError::Closed)?;
        ipc::call_watched(id, bytes)
    }

    fn take_call_answers(&mut self) -> Vec<(u64, Result<Vec<u8>, IpcError>)> {
        if ANSWER_ARRIVED.swap(false, Ordering::AcqRel) {
            ipc::take_watched_answers()
        } else {
            Vec::new()
        }
    }

    fn withdraw_call(&mut self, token: u64) {
        ipc::withdraw_watched(token);
    }

    fn close_endpoint(&mut self, opened: u64) {
        if let Ok(id) = u32::try_from(opened) {
            ipc::close_endpoint(id);
        }
    }

    fn process_rows(&self) -> String {
        process_rows()
    }

    fn poll_push(&mut self) -> Option<PushRequest> {
        match self.push.poll(time::now_nanoseconds())? {
            PushEvent::Challenge(nonce) => {
                self.push.send_nonce(&nonce);
                None
            }
            PushEvent::Upload {
                target,
                bytes,
                persist,
            } => Some(PushRequest::Install {
                target,
                bytes,
                persist,
            }),
            PushEvent::Install {
                target,
                entry,
                bytes,
            } => Some(PushRequest::InstallGranted {
                target,
                entry,
                bytes,
            }),
            PushEvent::Rejected(reason) => Some(PushRequest::Refused(reason)),
            PushEvent::Command { line } => Some(PushRequest::Command(line)),
            PushEvent::CommandRejected(reason) => Some(PushRequest::CommandRefused(reason)),
        }
    }

    fn answer_push(&mut self, outcome: &Result<String, String>) {
        self.push.answer(outcome);
    }

    fn answer_command(&mut self, outcome: &Result<String, String>) {
        self.push.answer_command(outcome);
    }

    fn log_tail(&self, lines: usize) -> String {
        crate::log_ring::tail(lines)
    }
}

/// One `ps` row per live native process: its name, `native` for the version,
/// its thread, each endpoint it may serve, marked `*` once it has registered
/// it (it is serving), the kernel memory charged to it against its allowance,
/// and how many refusal warnings the rate limit held back; then one row per
/// process that ended (the last [`ENDED_ROWS`]), with its exit status or
/// the fault that killed it.
pub fn process_rows() -> String {
    let mut out = String::new();
    for row in proc::running() {
        let (thread, name) = (row.thread, &row.name);
        let endpoints: alloc::vec::Vec<String> = row
            .serves
            .iter()
            .map(|endpoint| {
                let mark = if ipc::lookup(endpoint).is_ok() {
                    "*"
                } else {
                    ""
                };
                format!("{endpoint}{mark}")
            })
            .collect();
        let _ = writeln!(
            out,
            "{name:<14} {:<8} {:>4} {:<10} thread {thread}, serves [{}], kernel memory {} of {} KiB, {} warnings dropped, {} lines held back",
            "native",
            "-",
            "running",
            endpoints.join(", "),
            row.kernel_memory.0.div_ceil(1024),
            row.kernel_memory.1 / 1024,
            row.warnings_dropped,
            row.lines_dropped
        );
    }
    for (thread, name, reason) in proc::ended(ENDED_ROWS) {
        let _ = write!(
            out,
            "{name:<14} {:<8} {:>4} {:<10} thread {thread}",
            "native",
            "-",
            reason.state()
        );
        match reason {
            proc::ExitReason::Killed(summary) => {
                let _ = writeln!(out, ", killed: {summary}");
            }
            proc::ExitReason::Exited(_) => out.push('\n'),
        }
    }
    out
}

/// Ended processes `ps` lists, the latest ones.
pub const ENDED_ROWS: usize = 8;
