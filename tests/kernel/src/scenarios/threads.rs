//! Scheduler scenarios: preemption of CPU-bound threads (`threads`) and
//! sleep-deadline accuracy under load (`sleep`).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cella_kernel::sched::{self, Priority};
use cella_kernel::{irq, kprintln, time};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A thread that counts as fast as it can until `stop`, never yielding.
fn spin_counter(
    name: &str,
    priority: Priority,
    counter: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> Result<u32, String> {
    let counter = Arc::clone(counter);
    let stop = Arc::clone(stop);
    sched::spawn(name, priority, move || {
        while !stop.load(Ordering::Relaxed) {
            counter.fetch_add(1, Ordering::Relaxed);
            core::hint::spin_loop();
        }
    })
    .map_err(|error| format!("cannot spawn {name}: {error}"))
}

/// Two CPU-bound threads at the same priority both progress under
/// preemption; a low-priority thread waits while they run, then runs.
pub fn threads() -> Result<(), String> {
    irq::start();
    let stop = Arc::new(AtomicBool::new(false));
    let first = Arc::new(AtomicU64::new(0));
    let second = Arc::new(AtomicU64::new(0));
    let low = Arc::new(AtomicU64::new(0));
    let low_stop = Arc::new(AtomicBool::new(false));
    spin_counter("spin-a", Priority::Normal, &first, &stop)?;
    spin_counter("spin-b", Priority::Normal, &second, &stop)?;
    spin_counter("spin-low", Priority::Low, &low, &low_stop)?;
    // The boot thread is Normal too: while it sleeps the two spinners share the CPU.
    let windows = 10;
    let window_ns = 50_000_000;
    let (mut progressed_a, mut progressed_b) = (0, 0);
    let (mut last_a, mut last_b) = (0, 0);
    let switches_before = sched::statistics().switches;
    for _ in 0..windows {
        sched::sleep_for(window_ns);
        let (a, b) = (
            first.load(Ordering::Relaxed),
            second.load(Ordering::Relaxed),
        );
        progressed_a += u32::from(a > last_a);
        progressed_b += u32::from(b > last_b);
        (last_a, last_b) = (a, b);
    }
    let low_while_busy = low.load(Ordering::Relaxed);
    let switches = sched::statistics().switches - switches_before;
    kprintln!(
        "threads: spin-a={last_a} spin-b={last_b} progressed in {progressed_a}/{windows} and \
         {progressed_b}/{windows} windows of 50 ms; {switches} switches; spin-low={low_while_busy} while they ran"
    );
    stop.store(true, Ordering::Relaxed);
    sched::sleep_for(30_000_000);
    let low_after = low.load(Ordering::Relaxed);
    low_stop.store(true, Ordering::Relaxed);
    sched::sleep_for(5_000_000);
    let statistics = sched::statistics();
    kprintln!(
        "threads: spin-low={low_after} after the normal threads ended; {} threads left",
        statistics.threads
    );
    if progressed_a < windows - 1 || progressed_b < windows - 1 {
        return Err(format!(
            "a CPU-bound thread starved: {progressed_a} and {progressed_b} of {windows} windows"
        ));
    }
    let (slower, faster) = (last_a.min(last_b), last_a.max(last_b));
    if slower == 0 || faster / slower > 4 {
        return Err(format!("unfair share: {last_a} vs {last_b}"));
    }
    if low_while_busy != 0 {
        return Err(format!(
            "the low-priority thread ran ({low_while_busy}) while normal threads were ready"
        ));
    }
    if low_after == 0 {
        return Err(String::from(
            "the low-priority thread never ran once the CPU was free",
        ));
    }
    if statistics.threads != 2 {
        return Err(format!(
            "{} threads left; expected boot and idle (dead threads reaped)",
            statistics.threads
        ));
    }
    Ok(())
}

/// A high-priority thread sleeps 60 times (0.3-7.7 ms) while two CPU-bound
/// threads keep the CPU busy. Each wake must come from the first tick at or
/// after the deadline (the tick before it found the deadline not yet due), and
/// never before the deadline. How late the thread actually ran (time-stamp
/// counter) and whether a later tick had already arrived are reported: under
/// TCG, QEMU delivers ticks it missed while the host was busy in bursts.
pub fn sleep() -> Result<(), String> {
    irq::start();
    let stop = Arc::new(AtomicBool::new(false));
    let first = Arc::new(AtomicU64::new(0));
    let second = Arc::new(AtomicU64::new(0));
    spin_counter("load-a", Priority::Normal, &first, &stop)?;
    spin_counter("load-b", Priority::Normal, &second, &stop)?;
    let results = Arc::new(spin::Mutex::new(Vec::new()));
    let done = Arc::new(AtomicBool::new(false));
    {
        let results = Arc::clone(&results);
        let done = Arc::clone(&done);
        sched::spawn("sleeper", Priority::High, move || {
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            for _ in 0..SLEEPS {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let duration = 300_000 + seed % 7_400_000;
                let deadline = time::now_nanoseconds() + duration;
                sched::sleep_until(deadline);
                let woke = time::now_nanoseconds();
                let ran_at_tick = sched::ticks();
                let wake = sched::last_wake();
                let record = Sleep {
                    deadline,
                    woke,
                    wake,
                    later_ticks: ran_at_tick.saturating_sub(wake.tick),
                };
                x86_64::instructions::interrupts::without_interrupts(|| {
                    results.lock().push(record)
                });
            }
            done.store(true, Ordering::Release);
        })
        .map_err(|error| format!("cannot spawn the sleeper: {error}"))?;
    }
    let deadline = time::now_nanoseconds() + 5_000_000_000;
    while !done.load(Ordering::Acquire) && time::now_nanoseconds() < deadline {
        sched::sleep_for(10_000_000);
    }
    stop.store(true, Ordering::Relaxed);
    let results = x86_64::instructions::interrupts::without_interrupts(|| results.lock().clone());
    if results.len() != SLEEPS {
        return Err(format!(
            "only {} of {SLEEPS} sleeps finished in 5 s",
            results.len()
        ));
    }
    let early = results
        .iter()
        .filter(|sleep| sleep.woke < sleep.deadline)
        .count();
    let not_first_tick = results
        .iter()
        .filter(|sleep| {
            !(sleep.wake.previous_tick_nanoseconds < sleep.deadline
                && sleep.deadline <= sleep.wake.tick_nanoseconds)
        })
        .count();
    let later_ticks = results.iter().filter(|sleep| sleep.later_ticks > 0).count();
    let mut lateness: Vec<u64> = results
        .iter()
        .map(|sleep| sleep.woke.saturating_sub(sleep.deadline))
        .collect();
    lateness.sort_unstable();
    let median = lateness[lateness.len() / 2];
    let maximum = lateness[lateness.len() - 1];
    kprintln!(
        "sleep: {SLEEPS} sleeps under load: {not_first_tick} not woken by the first tick after \
         the deadline; {early} early; lateness median {} us, max {} us (tick 1000 us); \
         {later_ticks} ran after a later tick had arrived; load threads counted {} and {}",
        median / 1000,
        maximum / 1000,
        first.load(Ordering::Relaxed),
        second.load(Ordering::Relaxed)
    );
    if early > 0 {
        return Err(format!("{early} sleeps ended before their deadline"));
    }
    if not_first_tick > 0 {
        return Err(format!(
            "{not_first_tick} sleepers were not woken by the first tick after their deadline"
        ));
    }
    Ok(())
}

const SLEEPS: usize = 60;

#[derive(Clone, Copy)]
struct Sleep {
    deadline: u64,
    woke: u64,
    wake: sched::WakeRecord,
    later_ticks: u64,
}
