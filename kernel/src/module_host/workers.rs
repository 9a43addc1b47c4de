//! Each module's events run on a kernel thread of its own, its *worker*, so a
//! module busy inside its fuel budget is preempted like any other thread and
//! the event loop, the other modules and the native processes go on. One
//! kind runs on the event loop's thread instead: a native process's call to
//! an idle module with no more than the default fuel per event, while no
//! other module has an event waiting (`EventLoop::lend`); it holds the loop
//! for at most one default event, and the calling process waits on two
//! threads taking turns rather than three.
//!
//! The event loop (`crate::module_system::event_loop`) stays the only owner of the
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

use super::message_queue::KernelOutbox;
use super::platform::KernelPlatform;
use crate::module_system::services::{self, Finished};
use crate::sched::{self, Priority, ThreadId};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

/// Stack of a worker thread, in pages (the interpreter recurses).
pub const STACK_PAGES: u64 = 64;

/// A job as the kernel's workers take it.
pub type Job = services::Job<KernelPlatform, KernelOutbox>;
/// A completion as the kernel's workers hand it back.
pub type Done = services::Done<KernelPlatform, KernelOutbox>;

/// Runs `job` on the calling thread, charged to its module's account.
pub fn execute(job: Job) -> Done {
    services::execute(
        job,
        |account, work| crate::sched::charge_to(account, work),
        crate::mm::budget::over_limit,
    )
}

/// Handed-back sandboxes, oldest first.
static COMPLETED: Mutex<VecDeque<Done>> = Mutex::new(VecDeque::new());
/// The thread running the event loop, woken by every completion.
static EVENT_LOOP: AtomicU32 = AtomicU32::new(0);

/// Wakes the event loop from another thread. Whoever wakes it first
/// leaves what it waits for where the loop's wait condition looks
/// (`KernelServices::wait_for_work`), so a wake-up whose work an earlier
/// step already took does not cost the loop another pass.
pub fn nudge_event_loop() {
    sched::wake(EVENT_LOOP.load(Ordering::Acquire));
}

/// Names the calling thread as the event loop.
pub fn set_event_loop_thread() {
    EVENT_LOOP.store(sched::current(), Ordering::Release);
}

/// Work done on a thread of its own that finished, by operation id.
static FINISHED: Mutex<Vec<(u64, Finished<super::services::Kernel>)>> = Mutex::new(Vec::new());

/// Runs `work` on a new thread called `name`; its result is kept for
/// [`take_finished`] under `operation`. Without the scheduler (or a stack
/// for the thread) it runs right here.
pub fn run_elsewhere(
    name: &str,
    operation: u64,
    work: impl FnOnce() -> Finished<super::services::Kernel> + Send + 'static,
) {
    let job = Arc::new(Mutex::new(Some(work)));
    let for_thread = Arc::clone(&job);
    let spawned = sched::is_running()
        && sched::spawn_with(
            name,
            Priority::Normal,
            STACK_PAGES,
            None,
            Box::new(move || {
                if let Some(work) = without_interrupts(|| for_thread.lock().take()) {
                    let result = work();
                    without_interrupts(|| FINISHED.lock().push((operation, result)));
                    nudge_event_loop();
                }
            }),
        )
        .is_ok();
    if !spawned && let Some(work) = without_interrupts(|| job.lock().take()) {
        let result = work();
        without_interrupts(|| FINISHED.lock().push((operation, result)));
    }
}

/// Work done elsewhere that finished since the last call.
pub fn take_finished() -> Vec<(u64, Finished<super::services::Kernel>)> {
    without_interrupts(|| core::mem::take(&mut *FINISHED.lock()))
}

/// Whether work done elsewhere finished and waits to be taken.
pub fn any_finished() -> bool {
    without_interrupts(|| !FINISHED.lock().is_empty())
}

/// Takes every completion so far.
pub fn take_completed() -> VecDeque<Done> {
    without_interrupts(|| core::mem::take(&mut *COMPLETED.lock()))
}

/// Whether a completion waits to be taken.
pub fn any_completed() -> bool {
    without_interrupts(|| !COMPLETED.lock().is_empty())
}

/// Queues a completion and wakes the event loop.
pub fn complete(done: Done) {
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
