//! `port_in8_n` / `port_out8_n`: bytes through one 8-bit port, checked once
//! per call, refused with an ABI error code (never a trap of the host) on bad
//! arguments, traced as one entry, and far cheaper in fuel per byte than a
//! `port_in8` loop.

mod common;

use cella_wasm_host::abi::{ErrorCode, MAX_PORT_BYTES};
use cella_wasm_host::{
    Access, Attempt, ByteStream, Event, PORT_BYTE_FUEL, Place, QueueOutbox, SimulatedPlatform,
    Width,
};
use common::{PORT_BASE, Probe};

/// Manifest index of the port range in [`common::CAPABILITIES`].
const PORTS: i32 = 0;
/// A free spot in the probe's linear memory.
const BUFFER: i32 = 0x1000;

fn probe_with_fifo() -> (Probe, ByteStream) {
    let fifo = ByteStream::default();
    let platform = SimulatedPlatform::new();
    platform.attach_ports(PORT_BASE, 8, fifo.clone());
    (Probe::start_on(common::runtime(), platform), fifo)
}

#[test]
fn bytes_go_through_one_port_both_ways_and_are_traced_once() {
    let (mut probe, fifo) = probe_with_fifo();
    let ports = probe.handle(PORTS);
    for round in 0..1000u32 {
        let text = format!("round {round}: bytes through one port");
        fifo.input.borrow_mut().extend(text.bytes());
        let count = text.len() as i64;
        assert_eq!(probe.call("port_in8_n", ports, 0, BUFFER, count), 0);
        assert!(fifo.input.borrow().is_empty(), "every byte was read");
        assert_eq!(probe.call("port_out8_n", ports, 1, BUFFER, count), 0);
        assert_eq!(
            fifo.output.borrow_mut().drain(..).collect::<Vec<u8>>(),
            text.as_bytes()
        );
        let recent: Vec<Access> = probe
            .sandbox
            .recent_accesses()
            .into_iter()
            .filter(|access| !matches!(access, Access::Reply { .. } | Access::Received { .. }))
            .collect();
        let last_two = &recent[recent.len() - 2..];
        assert_eq!(
            last_two,
            [
                Access::PortReadBytes {
                    port: PORT_BASE,
                    count: count as u32
                },
                Access::PortWriteBytes {
                    port: PORT_BASE + 1,
                    count: count as u32
                },
            ]
        );
        if round == 0 {
            assert_eq!(
                last_two[0].to_string(),
                format!("read port 0x3f8 1 x {count}")
            );
            assert_eq!(
                last_two[1].to_string(),
                format!("write port 0x3f9 1 x {count}")
            );
        }
    }
    // A count of 0 moves nothing and succeeds.
    assert_eq!(probe.call("port_in8_n", ports, 0, BUFFER, 0), 0);
    let counters = probe.sandbox.counters();
    assert_eq!((counters.violations, counters.bad_calls), (0, 0));
}

#[test]
fn bad_arguments_return_the_error_code_and_touch_no_device() {
    let (mut probe, fifo) = probe_with_fifo();
    let ports = probe.handle(PORTS);
    let memory_end = 65536;
    let cases: [(&str, [i32; 3], i64, ErrorCode); 10] = [
        (
            "port_in8_n",
            [ports, 0, BUFFER],
            i64::from(MAX_PORT_BYTES) + 1,
            ErrorCode::BadArgument,
        ),
        (
            "port_out8_n",
            [ports, 1, BUFFER],
            i64::from(MAX_PORT_BYTES) + 1,
            ErrorCode::BadArgument,
        ),
        ("port_in8_n", [ports, 0, BUFFER], -1, ErrorCode::BadArgument),
        (
            "port_in8_n",
            [ports, 0, memory_end - 4],
            5,
            ErrorCode::BadPointer,
        ),
        ("port_out8_n", [ports, 1, -1], 2, ErrorCode::BadPointer),
        ("port_in8_n", [ports, 8, BUFFER], 4, ErrorCode::Denied),
        ("port_out8_n", [ports, -1, BUFFER], 4, ErrorCode::Denied),
        ("port_in8_n", [0, 0, BUFFER], 4, ErrorCode::BadHandle),
        (
            "port_out8_n",
            [ports + 0x100, 0, BUFFER],
            4,
            ErrorCode::BadHandle,
        ),
        // The MMIO handle is not a port range.
        (
            "port_in8_n",
            [probe.handle(1), 0, BUFFER],
            4,
            ErrorCode::Denied,
        ),
    ];
    fifo.input.borrow_mut().extend([1, 2, 3, 4, 5, 6]);
    probe.platform.clear_accesses();
    for (name, [a, b, c], d, error) in cases {
        let result = probe.call(name, a, b, c, d);
        assert_eq!(
            result,
            i64::from(error.code()),
            "{name}({a}, {b}, {c}, {d})"
        );
    }
    assert_eq!(
        probe.platform.accesses(),
        [],
        "a refused call reached the device"
    );
    assert_eq!(fifo.input.borrow().len(), 6);
    assert!(fifo.output.borrow().is_empty());
    // A refusal outside the range names the port, the width and the count.
    let refusal = probe
        .sandbox
        .recent_accesses()
        .into_iter()
        .find(|access| {
            matches!(
                access,
                Access::Refused {
                    attempt: Some(Attempt {
                        place: Place::Port(_),
                        ..
                    }),
                    ..
                }
            )
        })
        .expect("the refusal outside the range is traced");
    assert_eq!(
        refusal,
        Access::Refused {
            function: cella_wasm_host::abi::HostFunction::PortIn8Bytes,
            error: ErrorCode::Denied,
            attempt: Some(Attempt {
                write: false,
                place: Place::Port(0x400),
                width: Width::Byte,
                count: 4
            })
        }
    );
    assert_eq!(
        refusal.to_string(),
        "refused read port 0x400 1 x 4 (port_in8_n): denied"
    );
    assert!(probe.sandbox.is_alive());
}

