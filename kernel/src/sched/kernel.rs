//! The scheduler applied to real threads: the thread table, spawning, the
//! context switch on yield, block, sleep, exit and timer preemption.

use super::policy::{Policy, Priority, ThreadId};
use crate::arch::context::{self, Context};
use crate::mm::layout::PAGE_SIZE;
use crate::mm::paging::{self, MapError};
use crate::time;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use spin::Mutex;
use x86_64::instructions::interrupts::{self, without_interrupts};

/// Timer ticks (1 ms each) in a time slice.
pub const QUANTUM_TICKS: u32 = 10;
/// Pages of a thread's kernel stack unless asked otherwise (64 KiB).
pub const DEFAULT_STACK_PAGES: u64 = 16;

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Queued, waiting for the CPU.
    Ready,
    /// On the CPU.
    Running,
    /// Waiting for its deadline.
    Sleeping,
    /// Waiting for [`wake`] (and possibly a deadline).
    Blocked,
    /// Finished; its stack is recycled.
    Dead,
}

/// Hooks a thread runs when it is switched in (a native process loads its
/// address space and I/O permissions here).
pub trait SwitchHook: Send + Sync {
    /// Called with interrupts off just before the thread resumes.
    fn switched_in(&self);
}

struct Thread {
    name: String,
    priority: Priority,
    state: State,
    context: &'static Context,
    entry: Option<Box<dyn FnOnce() + Send>>,
    wake_pending: bool,
    timed_out: bool,
    hook: Option<&'static dyn SwitchHook>,
    ticks: u64,
    #[cfg(feature = "test-hooks")]
    last_wake: WakeRecord,
    /// The heap account its allocations are charged to.
    account: u32,
}

/// When the timer last woke a thread from a sleep (for the test kernel's `sleep` scenario).
#[cfg(feature = "test-hooks")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WakeRecord {
    /// The tick (count) whose handler woke it.
    pub tick: u64,
    /// Kernel time at that tick.
    pub tick_nanoseconds: u64,
    /// Kernel time at the tick before it (which found the deadline not yet due).
    pub previous_tick_nanoseconds: u64,
}

struct Scheduler {
    threads: BTreeMap<ThreadId, Thread>,
    policy: Policy,
    current: ThreadId,
    idle: ThreadId,
    spare: Vec<&'static Context>,
    dead: Vec<ThreadId>,
    next_id: ThreadId,
    switches: u64,
    interrupt_waiters: Vec<ThreadId>,
    default_hook: Option<&'static dyn SwitchHook>,
}

static SCHEDULER: Mutex<Option<Scheduler>> = Mutex::new(None);
static RUNNING: AtomicBool = AtomicBool::new(false);
static TICKS: AtomicU64 = AtomicU64::new(0);
#[cfg(feature = "test-hooks")]
static LAST_TICK_NANOSECONDS: AtomicU64 = AtomicU64::new(0);

/// Why a thread could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The scheduler is not initialised.
    NotReady,
    /// No memory for the stack.
    Stack(MapError),
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotReady => write!(formatter, "the scheduler is not running"),
            Self::Stack(error) => write!(formatter, "no kernel stack: {error}"),
        }
    }
}

/// Figures for reports and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Statistics {
    /// Context switches so far.
    pub switches: u64,
    /// Live threads (idle included).
    pub threads: usize,
    /// Threads waiting for the CPU.
    pub ready: usize,
}

fn with_scheduler<T>(action: impl FnOnce(&mut Scheduler) -> T) -> Option<T> {
    without_interrupts(|| SCHEDULER.lock().as_mut().map(action))
}

