//! Repeated hot swaps and restarts return every byte they allocate: live heap
//! bytes after hundreds of cycles stay within a small constant of the figure
//! after a warm-up. This file holds one test, so the counting allocator sees
//! no other test's allocations.

mod common;

use cella_wasm_host::{Delivery, Event, QueueOutbox};
use common::counting::{Counting, live_bytes};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Counter version 2 saves state format 1 here, so it can take over from itself.
const SELF_SWAPPING: &str = include_str!("modules/counter_v2.wat");

/// Sends one request and checks it was handled.
fn tick(sandbox: &mut common::Box_, outbox: &QueueOutbox, request: u32) {
    let delivered = sandbox.deliver(Event::Message {
        request,
        bytes: b"tick",
    });
    assert_eq!(delivered, Ok(Delivery::Handled { count: 1 }));
    outbox.drain();
}

#[test]
fn hundreds_of_swaps_and_restarts_leave_the_heap_where_it_was() {
    let bytes = wat::parse_str(SELF_SWAPPING.replace("state 2", "state 1")).unwrap();
    let mut runtime = common::runtime();
    let platform = common::platform();
    let outbox = QueueOutbox::new(8);
    let first = runtime.load("counter", &bytes, &common::grant()).unwrap();
    let mut sandbox = runtime
        .start(&first, platform.clone(), outbox.clone())
        .unwrap();
    drop(first);
    let cycle = |runtime: &mut common::Host, sandbox: &mut common::Box_, round: u32| {
        // Each swap loads (validates, compiles) the new version anew, as the
        // kernel does for `swap NAME FILE` and for a push.
        let next = runtime.load("counter", &bytes, &common::grant()).unwrap();
        runtime.swap(sandbox, &next).unwrap();
        tick(sandbox, &outbox, round);
        runtime.restart(sandbox).unwrap();
        tick(sandbox, &outbox, round);
        // The simulated machine records every access and log line (v2 logs
        // its use of v1's stale handle); those records are the test's, not
        // the runtime's.
        platform.clear_accesses();
        platform.clear_log_lines();
    };
    for round in 0..20 {
        cycle(&mut runtime, &mut sandbox, round);
    }
    let warm = live_bytes();
    const ROUNDS: u32 = 500;
    for round in 0..ROUNDS {
        cycle(&mut runtime, &mut sandbox, round);
    }
    let after = live_bytes();
    let growth = after - warm;
    println!(
        "{ROUNDS} swaps and {ROUNDS} restarts: live heap {warm} bytes after warm-up, {after} after ({growth:+} bytes)"
    );
    assert!(
        growth < 4 * 1024,
        "the heap grew by {growth} bytes over {ROUNDS} swaps and restarts"
    );
}
