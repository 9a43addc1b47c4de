//! Swap soak: the UART driver swapped v1 -> v2 -> v1 and restarted, round
//! after round, through the same code paths as the shell's `swap` and
//! `restart`; the kernel heap in use after the rounds must be within a small
//! constant of the figure after a warm-up. `swaps=N` on the command line sets
//! the number of rounds (default 250, i.e. 500 swaps).

use alloc::format;
use alloc::string::String;
use cella_kernel::kprintln;
use cella_kernel::module_host::services::System;

const MODULE: &str = "uart16550";
const VERSION_ONE: &str = "modules/uart16550.wasm";
const VERSION_TWO: &str = "modules/uart16550-v2.wasm";
/// Rounds before the first heap reading: queues and rings reach their size.
const WARM_UP_ROUNDS: u32 = 10;
/// Growth tolerated over the whole soak (allocator fragmentation, a queue
/// that grew once): far below one leaked module per round.
const TOLERATED_GROWTH_BYTES: usize = 64 * 1024;

/// One round: two swaps and a restart, then the loop runs until quiet.
fn round(system: &mut System) -> Result<(), String> {
    system.swap(MODULE, VERSION_TWO)?;
    system.swap(MODULE, VERSION_ONE)?;
    system.restart_by_hand(MODULE)?;
    system.run_for(2_000_000);
    let index = system
        .find(MODULE)
        .ok_or_else(|| format!("no module {MODULE}"))?;
    if !system.module(index).is_running() {
        return Err(format!("{MODULE} is not running after a round"));
    }
    Ok(())
}

fn heap_in_use(system: &mut System) -> usize {
    system.settle();
    cella_kernel::mm::heap::statistics().used
}

/// Runs `rounds` rounds and checks the heap.
pub fn run(system: &mut System, rounds: u32) -> Result<(), String> {
    system.run_for(200_000_000);
    let at_boot = heap_in_use(system);
    for _ in 0..WARM_UP_ROUNDS {
        round(system)?;
    }
    let before = heap_in_use(system);
    for done in 0..rounds {
        round(system).map_err(|problem| format!("round {done}: {problem}"))?;
    }
    let after = heap_in_use(system);
    let growth = after.saturating_sub(before);
    kprintln!(
        "swap_soak: {} swaps and {rounds} restarts of {MODULE}: heap {} KiB at boot, {} KiB after warm-up, {} KiB after ({} bytes more)",
        2 * rounds,
        at_boot / 1024,
        before / 1024,
        after / 1024,
        after as i64 - before as i64
    );
    if growth > TOLERATED_GROWTH_BYTES {
        return Err(format!(
            "the heap grew by {growth} bytes over {rounds} rounds"
        ));
    }
    Ok(())
}
