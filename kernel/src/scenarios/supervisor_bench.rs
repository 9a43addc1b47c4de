//! `test=supervisor_bench`: what the supervisor costs, in guest time under
//! TCG, next to a baseline event delivery measured in the same boot.
//! `cargo cella bench` boots it with the full boot archive.
//!
//! - baseline: a message queued for a running module (`faulty`, started by
//!   hand) until the event loop has delivered it;
//! - restart: `faulty` is told to panic; from the fault (its event returned
//!   with a trap) until the restarted instance has handled the next message
//!   queued behind the fatal one (the restart policy says "at once" for a
//!   first fault; the fault history is reset before each round);
//! - swap blackout: an (empty) message queued for the UART driver, then the
//!   driver swapped v1 <-> v2 with its state; from the start of the swap until
//!   the new version has handled the queued message. Its baseline is the same
//!   message without a swap.

use crate::sandboxes::slot::{ModuleState, Pending};
use crate::sandboxes::system::System;
use crate::{kprintln, time};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const ROUNDS: usize = 50;

fn queue(system: &mut System, index: usize, bytes: &[u8]) {
    system.slots[index].inbox.push_back(Pending::Message {
        request: 0,
        bytes: bytes.to_vec(),
    });
}

/// Steps the event loop until `done` holds (at most two seconds); the time it took.
fn step_until(system: &mut System, mut done: impl FnMut(&System) -> bool) -> Result<u64, String> {
    let started = time::now_nanoseconds();
    let limit = started + 2_000_000_000;
    while !done(system) {
        if time::now_nanoseconds() > limit {
            return Err(String::from("timed out after 2 s"));
        }
        system.step();
    }
    Ok(time::now_nanoseconds() - started)
}

struct Figures {
    samples: Vec<u64>,
}

impl Figures {
    fn new() -> Self {
        Self {
            samples: Vec::new(),
        }
    }

    fn median(&self) -> u64 {
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len() / 2).copied().unwrap_or(0)
    }

    fn max(&self) -> u64 {
        self.samples.iter().copied().max().unwrap_or(0)
    }
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return String::from("n/a");
    }
    let tenths = a * 10 / b;
    format!("{}.{}", tenths / 10, tenths % 10)
}

fn events(system: &System, index: usize) -> u64 {
    system.slots[index].events_handled
}

pub fn run(system: &mut System) -> Result<(), String> {
    // Let the boot's console output drain first.
    system.run_for(200_000_000);
    let faulty = system
        .find("faulty")
        .ok_or_else(|| String::from("no module `faulty` in the system manifest"))?;
    let uart = system
        .find("uart16550")
        .ok_or_else(|| String::from("no module `uart16550`"))?;
    system.start_by_hand("faulty")?;
    step_until(system, |system| system.slots[faulty].is_running())?;

    let mut idle_step = Figures::new();
    for _ in 0..ROUNDS {
        let started = time::now_nanoseconds();
        system.step();
        idle_step.samples.push(time::now_nanoseconds() - started);
    }
    let mut baseline = Figures::new();
    for _ in 0..ROUNDS {
        let before = events(system, faulty);
        queue(system, faulty, b"ping");
        baseline.samples.push(step_until(system, |system| {
            events(system, faulty) > before
        })?);
    }

    let mut restart = Figures::new();
    for _ in 0..ROUNDS {
        system.slots[faulty].tracker.reset();
        let before = events(system, faulty);
        queue(system, faulty, b"panic");
        queue(system, faulty, b"ping");
        step_until(system, |system| {
            !matches!(system.slots[faulty].state, ModuleState::Running)
                || events(system, faulty) > before
        })?;
        if events(system, faulty) != before + 1
            || system.slots[faulty].state == ModuleState::Running
        {
            return Err(String::from("faulty did not fault on `panic`"));
        }
        restart.samples.push(step_until(system, |system| {
            system.slots[faulty].is_running() && events(system, faulty) > before + 1
        })?);
    }

    // The faults' log went through the UART driver: let it drain, and let the
    // kernel write its own output from here on (a state over 16 KiB of queued
    // output would make the driver refuse the swap).
    system.settle();
    system.run_for(300_000_000);
    let mut uart_baseline = Figures::new();
    for _ in 0..ROUNDS {
        step_until(system, |system| system.slots[uart].inbox.is_empty())?;
        let before = events(system, uart);
        queue(system, uart, b"");
        uart_baseline
            .samples
            .push(step_until(system, |system| events(system, uart) > before)?);
    }

    let mut blackout = Figures::new();
    let mut swap_only = Figures::new();
    let mut load = Figures::new();
    for round in 0..ROUNDS {
        step_until(system, |system| system.slots[uart].inbox.is_empty())?;
        let file = if round % 2 == 0 {
            "modules/uart16550-v2.wasm"
        } else {
            "modules/uart16550.wasm"
        };
        // Loading (validation and compilation of the new version) alone: the
        // `swap` command does it before the old instance stops.
        let plan = system.slots[uart].plan.clone();
        let started = time::now_nanoseconds();
        system.load_file(&plan, file)?;
        load.samples.push(time::now_nanoseconds() - started);
        let before = events(system, uart);
        queue(system, uart, b"");
        let started = time::now_nanoseconds();
        system.swap("uart16550", file)?;
        swap_only.samples.push(time::now_nanoseconds() - started);
        step_until(system, |system| events(system, uart) > before)?;
        blackout.samples.push(time::now_nanoseconds() - started);
    }
    system.settle();

    let verdict = |figure: u64| {
        if figure < 1_000_000 { "met" } else { "NOT met" }
    };
    kprintln!(
        "bench: supervisor figures, {ROUNDS} rounds each, guest ns under TCG (median / max); compare as ratios"
    );
    kprintln!(
        "bench: one pass of the event loop with nothing to do  {:>9} / {:>9} ns",
        idle_step.median(),
        idle_step.max()
    );
    kprintln!(
        "bench: event delivery, running module (baseline)      {:>9} / {:>9} ns",
        baseline.median(),
        baseline.max()
    );
    kprintln!(
        "bench: fault -> restarted module handles next event   {:>9} / {:>9} ns = {}x baseline (target < 1 ms: {})",
        restart.median(),
        restart.max(),
        ratio(restart.median(), baseline.median()),
        verdict(restart.median())
    );
    kprintln!(
        "bench: event delivery, UART driver (baseline)         {:>9} / {:>9} ns",
        uart_baseline.median(),
        uart_baseline.max()
    );
    kprintln!(
        "bench: UART swap blackout (v1 <-> v2, state carried)  {:>9} / {:>9} ns = {}x baseline (target < 1 ms: {})",
        blackout.median(),
        blackout.max(),
        ratio(blackout.median(), uart_baseline.median()),
        verdict(blackout.median()),
    );
    let proper = swap_only.median().saturating_sub(load.median());
    kprintln!(
        "bench:   of which loading the new .wasm (validate, compile) {:>9} ns; save + instantiate + restore {:>9} ns = {}x baseline (target < 1 ms: {})",
        load.median(),
        proper,
        ratio(proper, uart_baseline.median()),
        verdict(proper)
    );
    Ok(())
}
