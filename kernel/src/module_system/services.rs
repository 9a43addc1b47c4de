//! What the module system needs from the kernel, as one trait: the module
//! table, the router and the event loop are generic over it, exactly as the
//! Wasm host is generic over its `Platform`. The kernel implements it with
//! worker threads, the PIC, COM1 and the heap's accounts
//! (`crate::module_host`); host tests implement it with a clock, a queue and
//! no threads (`super::tests::mock`).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_interfaces::pci::Function;
use cella_wasm_host::abi::{ErrorCode, PciAddress};
use cella_wasm_host::{
    Delivery, Entry, Event, Fault, Grant, Loan, Outbox, Platform, Prepared, Preparer, Sandbox,
};

use crate::ipc::IpcError;
use crate::system_manifest::GrantLine;

/// A sandbox of the module system over kernel services `K`.
pub type SandboxOf<K> = Sandbox<<K as KernelServices>::Platform, <K as KernelServices>::Outbox>;
/// A job for the kernel services `K`.
pub type JobOf<K> = Job<<K as KernelServices>::Platform, <K as KernelServices>::Outbox>;
/// A completion for the kernel services `K`.
pub type DoneOf<K> = Done<<K as KernelServices>::Platform, <K as KernelServices>::Outbox>;
/// A prepared new instance (of a swap) over kernel services `K`.
pub type PreparedOf<K> = Prepared<<K as KernelServices>::Platform, <K as KernelServices>::Outbox>;

/// An event as the module system hands it out.
#[derive(Debug)]
pub enum Work {
    Irq(u8),
    Message {
        request: u32,
        bytes: Vec<u8>,
        /// The buffer its caller lent with it (`ipc_call_lending`).
        loan: Option<Loan>,
    },
    Timer,
    /// The answer to a call the module made (`ipc_call`).
    Reply {
        call: u32,
        outcome: Result<Vec<u8>, ErrorCode>,
    },
}

impl Work {
    /// The entry point the event runs.
    pub fn entry(&self) -> Entry {
        match self {
            Work::Irq(_) => Entry::Irq,
            Work::Message { .. } => Entry::Message,
            Work::Timer => Entry::Timer,
            Work::Reply { .. } => Entry::Reply,
        }
    }

    /// The Wasm host's view of it.
    pub fn event(&self) -> Event<'_> {
        match self {
            Work::Irq(line) => Event::Irq { line: *line },
            Work::Message { request, bytes, .. } => Event::Message {
                request: *request,
                bytes,
            },
            Work::Timer => Event::Timer,
            Work::Reply { call, outcome } => Event::Reply {
                call: *call,
                outcome: outcome.as_deref().map_err(|error| *error),
            },
        }
    }
}

/// A sandbox lent out with the event it is to handle.
pub struct Job<P: Platform + 'static, O: Outbox + 'static> {
    /// The module's index in the table.
    pub slot: usize,
    /// The module's heap account: the event's allocations are charged to it.
    pub account: u32,
    pub sandbox: alloc::boxed::Box<Sandbox<P, O>>,
    pub work: Work,
}

/// A sandbox coming home with the outcome of its event.
pub struct Done<P: Platform + 'static, O: Outbox + 'static> {
    pub slot: usize,
    pub sandbox: alloc::boxed::Box<Sandbox<P, O>>,
    pub work: Work,
    pub result: Result<Delivery, Fault>,
    /// The instance's trace-entry count before the event (for `trace`).
    pub accesses_before: u64,
}

