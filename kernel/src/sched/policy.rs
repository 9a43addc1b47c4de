//! The scheduler's decisions, without any hardware: ready queues by priority
//! with round robin inside a priority, time slices counted in timer ticks, and
//! sleepers ordered by deadline. Tested on the host; `sched` applies the
//! decisions to real threads.
//!
//! Rules:
//! - the highest priority with a ready thread runs; inside one priority,
//!   threads take turns (first in, first out);
//! - a running thread keeps the CPU until it blocks, yields, its slice of
//!   [`Policy::quantum`] ticks runs out while a thread of the same or higher
//!   priority is ready, or a thread of strictly higher priority becomes ready;
//! - a thread preempted by a higher priority goes back to the front of its
//!   queue (it had not used its turn); one whose slice ran out goes to the back;
//! - a thread woken from blocking (a reply, a message, a device interrupt)
//!   goes ahead of the threads of its priority that are merely waiting for
//!   their turn, and at the next tick it preempts a running thread of its
//!   priority, which keeps the rest of its slice: a thread that blocks often
//!   (an event loop handing out events, a driver answering requests) waits
//!   at most a tick behind CPU-bound threads, not a slice behind each of them;
//!   a thread goes ahead so for at most one slice's worth of ticks between two
//!   turns of its own in the normal order, so threads that wake each other
//!   without end (an interrupt storm) cannot starve the CPU-bound ones;
//! - sleepers wake at the first tick at or after their deadline, earliest
//!   deadline first, ties in the order they went to sleep.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// A thread's number; never reused while the kernel runs.
pub type ThreadId = u32;

/// How urgent a thread is. `Idle` belongs to the idle thread alone, which runs
/// only when nothing else is ready and is never queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// The idle thread.
    Idle = 0,
    /// Background work.
    Low = 1,
    /// Ordinary threads: the Wasm event loop, native processes.
    Normal = 2,
    /// Threads that must react fast (timers, IRQ delivery, tests of latency).
    High = 3,
}

impl Priority {
    /// Every priority a queued thread can have, most urgent first.
    pub const QUEUED: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    fn level(self) -> usize {
        self as usize
    }
}

const LEVELS: usize = 4;

/// Ready queues, the sleepers and the running thread's slice.
#[derive(Debug)]
pub struct Policy {
    ready: [VecDeque<ThreadId>; LEVELS],
    /// Threads woken from blocking, ahead of `ready` at their priority.
    woken: [VecDeque<ThreadId>; LEVELS],
    sleepers: BTreeMap<(u64, u64), ThreadId>,
    sleep_keys: BTreeMap<ThreadId, (u64, u64)>,
    sleep_sequence: u64,
    quantum: u32,
    slice_left: u32,
    /// What was left of the slices of threads preempted by a higher priority.
    unused_slices: BTreeMap<ThreadId, u32>,
    /// Ticks each thread ran after going ahead, since its last turn in the
    /// normal order.
    ahead_ticks: BTreeMap<ThreadId, u32>,
    /// The thread picked last, and whether it went ahead.
    running: Option<(ThreadId, bool)>,
}

impl Policy {
    /// A policy whose slices last `quantum` ticks (at least one).
    pub fn new(quantum: u32) -> Self {
        Policy {
            ready: Default::default(),
            woken: Default::default(),
            sleepers: BTreeMap::new(),
            sleep_keys: BTreeMap::new(),
            sleep_sequence: 0,
            quantum: quantum.max(1),
            slice_left: quantum.max(1),
            unused_slices: BTreeMap::new(),
            ahead_ticks: BTreeMap::new(),
            running: None,
        }
    }

    /// Ticks in a full slice.
    pub fn quantum(&self) -> u32 {
        self.quantum
    }

    /// Ticks left in the running thread's slice.
    pub fn slice_left(&self) -> u32 {
        self.slice_left
    }

    /// Queues `thread` at the back of its priority. The idle priority is ignored
    /// (the idle thread is never queued); a thread already queued is not queued twice.
    pub fn make_ready(&mut self, thread: ThreadId, priority: Priority) {
        if priority == Priority::Idle || self.is_ready(thread) {
            return;
        }
        self.ready[priority.level()].push_back(thread);
    }

    /// Queues `thread`, woken from blocking, ahead of the threads of its
    /// priority that wait for their turn (see the rules above).
    pub fn make_woken(&mut self, thread: ThreadId, priority: Priority) {
        if priority == Priority::Idle || self.is_ready(thread) {
            return;
        }
        if self.used_its_lead(thread) {
            self.ready[priority.level()].push_back(thread);
        } else {
            self.woken[priority.level()].push_back(thread);
        }
    }