/// Turns the running boot code into thread 0 ("boot", normal priority), starts
/// the idle thread and lets the FPU run. Interrupts stay as they are; the
/// timer drives preemption once `irq::start` has run.
pub fn initialise() {
    if RUNNING.load(Ordering::Acquire) {
        return;
    }
    context::enable_fpu();
    let Some(boot) = Context::adopt_current() else {
        return;
    };
    let idle_stack = match paging::allocate_kernel_stack(4) {
        Ok(stack) => stack,
        Err(error) => crate::boot::fatal(format_args!("no stack for the idle thread: {error}")),
    };
    let idle = Context::new_thread(idle_stack, thread_entry, 1);
    let mut threads = BTreeMap::new();
    threads.insert(
        0,
        Thread::new("boot", Priority::Normal, State::Running, boot),
    );
    threads.insert(1, Thread::new("idle", Priority::Idle, State::Ready, idle));
    let mut idle_thread_entry: Option<Box<dyn FnOnce() + Send>> = Some(Box::new(idle_loop));
    if let Some(thread) = threads.get_mut(&1) {
        thread.entry = idle_thread_entry.take();
    }
    without_interrupts(|| {
        *SCHEDULER.lock() = Some(Scheduler {
            threads,
            policy: Policy::new(QUANTUM_TICKS),
            current: 0,
            idle: 1,
            spare: Vec::new(),
            dead: Vec::new(),
            next_id: 2,
            switches: 0,
            interrupt_waiters: Vec::new(),
            default_hook: None,
        });
    });
    RUNNING.store(true, Ordering::Release);
    log::info!(
        "scheduler: boot thread adopted, idle thread ready; {QUANTUM_TICKS} ms slices, 4 priorities"
    );
}

impl Thread {
    fn new(name: &str, priority: Priority, state: State, context: &'static Context) -> Self {
        Thread {
            name: String::from(name),
            priority,
            state,
            context,
            entry: None,
            wake_pending: false,
            timed_out: false,
            hook: None,
            ticks: 0,
            #[cfg(feature = "test-hooks")]
            last_wake: WakeRecord::default(),
            account: crate::mm::heap::KERNEL_ACCOUNT,
        }
    }
}

/// Whether [`initialise`] ran.
pub fn is_running() -> bool {
    RUNNING.load(Ordering::Acquire)
}

/// Starts `body` on a new thread with a 64 KiB stack.
///
/// # Errors
/// [`SpawnError`] if the scheduler is not running or no stack can be mapped.
pub fn spawn(
    name: &str,
    priority: Priority,
    body: impl FnOnce() + Send + 'static,
) -> Result<ThreadId, SpawnError> {
    spawn_with(name, priority, DEFAULT_STACK_PAGES, None, Box::new(body))
}

/// Starts `body` on a new thread with `stack_pages` of stack and an optional
/// switch hook (run each time the thread is switched in).
///
/// # Errors
/// [`SpawnError`] if the scheduler is not running or no stack can be mapped.
pub fn spawn_with(
    name: &str,
    priority: Priority,
    stack_pages: u64,
    hook: Option<&'static dyn SwitchHook>,
    body: Box<dyn FnOnce() + Send>,
) -> Result<ThreadId, SpawnError> {
    if !is_running() {
        return Err(SpawnError::NotReady);
    }
    let priority = priority.max(Priority::Low);
    reap();
    let recycled = with_scheduler(|scheduler| {
        let position = scheduler.spare.iter().position(|context| {
            context
                .stack_top()
                .zip(context.guard_page())
                .is_some_and(|(top, guard)| (top - guard) / PAGE_SIZE > stack_pages)
        });
        position.map(|index| scheduler.spare.swap_remove(index))
    })
    .flatten();
    let id = with_scheduler(|scheduler| {
        let id = scheduler.next_id;
        scheduler.next_id += 1;
        id
    })
    .ok_or(SpawnError::NotReady)?;
    let context = match recycled {
        Some(context) if context.restart(thread_entry, id as usize) => context,
        _ => {
            let stack = paging::allocate_kernel_stack(stack_pages).map_err(SpawnError::Stack)?;
            Context::new_thread(stack, thread_entry, id as usize)
        }
    };
    let preempt = with_scheduler(|scheduler| {
        let mut thread = Thread::new(name, priority, State::Ready, context);
        thread.entry = Some(body);
        thread.hook = hook;
        scheduler.threads.insert(id, thread);
        scheduler.policy.make_ready(id, priority);
        priority > scheduler.current_priority()
    })
    .unwrap_or(false);
    if preempt {
        without_interrupts(|| reschedule(Leave::Preempted));
    }
    Ok(id)
}

impl Scheduler {
    fn current_priority(&self) -> Priority {
        self.threads
            .get(&self.current)
            .map_or(Priority::Idle, |thread| thread.priority)
    }

    fn make_ready(&mut self, id: ThreadId) {
        if let Some(thread) = self.threads.get_mut(&id) {
            thread.state = State::Ready;
            self.policy.make_ready(id, thread.priority);
        }
    }