/// Runs `job` on the calling thread, charging its allocations through
/// `charge` and faulting the module if the event left it over its memory
/// limit (`over_limit`).
pub fn execute<P: Platform + 'static, O: Outbox + 'static>(
    job: Job<P, O>,
    charge: impl FnOnce(u32, &mut dyn FnMut()),
    over_limit: impl FnOnce(u32) -> Option<String>,
) -> Done<P, O> {
    let Job {
        slot,
        account,
        mut sandbox,
        work,
    } = job;
    let accesses_before = sandbox.counters().trace_entries;
    let mut outcome = None;
    charge(account, &mut || {
        outcome = Some(match &work {
            Work::Message {
                request,
                bytes,
                loan: Some(loan),
            } => sandbox.deliver_lent(*request, bytes, *loan),
            _ => sandbox.deliver(work.event()),
        })
    });
    let mut result = outcome.unwrap_or(Ok(Delivery::NoHandler));
    if result.is_ok()
        && let Some(why) = over_limit(account)
    {
        result = Err(sandbox.fault_by_embedder(work.entry(), why));
    }
    Done {
        slot,
        sandbox,
        work,
        result,
        accesses_before,
    }
}

/// A message on its way between modules (or from the kernel).
#[derive(Debug)]
pub enum Routed {
    /// To the module serving `endpoint`.
    Send {
        from: String,
        endpoint: u64,
        bytes: Vec<u8>,
    },
    /// An answer to request `request`.
    Reply {
        from: String,
        request: u32,
        bytes: Vec<u8>,
    },
    /// A call (`ipc_call`) to the module serving `endpoint`, made by the
    /// instance of generation `generation`; its answer goes back to that
    /// instance as call `call`.
    Call {
        from: String,
        generation: u32,
        endpoint: u64,
        call: u32,
        bytes: Vec<u8>,
        /// The buffer the caller lent with it.
        loan: Option<Loan>,
    },
}

/// Work done away from the event loop, identified by the operation that asked for it.
pub enum Finished<K: KernelServices> {
    /// A swap's new version, loaded and instantiated (or why not).
    Prepared(Result<Box<PreparedOf<K>>, String>),
    /// A native process's reply to a `call` (or why there is none).
    Called(Result<Vec<u8>, String>),
}

/// A message or call a native process queued on an endpoint a module serves.
pub struct EndpointMessage {
    /// The reply token (0 for a plain send).
    pub token: u64,
    pub bytes: Vec<u8>,
}

/// Something the host pushed over the push link.
pub enum PushRequest {
    /// A module to install under `target`; `persist`: and to keep on the
    /// file system.
    Install {
        target: String,
        bytes: Vec<u8>,
        persist: bool,
    },
    /// A module to install under `target` with its system manifest entry
    /// (the compiled form's module block, see `cella_system::install_protocol`).
    InstallGranted {
        target: String,
        entry: String,
        bytes: Vec<u8>,
    },
    /// An upload the link refused (the answer is sent back with this reason).
    Refused(String),
    /// A supervisor command line from the host (`cargo cella ps`, ...), signed
    /// with the push key.
    Command(String),
    /// A command request the link refused, and why.
    CommandRefused(String),
}

/// Memory figures of the whole machine, for `mem`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineMemory {
    pub frames_used: u64,
    pub frames_total: u64,
    pub heap_used: u64,
    pub heap_size: u64,
    pub heap_kept_for_kernel: u64,
    pub kernel_heap_charged: u64,
    pub dma_frames_kept: u64,
}