    /// Whether `thread` ran a slice's worth of ticks ahead of the others
    /// since its last turn in the normal order.
    fn used_its_lead(&self, thread: ThreadId) -> bool {
        self.ahead_ticks.get(&thread).copied().unwrap_or(0) >= self.quantum
    }

    /// A ready thread was woken as well (it had been made ready by a tick,
    /// say, before the wake-up it waited for came): it moves ahead like a
    /// woken one.
    pub fn promote(&mut self, thread: ThreadId, priority: Priority) {
        if self.used_its_lead(thread) {
            return;
        }
        let queue = &mut self.ready[priority.level()];
        if let Some(at) = queue.iter().position(|&queued| queued == thread) {
            queue.remove(at);
            self.woken[priority.level()].push_back(thread);
        }
    }

    /// Puts back a thread that was running when it was preempted: at the back of
    /// its queue if its slice ran out, at the front if it still had time.
    pub fn requeue_preempted(&mut self, thread: ThreadId, priority: Priority) {
        if priority == Priority::Idle || self.is_ready(thread) {
            return;
        }
        if self.slice_left == 0 {
            self.ready[priority.level()].push_back(thread);
        } else {
            self.ready[priority.level()].push_front(thread);
            self.unused_slices.insert(thread, self.slice_left);
        }
    }

    /// Whether `thread` is in a ready queue.
    pub fn is_ready(&self, thread: ThreadId) -> bool {
        self.ready
            .iter()
            .chain(&self.woken)
            .any(|queue| queue.contains(&thread))
    }

    /// Number of queued threads.
    pub fn ready_count(&self) -> usize {
        self.ready
            .iter()
            .chain(&self.woken)
            .map(VecDeque::len)
            .sum()
    }

    /// The most urgent priority that has a ready thread.
    pub fn highest_ready(&self) -> Option<Priority> {
        Priority::QUEUED.into_iter().find(|priority| {
            !self.ready[priority.level()].is_empty() || !self.woken[priority.level()].is_empty()
        })
    }

    /// Takes the next thread to run and starts its slice (the rest of its
    /// old one if a higher priority preempted it); `None` means run the idle thread.
    pub fn pick(&mut self) -> Option<ThreadId> {
        let priority = self.highest_ready()?;
        let level = priority.level();
        let (thread, ahead) = match self.woken[level].pop_front() {
            Some(thread) => (thread, true),
            None => (self.ready[level].pop_front()?, false),
        };
        if !ahead {
            // Its turn in the normal order: it may go ahead again.
            self.ahead_ticks.remove(&thread);
        }
        self.running = Some((thread, ahead));
        self.slice_left = self.unused_slices.remove(&thread).unwrap_or(self.quantum);
        Some(thread)
    }

    /// Takes `thread` out of the ready queues (it blocked or died).
    pub fn remove(&mut self, thread: ThreadId) {
        for queue in self.ready.iter_mut().chain(&mut self.woken) {
            queue.retain(|&queued| queued != thread);
        }
        self.unused_slices.remove(&thread);
        self.ahead_ticks.remove(&thread);
    }

    /// One timer tick passed for the running thread.
    pub fn tick(&mut self) {
        self.slice_left = self.slice_left.saturating_sub(1);
        if let Some((thread, true)) = self.running {
            *self.ahead_ticks.entry(thread).or_insert(0) += 1;
        }
    }

    /// Whether the thread running at `current` should give way now (asked at
    /// each tick, and when a thread becomes ready).
    pub fn should_preempt(&self, current: Priority) -> bool {
        match self.highest_ready() {
            None => false,
            Some(ready) if ready > current => true,
            Some(ready) => {
                ready == current && (self.slice_left == 0 || !self.woken[ready.level()].is_empty())
            }
        }
    }

    /// `thread` sleeps until `deadline` (nanoseconds); replaces an earlier sleep of it.
    pub fn sleep(&mut self, thread: ThreadId, deadline: u64) {
        self.cancel_sleep(thread);
        let key = (deadline, self.sleep_sequence);
        self.sleep_sequence += 1;
        self.sleepers.insert(key, thread);
        self.sleep_keys.insert(thread, key);
    }

    /// Forgets `thread`'s sleep (it was woken early or died). Returns whether it slept.
    pub fn cancel_sleep(&mut self, thread: ThreadId) -> bool {
        match self.sleep_keys.remove(&thread) {
            Some(key) => {
                self.sleepers.remove(&key);
                true
            }
            None => false,
        }
    }

    /// Whether `thread` sleeps.
    pub fn is_sleeping(&self, thread: ThreadId) -> bool {
        self.sleep_keys.contains_key(&thread)
    }

    /// The earliest deadline of any sleeper.
    pub fn next_deadline(&self) -> Option<u64> {
        self.sleepers.keys().next().map(|&(deadline, _)| deadline)
    }

