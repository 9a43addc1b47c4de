//! The fuel of each host call as a module pays it, for the table in
//! docs/abi.md ("Fuel of each host call"): the probe runs the same Wasm for
//! every operation except the matched call itself, so an event calling one
//! function minus an event calling none is that call's price (its argument
//! loads, the call, and the host's fixed [`HOST_CALL_FUEL`]). Bytes moved
//! come on top (`tests/host_work_fuel.rs`, `tests/port_bulk.rs`).
//! `cargo test -p cella-wasm-host --test host_call_fuel -- --nocapture`
//! prints the table.

mod common;

use cella_wasm_host::HOST_CALL_FUEL;
use common::{PROBE_OPS, Probe};

/// Fuel of one probe event running operation `op` with zero arguments.
fn event_fuel(op: i32) -> u64 {
    // A fresh probe each time: refused calls count against the module's limits.
    let mut probe = Probe::start();
    probe
        .call_op(op, [0, 0, 0], 0)
        .expect("the probe does not fault");
    probe.sandbox.counters().last_event_fuel
}

#[test]
fn every_host_call_costs_its_fixed_price_and_no_more() {
    let none = event_fuel(i32::MAX);
    println!("| function | fuel of one call |");
    println!("| --- | --- |");
    for (index, (name, signature, _)) in PROBE_OPS.iter().enumerate() {
        let price = event_fuel(index as i32) - none;
        println!("| `{name}` | {price} |");
        // Each argument is one `local.get`; the result is stored (and an
        // i32 result widened): a few fuel of Wasm around the host's fee.
        let arguments = signature.matches("i32").count() + signature.matches("i64").count();
        assert!(
            price >= HOST_CALL_FUEL && price <= HOST_CALL_FUEL + arguments as u64 + 4,
            "{name}: {price} fuel"
        );
    }
}