/// What the module system needs from the kernel.
///
/// Grouped by concern: time, IRQ lines, the console, memory accounts, where
/// events run, work done elsewhere, messages, native processes and the push
/// link. Every method is cheap unless its documentation says otherwise.
pub trait KernelServices: Sized + 'static {
    /// The platform each sandbox reaches devices through.
    type Platform: Platform + Clone + 'static;
    /// The outbox each sandbox sends through (into [`KernelServices::take_routed`]).
    type Outbox: Outbox + Clone + 'static;

    /// A platform handle for a new sandbox.
    fn platform(&self) -> Self::Platform;
    /// An outbox handle for a new sandbox.
    fn outbox(&self) -> Self::Outbox;

    // Time.
    /// Nanoseconds since boot.
    fn now(&self) -> u64;

    // IRQ lines.
    /// Lines that fired since the last call, one bit each (0-15: the
    /// 8259's; 16-47: MSI-X vectors).
    fn take_pending_irqs(&mut self) -> u64;
    /// The PCI function whose MSI-X vector `line` is, if the kernel handed
    /// it out (its holder is the module granted that function).
    fn msix_line_function(&self, line: u8) -> Option<PciAddress>;
    /// Masks `line` and forgets its pending state (its holder went away).
    fn revoke_irq(&mut self, line: u8);
    /// `line` was delivered to `holders` holders (a shared legacy line): it
    /// is unmasked when the last of them acknowledges it.
    fn expect_irq_acknowledgements(&mut self, line: u8, holders: u8);
    /// Acknowledges `line` for a holder that went away while others hold
    /// it, so that they are not left with a line masked for good.
    fn acknowledge_irq(&mut self, line: u8);

    // The console.
    /// The endpoint console output currently goes to, if a driver took it.
    fn console_output_endpoint(&self) -> Option<u64>;
    /// Sends console output to the server of `endpoint` from now on.
    fn route_console_output(&mut self, endpoint: u64);
    /// The kernel writes the console itself again, starting with `unwritten`.
    fn take_console_back(&mut self, unwritten: Vec<Vec<u8>>);
    /// Writes the bytes of `from`'s `uart` `write` message to the console
    /// directly (a message that is not one is refused with a warning).
    fn write_console(&mut self, from: &str, message: &[u8]);
    /// Prints one line of kernel output (a `trace` line).
    fn print_line(&mut self, line: &str);
    /// Console warnings and lines of module `name` held back by the rate limit.
    fn console_lines_held_back(&self, name: &str) -> (u64, u64);

    // Memory accounts.
    /// Sets the heap limit of `account`.
    fn set_memory_limit(&mut self, account: u32, bytes: usize);
    /// Whether a load of `wasm_bytes` fits `account`'s limit and the kernel's reserve.
    ///
    /// # Errors
    /// Why it does not fit.
    fn admit_load(&self, account: u32, wasm_bytes: usize) -> Result<(), String>;
    /// Why `account` is over its limit, if it is.
    fn over_memory_limit(&self, account: u32) -> Option<String>;
    /// Runs `work` with its allocations charged to `account`.
    fn charge<T>(&self, account: u32, work: impl FnOnce() -> T) -> T;
    /// Bytes charged to `account` and its limit.
    fn memory_of(&self, account: u32) -> (u64, u64);
    /// The machine's memory figures.
    fn machine_memory(&self) -> MachineMemory;
    /// Why the kernel refuses grants it keeps for itself, if `grants` holds one.
    fn refused_grant(&self, grants: &[GrantLine]) -> Option<String>;
    /// The PCI functions the kernel found at boot (`device` and `pci-bus`
    /// grants are made of them).
    fn pci_functions(&self) -> Arc<[Function]>;
    /// The device faults seen since the last call (DMA the IOMMU blocked):
    /// the device that caused each, and the fault in words.
    fn take_device_faults(&mut self) -> Vec<(PciAddress, String)>;

    // Where events run.
    /// Hands `job` to module `job.slot`'s thread; its completion comes back
    /// through [`KernelServices::take_completed`].
    fn lend(&mut self, name: &str, job: Job<Self::Platform, Self::Outbox>);
    /// Runs `job` on the calling thread (the event loop's) and returns its
    /// completion, or gives `job` back if events cannot run here.
    ///
    /// # Errors
    /// The job itself, untouched, for [`KernelServices::lend`] instead.
    #[allow(clippy::result_large_err)]
    fn run_here(&mut self, name: &str, job: JobOf<Self>) -> Result<DoneOf<Self>, JobOf<Self>>;
    /// Every completion so far, oldest first.
    fn take_completed(&mut self) -> VecDeque<Done<Self::Platform, Self::Outbox>>;
    /// Blocks until something may have happened (an interrupt, a message, a
    /// completion, a finished background job); returns at once if it already did.
    fn wait_for_work(&mut self);

    // Work done elsewhere.
    /// Loads and instantiates `bytes` as a new version of a module (with
    /// `preparer`, under `grant`, charged to `account`) away from the event
    /// loop; the result comes back as [`Finished::Prepared`] for `operation`.
    #[allow(clippy::too_many_arguments)]
    fn prepare_elsewhere(
        &mut self,
        operation: u64,
        preparer: Preparer<Self::Platform, Self::Outbox>,
        name: String,
        bytes: Cow<'static, [u8]>,
        grant: Grant,
        account: u32,
    );
    /// Calls the native process serving `endpoint` away from the event loop;
    /// the reply comes back as [`Finished::Called`] for `operation`.
    fn call_process_elsewhere(&mut self, operation: u64, endpoint: String, bytes: Vec<u8>);
    /// Work done elsewhere that finished since the last call.
    fn take_finished(&mut self) -> Vec<(u64, Finished<Self>)>;

    // Messages.
    /// What modules sent and replied since the last call, oldest first.
    fn take_routed(&mut self) -> VecDeque<Routed>;

    // Native processes.
    /// Opens the process-side endpoint `name`, which a module serves.
    ///
    /// # Errors
    /// Why processes cannot reach it.
    fn open_endpoint(&mut self, name: &str) -> Result<u64, String>;
    /// Whether a process queued anything on an opened endpoint since the last call.
    fn messages_waiting(&mut self) -> bool;
    /// The next message a process queued on opened endpoint `endpoint`.
    fn take_message(&mut self, endpoint: u64) -> Option<EndpointMessage>;
    /// Answers a process's call.
    fn answer_token(&mut self, token: u64, answer: Result<&[u8], IpcError>);
    /// Request `request`, about to be lent to a module, is process call
    /// `token`: the module's reply may go straight to the process from the
    /// thread the module runs on, without waiting for the event loop.
    fn answer_directly(&mut self, _request: u32, _token: u64) {}
    /// Whether the reply to `request` already went straight to its process
    /// (forgets `request` either way).
    fn answered_directly(&mut self, _request: u32) -> bool {
        false
    }
    /// The kernel IPC endpoint registered as `name`: one a native process
    /// serves, or one the module system opened for a module it runs.
    fn endpoint_named(&self, name: &str) -> Option<u64>;
    /// Queues the one-way message `bytes` on kernel IPC endpoint `endpoint`.
    ///
    /// # Errors
    /// The endpoint's refusal: its queue is full, the message too long, the
    /// endpoint closed.
    fn send_on(&mut self, endpoint: u64, bytes: &[u8]) -> Result<(), IpcError>;
    /// Opens a call on kernel IPC endpoint `endpoint` for a module, without
    /// waiting: its answer comes back from
    /// [`KernelServices::take_call_answers`] under the returned token.
    ///
    /// # Errors
    /// Why the call could not be queued (the endpoint closed, its queue
    /// full, the message too long).
    fn call_on(&mut self, endpoint: u64, bytes: &[u8]) -> Result<u64, IpcError>;
    /// The answers to calls opened with [`KernelServices::call_on`] that
    /// arrived since the last call: the reply, or why the call failed (the
    /// endpoint closed, its server failed it).
    fn take_call_answers(&mut self) -> Vec<(u64, Result<Vec<u8>, IpcError>)>;
    /// Withdraws call `token` (nobody waits for it any more): its message,
    /// if still queued, is taken off the queue, and its answer, if one
    /// comes, is dropped.
    fn withdraw_call(&mut self, token: u64);
    /// Closes the process-side endpoint `opened` (its module was removed):
    /// calls queued on it fail, and its name is free for a process to serve.
    fn close_endpoint(&mut self, opened: u64);
    /// The `ps` rows of the native processes, as text.
    fn process_rows(&self) -> String;

    // The push link.
    /// A module pushed from the host, if one arrived (challenges are answered inside).
    fn poll_push(&mut self) -> Option<PushRequest>;
    /// Answers the host's push.
    fn answer_push(&mut self, outcome: &Result<String, String>);
    /// Answers the host's command with the text the shell would print:
    /// `Ok` for a report, `Err` for an error.
    fn answer_command(&mut self, outcome: &Result<String, String>);

    // The kernel log.
    /// The last `lines` lines of the kernel log.
    fn log_tail(&self, lines: usize) -> String;
}