/// Fuel of one event of `module` answering a message.
fn event_fuel(body: &str) -> u64 {
    let wasm = common::wasm(
        "fuel",
        common::CAPABILITIES,
        &format!(
            r#"(import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
(import "cella" "port_in8" (func $port_in8 (param i32 i32) (result i64)))
(import "cella" "port_in8_n" (func $port_in8_n (param i32 i32 i32 i32) (result i32)))
(memory (export "memory") 1)
(global $ports (mut i32) (i32.const 0))
(func (export "init") (result i32)
  (global.set $ports (call $cap_handle (i32.const 0)))
  (i32.const 0))
(func (export "on_message") (param $request i32) (param $length i32)
  (local $index i32)
  {body})"#
        ),
    );
    let mut runtime = common::runtime();
    let module = runtime.load("fuel", &wasm, &common::grant()).unwrap();
    let mut sandbox = runtime
        .start(&module, common::platform(), QueueOutbox::new(4))
        .unwrap();
    sandbox
        .deliver(Event::Message {
            request: 0,
            bytes: b"x",
        })
        .unwrap();
    assert_eq!(sandbox.counters().violations, 0);
    sandbox.counters().last_event_fuel
}

/// A loop reading `count` bytes one `port_in8` at a time into memory, as a
/// driver reading a FIFO would.
fn byte_loop(count: u32) -> String {
    format!(
        "(block $done (loop $next
           (br_if $done (i32.ge_u (local.get $index) (i32.const {count})))
           (i32.store8 (i32.add (i32.const 0x1000) (local.get $index))
             (i32.wrap_i64 (call $port_in8 (global.get $ports) (i32.const 0))))
           (local.set $index (i32.add (local.get $index) (i32.const 1)))
           (br $next)))"
    )
}

fn bulk(count: u32) -> String {
    format!(
        "(drop (call $port_in8_n (global.get $ports) (i32.const 0) (i32.const 0x1000) (i32.const {count})))"
    )
}

/// The figures docs/abi.md states: a byte costs 34 fuel in a `port_in8`
/// loop (the call's 16, the call instruction and the loop's Wasm) and 4
/// through `port_in8_n`.
#[test]
fn bulk_reads_cost_at_most_an_eighth_of_the_fuel_per_byte_of_a_byte_loop() {
    let loop_per_byte = (event_fuel(&byte_loop(1000)) - event_fuel(&byte_loop(0))) as f64 / 1000.0;
    let bulk_per_byte = (event_fuel(&bulk(1000)) - event_fuel(&bulk(0))) as f64 / 1000.0;
    let bulk_call = event_fuel(&bulk(0)) - event_fuel("");
    println!(
        "fuel per byte: port_in8 loop {loop_per_byte:.1}, port_in8_n {bulk_per_byte:.1} \
         (a {:.1}x saving); one port_in8_n call {bulk_call} fuel plus the bytes",
        loop_per_byte / bulk_per_byte
    );
    assert_eq!(bulk_per_byte, PORT_BYTE_FUEL as f64);
    assert!(
        bulk_per_byte * 8.0 <= loop_per_byte,
        "port_in8_n is not eight times cheaper per byte: {bulk_per_byte} vs {loop_per_byte}"
    );
}
