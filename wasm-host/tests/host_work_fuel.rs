//! Fuel covers host work: a host call pays one fuel per byte it copies, logs
//! or scans, so the fuel budget bounds the bytes one event can move; and an
//! event's log lines past its budget are dropped and counted.

mod common;

use cella_wasm_host::abi::LogLevel;
use cella_wasm_host::{
    BYTES_PER_FUEL, Event, FaultKind, Grant, HOST_CALL_FUEL, Limits, QueueOutbox, Runtime,
    SimulatedPlatform,
};
use common::Probe;

/// Manifest indices in [`common::CAPABILITIES`].
const DMA: i32 = 3;
const ENDPOINT: i32 = 4;

/// Fuel of one probe event calling `name` with the given arguments.
fn fuel_of(probe: &mut Probe, name: &str, a: i32, b: i32, c: i32, d: i64) -> u64 {
    let result = probe.call(name, a, b, c, d);
    assert!(result >= 0, "{name} answered {result}");
    probe.sandbox.counters().last_event_fuel
}

#[test]
fn every_call_that_moves_bytes_pays_for_each_byte() {
    let mut probe = Probe::start();
    let pool = probe.handle(DMA);
    let buffer = probe.call("dma_alloc", pool, 4096, 0, 0) as i32;
    let endpoint = probe.handle(ENDPOINT);
    // Bytes at 0x400 in the probe's memory are zeros: valid UTF-8 to log.
    let cases: [(&str, [i32; 3]); 4] = [
        ("dma_write", [buffer, 0, 0x400]),
        ("dma_read", [buffer, 0, 0x400]),
        ("ipc_send", [endpoint, 0x400, 0]),
        ("log", [LogLevel::Info as i32, 0x400, 0]),
    ];
    for (name, [a, b, c]) in cases {
        // Log lines are at most 1024 bytes, messages 4096.
        let lengths: [u32; 2] = if name == "log" {
            [500, 1000]
        } else {
            [1000, 4000]
        };
        for length in lengths {
            // The length is the last argument: `d` for DMA, `c` otherwise.
            let (empty, full) = if name.starts_with("dma") {
                (
                    fuel_of(&mut probe, name, a, b, c, 0),
                    fuel_of(&mut probe, name, a, b, c, i64::from(length)),
                )
            } else {
                (
                    fuel_of(&mut probe, name, a, b, 0, 0),
                    fuel_of(&mut probe, name, a, b, length as i32, 0),
                )
            };
            assert_eq!(
                full - empty,
                u64::from(length).div_ceil(BYTES_PER_FUEL),
                "{name} of {length} bytes costs {full} fuel, of 0 bytes {empty}"
            );
        }
    }
    let moved = probe.sandbox.counters().host_call_bytes;
    assert!(
        moved >= 3 * (1000 + 4000) + 500 + 1000,
        "host_call_bytes counts the bytes moved ({moved})"
    );
}

/// One event that copies a 64 KiB DMA buffer over and over, for ever.
const DMA_FLOOD: &str = r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "dma_alloc" (func $dma_alloc (param i32 i32) (result i32)))
  (import "cella" "dma_write" (func $dma_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "init") (result i32)
    (i32.store (i32.const 0) (call $dma_alloc (call $cap_handle (i32.const 0)) (i32.const 65536)))
    (i32.const 0))
  (func (export "on_message") (param i32 i32)
    (loop $again
      (drop (call $dma_write (i32.load (i32.const 0)) (i32.const 0) (i32.const 0) (i32.const 65536)))
      (br $again)))
"#;

/// One event that logs 1 KiB lines for ever.
const LOG_FLOOD: &str = r#"
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "0123456789abcdef")
  (func (export "init") (result i32)
    (memory.copy (i32.const 16) (i32.const 0) (i32.const 1008))
    (i32.const 0))
  (func (export "on_message") (param i32 i32)
    (loop $again
      (drop (call $log (i32.const 3) (i32.const 0) (i32.const 1024)))
      (br $again)))
"#;

fn flood(
    name: &str,
    capabilities: &str,
    body: &str,
    grant: Grant,
) -> (common::Box_, SimulatedPlatform) {
    let mut runtime: common::Host = Runtime::new(Limits::default());
    let platform = SimulatedPlatform::new();
    let module = runtime
        .load(name, &common::wasm(name, capabilities, body), &grant)
        .unwrap();
    let mut sandbox = runtime
        .start(&module, platform.clone(), QueueOutbox::new(1))
        .unwrap();
    let fault = sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: b"",
        })
        .unwrap_err();
    assert_eq!(
        fault.kind,
        FaultKind::OutOfFuel {
            budget: Limits::default().fuel_per_event
        }
    );
    (sandbox, platform)
}