    /// Removes and returns the sleepers whose deadline is at or before `now`,
    /// earliest first (the caller makes them ready with their priorities).
    pub fn take_due(&mut self, now: u64) -> Vec<ThreadId> {
        let mut due = Vec::new();
        while let Some((&(deadline, sequence), &thread)) = self.sleepers.iter().next() {
            if deadline > now {
                break;
            }
            self.sleepers.remove(&(deadline, sequence));
            self.sleep_keys.remove(&thread);
            due.push(thread);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_picks_idle() {
        let mut policy = Policy::new(10);
        assert_eq!(policy.pick(), None);
        assert_eq!(policy.highest_ready(), None);
        assert!(!policy.should_preempt(Priority::Idle));
    }

    #[test]
    fn round_robin_within_a_priority() {
        let mut policy = Policy::new(10);
        for thread in 1..=3 {
            policy.make_ready(thread, Priority::Normal);
        }
        let mut order = Vec::new();
        for _ in 0..6 {
            let thread = policy.pick().expect("ready");
            order.push(thread);
            policy.make_ready(thread, Priority::Normal);
        }
        assert_eq!(order, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn higher_priority_runs_first() {
        let mut policy = Policy::new(10);
        policy.make_ready(1, Priority::Low);
        policy.make_ready(2, Priority::Normal);
        policy.make_ready(3, Priority::High);
        policy.make_ready(4, Priority::Normal);
        let order: Vec<_> = core::iter::from_fn(|| policy.pick()).collect();
        assert_eq!(order, [3, 2, 4, 1]);
    }

    #[test]
    fn idle_priority_is_never_queued_and_duplicates_are_ignored() {
        let mut policy = Policy::new(10);
        policy.make_ready(7, Priority::Idle);
        assert_eq!(policy.ready_count(), 0);
        policy.make_ready(1, Priority::Normal);
        policy.make_ready(1, Priority::Normal);
        assert_eq!(policy.ready_count(), 1);
    }

    #[test]
    fn slice_expiry_preempts_only_for_equal_or_higher_priority() {
        let mut policy = Policy::new(3);
        policy.make_ready(2, Priority::Low);
        assert_eq!(policy.pick(), Some(2));
        policy.make_ready(3, Priority::Low);
        // Running thread 1 at Normal: a Low thread never preempts it.
        for _ in 0..5 {
            policy.tick();
        }
        assert_eq!(policy.slice_left(), 0);
        assert!(!policy.should_preempt(Priority::Normal));
        // At Low, an expired slice gives way to the other Low thread.
        assert!(policy.should_preempt(Priority::Low));
    }

    #[test]
    fn slice_not_expired_keeps_the_cpu() {
        let mut policy = Policy::new(3);
        policy.make_ready(1, Priority::Normal);
        assert_eq!(policy.pick(), Some(1));
        policy.make_ready(2, Priority::Normal);
        policy.tick();
        assert!(!policy.should_preempt(Priority::Normal));
        policy.tick();
        policy.tick();
        assert!(policy.should_preempt(Priority::Normal));
    }

    #[test]
    fn higher_priority_preempts_at_once() {
        let mut policy = Policy::new(10);
        policy.make_ready(5, Priority::High);
        assert!(policy.should_preempt(Priority::Normal));
        assert!(!policy.should_preempt(Priority::High));
    }

    #[test]
    fn preempted_thread_keeps_its_turn_unless_the_slice_ran_out() {
        let mut policy = Policy::new(2);
        policy.make_ready(1, Priority::Normal);
        policy.make_ready(2, Priority::Normal);
        assert_eq!(policy.pick(), Some(1));
        policy.tick();
        // Preempted by a High thread with one tick left: back to the front.
        policy.requeue_preempted(1, Priority::Normal);
        assert_eq!(policy.pick(), Some(1));
        policy.tick();
        policy.tick();
        // Slice ran out: back of the queue.
        policy.requeue_preempted(1, Priority::Normal);
        assert_eq!(policy.pick(), Some(2));
        assert_eq!(policy.pick(), Some(1));
    }

    #[test]
    fn preempted_thread_resumes_with_the_rest_of_its_slice_not_a_fresh_one() {
        let mut policy = Policy::new(10);
        policy.make_ready(1, Priority::Normal);
        policy.make_ready(2, Priority::Normal);
        assert_eq!(policy.pick(), Some(1));
        for _ in 0..7 {
            policy.tick();
        }
        policy.requeue_preempted(1, Priority::Normal);
        policy.make_ready(9, Priority::High);
        assert_eq!(policy.pick(), Some(9));
        assert_eq!(policy.slice_left(), 10);
        assert_eq!(policy.pick(), Some(1));
        assert_eq!(policy.slice_left(), 3);
        for _ in 0..3 {
            policy.tick();
        }
        assert!(policy.should_preempt(Priority::Normal));
    }

    #[test]
    fn remove_takes_a_thread_out_of_every_queue() {
        let mut policy = Policy::new(10);
        policy.make_ready(1, Priority::Normal);
        policy.make_ready(2, Priority::Normal);
        policy.remove(1);
        assert!(!policy.is_ready(1));
        assert_eq!(policy.pick(), Some(2));
        assert_eq!(policy.pick(), None);
    }

    #[test]
    fn sleepers_wake_in_deadline_order_at_or_after_their_deadline() {
        let mut policy = Policy::new(10);
        policy.sleep(1, 300);
        policy.sleep(2, 100);
        policy.sleep(3, 200);
        policy.sleep(4, 100);
        assert_eq!(policy.next_deadline(), Some(100));
        assert!(policy.take_due(99).is_empty());
        assert_eq!(policy.take_due(100), [2, 4]);
        assert_eq!(policy.take_due(250), [3]);
        assert!(policy.is_sleeping(1));
        assert_eq!(policy.take_due(u64::MAX), [1]);
        assert_eq!(policy.next_deadline(), None);
    }

    #[test]
    fn sleeping_again_replaces_the_old_deadline_and_cancel_forgets_it() {
        let mut policy = Policy::new(10);
        policy.sleep(1, 100);
        policy.sleep(1, 500);
        assert_eq!(policy.take_due(200), Vec::<ThreadId>::new());
        assert!(policy.cancel_sleep(1));
        assert!(!policy.cancel_sleep(1));
        assert_eq!(policy.take_due(u64::MAX), Vec::<ThreadId>::new());
    }

    #[test]
    fn quantum_is_at_least_one_tick() {
        let policy = Policy::new(0);
        assert_eq!(policy.quantum(), 1);
    }

    #[test]
    fn a_woken_thread_goes_ahead_and_preempts_a_cpu_bound_one_which_keeps_its_slice() {
        let mut policy = Policy::new(10);
        // Thread 1 runs, CPU-bound; thread 2 waits for its turn.
        policy.make_ready(1, Priority::Normal);
        policy.make_ready(2, Priority::Normal);
        assert_eq!(policy.pick(), Some(1));
        policy.tick();
        policy.tick();
        assert!(
            !policy.should_preempt(Priority::Normal),
            "a waiting turn does not preempt"
        );
        // Thread 3 is woken: it preempts at the tick, and runs before thread 2.
        policy.make_woken(3, Priority::Normal);
        policy.tick();
        assert!(policy.should_preempt(Priority::Normal));
        policy.requeue_preempted(1, Priority::Normal);
        assert_eq!(policy.pick(), Some(3));
        // It blocks again at once: thread 1 goes on with the rest of its slice.
        assert_eq!(policy.pick(), Some(1));
        assert_eq!(policy.slice_left(), 7);
        assert_eq!(policy.pick(), Some(2));
        // A woken thread of lower priority never preempts.
        policy.make_woken(4, Priority::Low);
        assert!(!policy.should_preempt(Priority::Normal));
        // A thread made ready by a tick and then woken moves ahead too.
        policy.make_ready(5, Priority::Normal);
        policy.make_ready(6, Priority::Normal);
        policy.promote(6, Priority::Normal);
        assert_eq!(policy.pick(), Some(6));
        assert_eq!(policy.pick(), Some(5));
        // Woken or not, a thread is queued once and can be removed.
        policy.make_ready(4, Priority::Low);
        assert_eq!(policy.ready_count(), 1);
        policy.remove(4);
        assert_eq!(policy.ready_count(), 0);
    }

    #[test]
    fn threads_that_wake_each_other_without_end_do_not_starve_a_cpu_bound_one() {
        let mut policy = Policy::new(10);
        // Thread 9 is CPU-bound and waits for its turn; threads 1 and 2 wake
        // each other for ever (an interrupt storm), each running across ticks.
        policy.make_ready(9, Priority::Normal);
        policy.make_woken(1, Priority::Normal);
        let mut ran_nine_after = None;
        for round in 0..100 {
            let thread = policy.pick().expect("a thread is ready");
            if thread == 9 {
                ran_nine_after = Some(round);
                break;
            }
            policy.tick();
            // It wakes the other one and blocks.
            policy.make_woken(if thread == 1 { 2 } else { 1 }, Priority::Normal);
        }
        let rounds = ran_nine_after.expect("the CPU-bound thread ran");
        assert!(rounds <= 2 * 10 + 2, "it waited {rounds} turns");
    }
}
