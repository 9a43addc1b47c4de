//! A hostile process for the `isolation` scenario: it makes the kernel
//! allocate on its behalf until refused (IRQ endpoints, then handles), then
//! repeats the failing `irq_attach` 200,000 times with its handle table full,
//! and tries to `register` a name. The scenario measures the kernel heap at
//! each `call` to `hog-report` (the call waits for the scenario's answer).
#![no_std]
#![no_main]

use cella_userland::{call, irq_attach, log, lookup, register};

/// Failing `irq_attach` calls with a full handle table.
const REPEATS: u32 = 200_000;

fn main() -> i32 {
    let Ok(report) = lookup("hog-report") else {
        log!("hog: no report endpoint");
        return 1;
    };
    let mut answer = [0u8; 8];
    let _ = call(report, b"start", &mut answer);
    // Endpoints until the allowance is spent.
    let mut endpoints = 0;
    let refusal = loop {
        match irq_attach(5) {
            Ok(_) => endpoints += 1,
            Err(error) => break error,
        }
        if endpoints > 100_000 {
            break 0;
        }
    };
    log!("hog: irq_attach until refused: {endpoints} endpoints, then {refusal}");
    // Handles until the table is full.
    let mut handles = 0;
    let refusal = loop {
        match lookup("hog-report") {
            Ok(_) => handles += 1,
            Err(error) => break error,
        }
        if handles > 100_000 {
            break 0;
        }
    };
    log!("hog: lookups until refused: {handles} handles, then {refusal}");
    let _ = call(report, b"full", &mut answer);
    let mut refused = 0;
    let mut last = 0;
    for _ in 0..REPEATS {
        if let Err(error) = irq_attach(5) {
            refused += 1;
            last = error;
        }
    }
    log!("hog: {REPEATS} irq_attach with the table full: {refused} refused (last {last})");
    let result = register("hog-name").map_or_else(|error| error, i64::from);
    log!("hog: register with the table full -> {result}");
    let _ = call(report, b"after", &mut answer);
    0
}

cella_userland::entry!(main);