#[test]
fn one_event_copies_at_most_its_fuel_in_bytes_through_dma_write() {
    let budget = Limits::default().fuel_per_event;
    let (sandbox, _platform) = flood(
        "dmaflood",
        "dma 65536\n",
        DMA_FLOOD,
        Grant::new().dma_bytes(65536),
    );
    let counters = sandbox.counters();
    // cap_handle and dma_alloc in init, then one dma_write per call.
    let copies = counters.host_calls - 2;
    let copied = copies.saturating_sub(1) * 65536;
    let bound = budget * BYTES_PER_FUEL;
    assert!(
        copied <= bound,
        "{copies} dma_write calls moved {copied} bytes in one event of {budget} fuel (bound {bound})"
    );
    assert!(counters.host_call_bytes <= bound);
    assert!(
        copied > bound / 2,
        "the flood used its fuel on copies ({copied} bytes)"
    );
}

#[test]
fn one_event_logs_at_most_its_log_budget() {
    let limits = Limits::default();
    let (sandbox, platform) = flood("logflood", "", LOG_FLOOD, Grant::new());
    let lines: Vec<_> = platform
        .log_lines()
        .into_iter()
        .filter(|line| line.level == LogLevel::Info)
        .collect();
    let bytes: usize = lines.iter().map(|line| line.message.len()).sum();
    assert_eq!(lines.len() as u32, limits.log_bytes_per_event / 1024);
    assert!(lines.len() as u32 <= limits.log_lines_per_event);
    assert!(
        bytes as u32 <= limits.log_bytes_per_event,
        "{bytes} bytes logged"
    );
    let counters = sandbox.counters();
    assert!(
        counters.log_lines_dropped > 1000,
        "the rest were dropped and counted ({})",
        counters.log_lines_dropped
    );
    assert!(counters.host_call_bytes <= limits.fuel_per_event * BYTES_PER_FUEL);
    assert!(
        platform
            .log_lines()
            .iter()
            .any(|line| line.message.contains("log line(s) dropped")),
        "the event's end says how many were dropped"
    );
}

/// One event that asks the time for ever: the cheapest host call.
const CALL_FLOOD: &str = r#"
  (import "cella" "time_now" (func $time_now (result i64)))
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param i32 i32)
    (loop $again
      (drop (call $time_now))
      (br $again)))
"#;

#[test]
fn every_host_call_pays_its_base_fuel() {
    let budget = Limits::default().fuel_per_event;
    let (sandbox, _platform) = flood("callflood", "", CALL_FLOOD, Grant::new());
    let calls = sandbox.counters().host_calls;
    assert!(
        calls <= budget / HOST_CALL_FUEL,
        "{calls} host calls in one event of {budget} fuel (bound {})",
        budget / HOST_CALL_FUEL
    );
    assert!(calls > budget / (HOST_CALL_FUEL + 8), "{calls} calls");
}

/// Logs `count` short lines per message.
const CHATTY: &str = r#"
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "line")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $count i32)
    (loop $again
      (if (local.get $count)
        (then
          (drop (call $log (i32.const 3) (i32.const 0) (i32.const 4)))
          (local.set $count (i32.sub (local.get $count) (i32.const 1)))
          (br $again)))))
"#;

#[test]
fn every_event_gets_a_fresh_log_budget() {
    let limits = Limits {
        log_lines_per_event: 10,
        ..Limits::default()
    };
    let mut runtime: common::Host = Runtime::new(limits);
    let platform = SimulatedPlatform::new();
    let module = runtime
        .load("chatty", &common::wasm("chatty", "", CHATTY), &Grant::new())
        .unwrap();
    let mut sandbox = runtime
        .start(&module, platform.clone(), QueueOutbox::new(1))
        .unwrap();
    let info_lines = |platform: &SimulatedPlatform| {
        platform
            .log_lines()
            .iter()
            .filter(|line| line.level == LogLevel::Info)
            .count()
    };
    for event in 1..=200u64 {
        // A message of 25 bytes: on_message logs 25 lines.
        sandbox
            .deliver(Event::Message {
                request: 0,
                bytes: &[0; 25],
            })
            .unwrap();
        assert_eq!(info_lines(&platform) as u64, 10 * event);
        assert_eq!(sandbox.counters().log_lines_dropped, 15 * event);
    }
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: &[0; 3],
        })
        .unwrap();
    assert_eq!(
        info_lines(&platform),
        10 * 200 + 3,
        "under budget: all logged"
    );
    assert_eq!(sandbox.counters().log_lines_dropped, 15 * 200);
}
