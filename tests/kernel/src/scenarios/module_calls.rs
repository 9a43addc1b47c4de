//! Calls between modules: the test manifest of `tests/tests/module_calls.rs`
//! boots `caller` (granted endpoint `callee`) and `callee` (serving it). Each
//! round makes the caller call twice: `ping` is answered `pong`; `crash`
//! makes the callee trap, so the caller's call fails with `closed` instead of
//! waiting, and the callee restarts. The caller logs every answer (the QEMU
//! test counts the lines); the kernel heap in use after the rounds must be
//! within a small constant of the figure after a warm-up. `rounds=N` on the
//! command line sets the number of rounds (default 100).

use alloc::format;
use alloc::string::String;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;

/// Rounds before the first heap reading: the fault records (64 kept, one per
/// round), the kernel log ring (32 KiB) and the queues reach their size.
const WARM_UP_ROUNDS: u32 = 70;
/// Growth tolerated over all rounds (allocator fragmentation, a queue that
/// grew once): far below one leaked request per round.
const TOLERATED_GROWTH_BYTES: usize = 16 * 1024;
/// Longest wait for the callee to come back after its fault.
const RESTART_WAIT_NANOSECONDS: u64 = 2_000_000_000;

fn index(system: &System, name: &str) -> Result<usize, String> {
    system
        .find(name)
        .ok_or_else(|| format!("no module {name} (boot this scenario with its test manifest)"))
}

/// One round: a call that is answered, then one whose server faults.
fn round(system: &mut System, caller: usize, callee: usize) -> Result<(), String> {
    let generation = system.module(caller).generation;
    let restarts = system.module(callee).tracker.restarts;
    system.queue_message(caller, 0, b"ping");
    system.settle();
    system.queue_message(caller, 0, b"crash");
    system.settle();
    system.reset_restart_history(callee);
    let waited_since = cella_kernel::time::now_nanoseconds();
    while !system.module(callee).is_running() {
        if cella_kernel::time::now_nanoseconds() - waited_since > RESTART_WAIT_NANOSECONDS {
            return Err(String::from("callee did not come back after its fault"));
        }
        system.run_for(1_000_000);
    }
    if system.module(callee).tracker.restarts == restarts {
        return Err(String::from("callee did not fault on `crash`"));
    }
    let slot = system.module(caller);
    if !slot.is_running() || slot.generation != generation {
        return Err(String::from("the caller faulted"));
    }
    Ok(())
}

fn heap_in_use(system: &mut System) -> usize {
    system.settle();
    cella_kernel::mm::heap::statistics().used
}

/// Runs `rounds` rounds and checks the heap.
pub fn run(system: &mut System, rounds: u32) -> Result<(), String> {
    let caller = index(system, "caller")?;
    let callee = index(system, "callee")?;
    system.settle();
    for _ in 0..WARM_UP_ROUNDS {
        round(system, caller, callee)?;
    }
    let before = heap_in_use(system);
    for done in 0..rounds {
        round(system, caller, callee).map_err(|problem| format!("round {done}: {problem}"))?;
    }
    let after = heap_in_use(system);
    kprintln!(
        "module_calls: {} calls answered and {} failed by a faulting server; heap {} KiB after warm-up, {} KiB after ({} bytes more)",
        rounds + WARM_UP_ROUNDS,
        rounds + WARM_UP_ROUNDS,
        before / 1024,
        after / 1024,
        after as i64 - before as i64
    );
    if after.saturating_sub(before) > TOLERATED_GROWTH_BYTES {
        return Err(format!(
            "the heap grew by {} bytes over {rounds} rounds",
            after - before
        ));
    }
    Ok(())
}