    /// Makes a thread woken from blocking ready, ahead of its priority's turn
    /// (see `policy`).
    fn make_woken(&mut self, id: ThreadId) {
        if let Some(thread) = self.threads.get_mut(&id) {
            thread.state = State::Ready;
            self.policy.make_woken(id, thread.priority);
        }
    }
}

/// The entry of every spawned thread: runs its body, then exits.
extern "C" fn thread_entry(_id: usize) -> ! {
    reap();
    let body = with_scheduler(|scheduler| {
        let current = scheduler.current;
        scheduler
            .threads
            .get_mut(&current)
            .and_then(|thread| thread.entry.take())
    })
    .flatten();
    interrupts::enable();
    if let Some(body) = body {
        body();
    }
    exit()
}

fn idle_loop() {
    loop {
        reap();
        // `sti; hlt` as one step: the tick (or any IRQ) wakes the CPU and the
        // handler switches to whatever became ready.
        interrupts::disable();
        let ready = with_scheduler(|scheduler| scheduler.policy.ready_count() > 0).unwrap_or(false);
        if ready {
            reschedule(Leave::Yielded);
            interrupts::enable();
        } else {
            interrupts::enable_and_hlt();
        }
    }
}

/// Frees the stacks of threads that died (their contexts go to the spare pool).
fn reap() {
    with_scheduler(|scheduler| {
        let current = scheduler.current;
        let mut index = 0;
        while index < scheduler.dead.len() {
            let id = scheduler.dead[index];
            if id == current {
                index += 1;
                continue;
            }
            scheduler.dead.swap_remove(index);
            if let Some(thread) = scheduler.threads.remove(&id)
                && thread.context.stack_top().is_some()
            {
                scheduler.spare.push(thread.context);
            }
        }
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Leave {
    /// Back of the queue.
    Yielded,
    /// Front of the queue unless its slice ran out.
    Preempted,
    /// Not queued (blocked, sleeping or dead; the state is already set).
    Waiting,
}

/// Picks the next thread and switches to it. Interrupts must be off.
fn reschedule(leave: Leave) {
    let switch = {
        let mut guard = SCHEDULER.lock();
        let Some(scheduler) = guard.as_mut() else {
            return;
        };
        let current = scheduler.current;
        let priority = scheduler.current_priority();
        if current != scheduler.idle {
            match leave {
                Leave::Yielded => scheduler.policy.make_ready(current, priority),
                Leave::Preempted => scheduler.policy.requeue_preempted(current, priority),
                Leave::Waiting => {}
            }
            if leave != Leave::Waiting
                && let Some(thread) = scheduler.threads.get_mut(&current)
            {
                thread.state = State::Ready;
            }
        }
        let next = scheduler.policy.pick().unwrap_or(scheduler.idle);
        let Some(from) = scheduler.threads.get(&current).map(|thread| thread.context) else {
            return;
        };
        let Some(to) = scheduler.threads.get_mut(&next) else {
            return;
        };
        to.state = State::Running;
        if next == current {
            return;
        }
        let hook = to.hook.or(scheduler.default_hook);
        let context = to.context;
        crate::mm::heap::set_current_account(to.account);
        scheduler.current = next;
        scheduler.switches += 1;
        (from, context, hook)
    };
    let (from, to, hook) = switch;
    if let Some(hook) = hook {
        hook.switched_in();
    }
    if let Err(error) = context::switch(from, to) {
        crate::boot::fatal(format_args!("thread switch refused: {error:?}"));
    }
}

/// Runs `work` with the running thread's allocations charged to heap account
/// `account` (a module's), then gives the thread its previous account back.
pub fn charge_to<R>(account: u32, work: impl FnOnce() -> R) -> R {
    let previous = set_thread_account(account);
    let result = work();
    set_thread_account(previous);
    result
}

/// Sets the running thread's heap account; returns the one it had.
fn set_thread_account(account: u32) -> u32 {
    without_interrupts(|| {
        let previous = crate::mm::heap::current_account();
        let _ = with_scheduler(|scheduler| {
            let current = scheduler.current;
            if let Some(thread) = scheduler.threads.get_mut(&current) {
                thread.account = account;
            }
        });
        crate::mm::heap::set_current_account(account);
        previous
    })
}

/// Sets the hook run when a thread without its own hook is switched in (the
/// kernel's address space and an empty I/O bitmap, once processes exist).
pub fn set_default_hook(hook: &'static dyn SwitchHook) {
    with_scheduler(|scheduler| scheduler.default_hook = Some(hook));
}

/// Gives the CPU to the next ready thread of the same or higher priority.
pub fn yield_now() {
    if !is_running() {
        return;
    }
    without_interrupts(|| reschedule(Leave::Yielded));
}

/// Sleeps until time (`time::now_nanoseconds`) reaches `deadline`; wakes at
/// the first tick at or after it.
pub fn sleep_until(deadline: u64) {
    if !is_running() {
        while time::now_nanoseconds() < deadline {
            core::hint::spin_loop();
        }
        return;
    }
    without_interrupts(|| {
        let sleeping = with_scheduler(|scheduler| {
            if time::now_nanoseconds() >= deadline || scheduler.current == scheduler.idle {
                return false;
            }
            let current = scheduler.current;
            scheduler.policy.sleep(current, deadline);
            if let Some(thread) = scheduler.threads.get_mut(&current) {
                thread.state = State::Sleeping;
            }
            true
        })
        .unwrap_or(false);
        if sleeping {
            reschedule(Leave::Waiting);
        }
    });
}

/// Sleeps for `nanoseconds`.
pub fn sleep_for(nanoseconds: u64) {
    sleep_until(time::now_nanoseconds().saturating_add(nanoseconds));
}

/// Blocks the current thread until [`wake`] (or until `deadline`, if any).
/// Returns `false` if the deadline passed first. Call with interrupts off,
/// right after checking the condition waited for; a wake that came in between
/// makes this return at once.
pub fn block_current(deadline: Option<u64>) -> bool {
    debug_assert!(!interrupts::are_enabled());
    let blocked = with_scheduler(|scheduler| {
        let current = scheduler.current;
        let Some(thread) = scheduler.threads.get_mut(&current) else {
            return false;
        };
        if thread.wake_pending || current == scheduler.idle {
            thread.wake_pending = false;
            return false;
        }
        thread.state = State::Blocked;
        thread.timed_out = false;
        if let Some(deadline) = deadline {
            scheduler.policy.sleep(current, deadline);
        }
        true
    })
    .unwrap_or(false);
    if !blocked {
        return true;
    }
    reschedule(Leave::Waiting);
    with_scheduler(|scheduler| {
        let current = scheduler.current;
        scheduler
            .threads
            .get_mut(&current)
            .is_none_or(|thread| !core::mem::take(&mut thread.timed_out))
    })
    .unwrap_or(true)
}

/// Makes a blocked thread ready (or remembers the wake if it is not blocked
/// yet). Safe from interrupt handlers; it never switches by itself.
pub fn wake(id: ThreadId) {
    with_scheduler(|scheduler| {
        let Some(thread) = scheduler.threads.get_mut(&id) else {
            return;
        };
        match thread.state {
            State::Blocked => {
                scheduler.policy.cancel_sleep(id);
                scheduler.make_woken(id);
            }
            State::Ready => {
                thread.wake_pending = true;
                let priority = thread.priority;
                scheduler.policy.promote(id, priority);
            }
            State::Running => thread.wake_pending = true,
            State::Sleeping | State::Dead => {}
        }
    });
}

/// Switches if a thread of higher priority than the running one is ready.
/// Call with interrupts off, e.g. at the end of an interrupt handler.
pub fn preempt_if_needed() {
    let preempt = with_scheduler(|scheduler| {
        scheduler
            .policy
            .highest_ready()
            .is_some_and(|ready| ready > scheduler.current_priority())
    })
    .unwrap_or(false);
    if preempt {
        reschedule(Leave::Preempted);
    }
}

/// Ends the current thread.
pub fn exit() -> ! {
    interrupts::disable();
    with_scheduler(|scheduler| {
        let current = scheduler.current;
        scheduler.policy.remove(current);
        scheduler.policy.cancel_sleep(current);
        if let Some(thread) = scheduler.threads.get_mut(&current) {
            thread.state = State::Dead;
        }
        scheduler.dead.push(current);
    });
    reschedule(Leave::Waiting);
    crate::boot::fatal(format_args!("a dead thread was resumed"))
}

/// The PIT tick, from the IRQ 0 handler after end-of-interrupt (interrupts off):
/// wakes due sleepers and interrupt waiters, counts the slice, preempts.
pub fn on_timer_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    let now = time::now_nanoseconds();
    #[cfg(feature = "test-hooks")]
    let previous_tick = LAST_TICK_NANOSECONDS.swap(now, Ordering::Relaxed);
    if !is_running() {
        return;
    }
    let preempt = with_scheduler(|scheduler| {
        let current = scheduler.current;
        if let Some(thread) = scheduler.threads.get_mut(&current) {
            thread.ticks += 1;
        }
        #[cfg(feature = "test-hooks")]
        let wake = WakeRecord {
            tick: TICKS.load(Ordering::Relaxed),
            tick_nanoseconds: now,
            previous_tick_nanoseconds: previous_tick,
        };
        for id in scheduler.policy.take_due(now) {
            if let Some(thread) = scheduler.threads.get_mut(&id) {
                thread.timed_out = thread.state == State::Blocked;
                #[cfg(feature = "test-hooks")]
                {
                    thread.last_wake = wake;
                }
            }
            scheduler.make_ready(id);
        }
        for id in core::mem::take(&mut scheduler.interrupt_waiters) {
            if scheduler
                .threads
                .get(&id)
                .is_some_and(|thread| thread.state == State::Blocked)
            {
                scheduler.make_ready(id);
            }
        }
        scheduler.policy.tick();
        scheduler
            .policy
            .should_preempt(scheduler.current_priority())
    })
    .unwrap_or(false);
    if preempt {
        reschedule(Leave::Preempted);
    }
}

/// A device IRQ arrived (interrupts off): wakes the threads waiting for one
/// and switches if one of them outranks the running thread.
pub fn on_device_interrupt() {
    if !is_running() {
        return;
    }
    with_scheduler(|scheduler| {
        for id in core::mem::take(&mut scheduler.interrupt_waiters) {
            if scheduler
                .threads
                .get(&id)
                .is_some_and(|thread| thread.state == State::Blocked)
            {
                scheduler.make_woken(id);
            }
        }
    });
    preempt_if_needed();
}

/// Blocks until the next interrupt (any IRQ, the tick included) unless
/// `work_ready` says there is work; other threads run meanwhile. Without the
/// scheduler this is `sti; hlt`.
pub fn wait_for_interrupt(work_ready: impl Fn() -> bool) {
    interrupts::disable();
    if work_ready() {
        interrupts::enable();
        return;
    }
    if !is_running() {
        interrupts::enable_and_hlt();
        return;
    }
    let waiting = with_scheduler(|scheduler| {
        let current = scheduler.current;
        if current == scheduler.idle {
            return false;
        }
        scheduler.interrupt_waiters.push(current);
        if let Some(thread) = scheduler.threads.get_mut(&current) {
            thread.state = State::Blocked;
        }
        true
    })
    .unwrap_or(false);
    if waiting {
        reschedule(Leave::Waiting);
        interrupts::enable();
    } else {
        interrupts::enable_and_hlt();
    }
}

/// The running thread's id.
pub fn current() -> ThreadId {
    with_scheduler(|scheduler| scheduler.current).unwrap_or(0)
}

/// The running thread's name.
pub fn current_name() -> String {
    with_scheduler(|scheduler| {
        scheduler
            .threads
            .get(&scheduler.current)
            .map(|thread| thread.name.clone())
    })
    .flatten()
    .unwrap_or_default()
}

/// A thread's state (`None` once it is gone).
pub fn state(id: ThreadId) -> Option<State> {
    with_scheduler(|scheduler| scheduler.threads.get(&id).map(|thread| thread.state)).flatten()
}

/// Timer ticks a thread has been running when they arrived.
pub fn thread_ticks(id: ThreadId) -> Option<u64> {
    with_scheduler(|scheduler| scheduler.threads.get(&id).map(|thread| thread.ticks)).flatten()
}

/// When the timer last woke the running thread from a sleep.
#[cfg(feature = "test-hooks")]
pub fn last_wake() -> WakeRecord {
    with_scheduler(|scheduler| {
        scheduler
            .threads
            .get(&scheduler.current)
            .map(|thread| thread.last_wake)
    })
    .flatten()
    .unwrap_or_default()
}

/// Timer ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Switch count, live threads, ready threads.
pub fn statistics() -> Statistics {
    with_scheduler(|scheduler| Statistics {
        switches: scheduler.switches,
        threads: scheduler.threads.len(),
        ready: scheduler.policy.ready_count(),
    })
    .unwrap_or_default()
}
