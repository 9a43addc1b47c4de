//! Each module's events run on a kernel thread of its own, its *worker*, so a
//! module busy inside its fuel budget is preempted like any other thread and
//! the event loop, the other modules and the native processes go on.
//!
//! The event loop ([`super::system::System`]) stays the only owner of the
//! module table. To deliver an event it lends the module's sandbox to the
//! module's worker together with one event ([`Worker::lend`]); the worker
//! runs it, puts the sandbox and the outcome on the completion queue and
//! wakes the event loop, which takes them back ([`take_completed`]). While
//! its sandbox is lent a module is *away*: it gets no other event, and
//! whatever needs the instance itself (a restart, a swap, `ps`) first waits
//! for it to come home, which takes at most one event's fuel.
//!
//! One event per turn, not a module's whole backlog: a module with a backlog
//! (the UART driver writing the console) would otherwise make the next
//! module's worker wait behind all of it. Lending 4 or 8 events at once was
//! measured: it tripled the restart figure of `cargo cella bench`.
//!
//! Every thread that runs Wasm (the workers, the event loop, bridged servers)
//! has the same priority. wasmi takes short spin locks inside its engine; a
//! thread of higher priority spinning on a lock that a preempted thread of
//! lower priority holds would never let it finish, while between equals the
//! spinner's slice runs out and the holder goes on.

use super::slot::KernelSandbox;
use crate::sched::{self, Priority, ThreadId};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_wasm_host::{Delivery, Entry, Event, Fault};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Stack of a worker thread, in pages (the interpreter recurses).
pub const STACK_PAGES: u64 = 64;

/// An event as a worker owns it.
#[derive(Debug)]
pub enum Work {
    Irq(u8),
    Message { request: u32, bytes: Vec<u8> },
    Timer,
}

impl Work {
    /// The entry point the event runs.
    pub fn entry(&self) -> Entry {
        match self {
            Work::Irq(_) => Entry::Irq,
            Work::Message { .. } => Entry::Message,
            Work::Timer => Entry::Timer,
        }
    }

    /// The Wasm host's view of it.
    pub fn event(&self) -> Event<'_> {
        match self {
            Work::Irq(line) => Event::Irq { line: *line },
            Work::Message { request, bytes } => Event::Message {
                request: *request,
                bytes,
            },
            Work::Timer => Event::Timer,
        }
    }
}

/// A sandbox lent to a worker with the event it is to handle.
pub struct Job {
    /// The module's index in the table.
    pub slot: usize,
    /// The module's heap account: the event's allocations are charged to it.
    pub account: u32,
    pub sandbox: KernelSandbox,
    pub work: Work,
}

/// A sandbox coming home with the outcome of its event.
pub struct Done {
    pub slot: usize,
    pub sandbox: KernelSandbox,
    pub work: Work,
    pub result: Result<Delivery, Fault>,
    /// The instance's device-access count before the event (for `trace`).
    pub accesses_before: u64,
}

/// Runs `job` on the calling thread.
pub fn execute(job: Job) -> Done {
    let Job {
        slot,
        account,
        mut sandbox,
        work,
    } = job;
    let accesses_before = sandbox.counters().trace_entries;
    let mut result = crate::sched::charge_to(account, || sandbox.deliver(work.event()));
    if result.is_ok()
        && let Some(why) = crate::mm::budget::over_limit(account)
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

/// Handed-back sandboxes, oldest first.
static COMPLETED: Mutex<VecDeque<Done>> = Mutex::new(VecDeque::new());
/// The thread running the event loop, woken by every completion.
static EVENT_LOOP: AtomicU32 = AtomicU32::new(0);

/// Set when something besides a completion wants the event loop's attention.
static NUDGED: AtomicBool = AtomicBool::new(false);

/// Wakes the event loop from another thread (it checks what it waits for).
pub fn nudge_event_loop() {
    NUDGED.store(true, Ordering::Release);
    sched::wake(EVENT_LOOP.load(Ordering::Acquire));
}

/// Whether the event loop was nudged since it last asked (and clears it).
pub fn take_nudge() -> bool {
    NUDGED.swap(false, Ordering::AcqRel)
}

/// Names the calling thread as the event loop.
pub fn set_event_loop_thread() {
    EVENT_LOOP.store(sched::current(), Ordering::Release);
}

/// Takes every completion so far.
pub fn take_completed() -> VecDeque<Done> {
    without_interrupts(|| core::mem::take(&mut *COMPLETED.lock()))
}

/// Whether a completion waits to be taken.
pub fn any_completed() -> bool {
    without_interrupts(|| !COMPLETED.lock().is_empty())
}

fn complete(done: Done) {
    without_interrupts(|| COMPLETED.lock().push_back(done));
    sched::wake(EVENT_LOOP.load(Ordering::Acquire));
}

/// A module's worker thread.
pub struct Worker {
    thread: ThreadId,
    job: Arc<Mutex<Option<Job>>>,
}

impl Worker {
    /// Starts the worker of module `name`.
    ///
    /// # Errors
    /// The scheduler could not start the thread.
    pub fn start(name: &str) -> Result<Self, sched::SpawnError> {
        let job: Arc<Mutex<Option<Job>>> = Arc::new(Mutex::new(None));
        let inbox = Arc::clone(&job);
        let thread = sched::spawn_with(
            name,
            Priority::Normal,
            STACK_PAGES,
            None,
            Box::new(move || {
                loop {
                    let job = wait_for_job(&inbox);
                    complete(execute(job));
                }
            }),
        )?;
        Ok(Worker { thread, job })
    }

    /// Gives `job` to the worker. The caller lends at most one job at a time.
    pub fn lend(&self, job: Job) {
        without_interrupts(|| *self.job.lock() = Some(job));
        sched::wake(self.thread);
    }
}

/// Blocks until a job is lent.
fn wait_for_job(cell: &Mutex<Option<Job>>) -> Job {
    without_interrupts(|| {
        loop {
            let taken = cell.lock().take();
            if let Some(job) = taken {
                return job;
            }
            sched::block_current(None);
        }
    })
}
