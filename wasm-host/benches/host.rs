//! `cargo bench -p cella-wasm-host --bench host`: the wasm-host figures, each
//! measured side by side with its yardstick in the same run, with its target
//! and PASS/FAIL. Not a timed test: it prints, it does not assert.
//!
//! The pipe yardstick re-executes this binary with `--pipe-echo` as the
//! second process.

use cella_wasm_host::abi::{LogLevel, PciAddress};
use cella_wasm_host::{Event, Grant, Limits, Outbox, Platform, Runtime, Width};
use std::hint::black_box;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

/// A platform that does nothing: the figures measure the host, not devices.
#[derive(Clone, Default)]
struct NullPlatform {
    last: u32,
}

impl Platform for NullPlatform {
    fn port_read(&mut self, _port: u16, _width: Width) -> u32 {
        self.last
    }
    fn port_write(&mut self, _port: u16, _width: Width, value: u32) {
        self.last = black_box(value);
    }
    fn mmio_read(&mut self, _address: u64, _width: Width) -> u64 {
        0
    }
    fn mmio_write(&mut self, _address: u64, _width: Width, _value: u64) {}
    fn irq_set_enabled(&mut self, _line: u8, _enabled: bool) {}
    fn irq_acknowledge(&mut self, _line: u8) {}
    fn pci_config_read(&mut self, _address: PciAddress, _offset: u8, _width: Width) -> u32 {
        u32::MAX
    }
    fn pci_config_write(&mut self, _address: PciAddress, _offset: u8, _width: Width, _value: u32) {}
    fn dma_allocate(&mut self, _device: Option<PciAddress>, _size: u64) -> Option<u64> {
        None
    }
    fn dma_free(&mut self, _device: Option<PciAddress>, _device_address: u64, _size: u64) {}
    fn dma_read(&mut self, _device_address: u64, _destination: &mut [u8]) {}
    fn dma_write(&mut self, _device_address: u64, _source: &[u8]) {}
    fn now_nanoseconds(&mut self) -> u64 {
        0
    }
    fn log(&mut self, _module: &str, _level: LogLevel, _message: &str) {}
}

#[derive(Clone, Default)]
struct NullOutbox;

impl Outbox for NullOutbox {
    fn send(&mut self, _: &str, _: u64, _: &[u8]) -> Result<(), cella_wasm_host::abi::ErrorCode> {
        Ok(())
    }
    fn reply(&mut self, _: &str, _: u32, _: &[u8]) -> Result<(), cella_wasm_host::abi::ErrorCode> {
        Ok(())
    }
}

type Host = Runtime<NullPlatform, NullOutbox>;

/// Host calls per message in the host-call benchmark (one per message byte).
const LOOP_CALLS: usize = 4096;
static LOOP_MESSAGE: [u8; LOOP_CALLS] = [0; LOOP_CALLS];

/// A small driver: takes its port and IRQ handles, programs two registers,
/// unmasks its IRQ; `on_irq` acknowledges; `on_message` writes `count`
/// bytes to its port in a loop (the host-call benchmark); state is 8 bytes.
fn driver_wat() -> String {
    let manifest = "cella 1\\nname bench-uart\\nversion 1\\nstate 1\\nport 0x3f8 8\\nirq 4\\n";
    format!(
        r#"(module
  (@custom "cella.manifest" "{manifest}")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $out (param i32 i32 i32) (result i32)))
  (import "cella" "irq_enable" (func $irq_enable (param i32) (result i32)))
  (import "cella" "irq_ack" (func $irq_ack (param i32) (result i32)))
  (memory (export "memory") 1 1)
  (func (export "init") (result i32) (local $page i32)
    (i32.store (i32.const 0) (call $cap_handle (i32.const 0)))
    (i32.store (i32.const 4) (call $cap_handle (i32.const 1)))
    (drop (call $out (i32.load (i32.const 0)) (i32.const 3) (i32.const 0x80)))
    (drop (call $out (i32.load (i32.const 0)) (i32.const 1) (i32.const 0x01)))
    ;; touch every other 4 KiB of linear memory so it is resident (honest RSS)
    (local.set $page (i32.const 4096))
    (loop $touch
      (i32.store8 (local.get $page) (i32.const 1))
      (local.set $page (i32.add (local.get $page) (i32.const 4096)))
      (br_if $touch (i32.lt_u (local.get $page) (i32.const 65536))))
    (call $irq_enable (i32.load (i32.const 4))))
  (func (export "on_irq") (param $handle i32)
    (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1))))
  (func (export "on_message") (param $request i32) (param $count i32)
    (local $i i32) (local $handle i32)
    (local.set $handle (i32.load (i32.const 0)))
    (loop $again
      (drop (call $out (local.get $handle) (i32.const 0) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (local.get $count)))))
  ;; the same loop without the host call: the loop's own cost, subtracted
  (func (export "spin") (param $request i32) (param $count i32)
    (local $i i32) (local $handle i32)
    (local.set $handle (i32.load (i32.const 0)))
    (loop $again
      (drop (i32.add (local.get $handle) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (local.get $count)))))
  (func (export "save_state") (result i64)
    (i64.or (i64.shl (i64.const 8) (i64.const 32)) (i64.const 8)))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 16))
  (func (export "restore_state") (param $pointer i32) (param $length i32) (param $version i32) (result i32)
    (if (i32.ne (local.get $length) (i32.const 8)) (then (return (i32.const 1))))
    (i32.store (i32.const 0) (call $cap_handle (i32.const 0)))
    (i32.store (i32.const 4) (call $cap_handle (i32.const 1)))
    (i32.store (i32.const 8) (i32.load (local.get $pointer)))
    (call $irq_enable (i32.load (i32.const 4)))))"#
    )
}

fn grant() -> Grant {
    Grant::new().port_range(0x3f8, 8).irq_line(4)
}

fn limits() -> Limits {
    Limits {
        fuel_per_event: 10_000_000,
        ..Limits::default()
    }
}

/// Best of `rounds` averages of `iterations` runs, in nanoseconds.
fn measure(rounds: u32, iterations: u32, mut body: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iterations {
            body();
        }
        let average = start.elapsed().as_nanos() as f64 / f64::from(iterations);
        best = best.min(average);
    }
    best
}

fn pipe_echo() {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut byte = [0u8; 1];
    while stdin.read_exact(&mut byte).is_ok() {
        if stdout
            .write_all(&byte)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}

fn pipe_round_trip_ns() -> f64 {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .arg("--pipe-echo")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn echo process");
    let mut to_child = child.stdin.take().expect("stdin");
    let mut from_child = child.stdout.take().expect("stdout");
    let mut byte = [7u8; 1];
    let figure = measure(5, 20_000, || {
        to_child.write_all(&byte).expect("write");
        from_child.read_exact(&mut byte).expect("read");
    });
    drop(to_child);
    let _ = child.wait();
    figure
}

/// The same module and loop, linked to an unchecked wasmi host function;
/// returns (ns per loop iteration with the raw call, ns per empty iteration).
fn raw_host_call_ns(wasm: &[u8]) -> (f64, f64) {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    let engine = wasmi::Engine::new(&config);
    let module = wasmi::Module::new(&engine, wasm).expect("module");
    let mut linker = wasmi::Linker::<NullPlatform>::new(&engine);
    linker
        .func_wrap(
            "cella",
            "port_out8",
            |mut caller: wasmi::Caller<'_, NullPlatform>,
             _handle: i32,
             offset: i32,
             value: i32|
             -> i32 {
                caller.data_mut().port_write(
                    0x3f8_u16.wrapping_add(offset as u16),
                    Width::Byte,
                    value as u32,
                );
                0
            },
        )
        .expect("define");
    for name in ["cap_handle", "irq_enable", "irq_ack"] {
        linker
            .func_wrap(
                "cella",
                name,
                |_caller: wasmi::Caller<'_, NullPlatform>, _value: i32| -> i32 { 1 },
            )
            .expect("define");
    }
    let mut store = wasmi::Store::new(&engine, NullPlatform::default());
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .expect("instantiate");
    let mut per_iteration = |name: &str| {
        let run = instance
            .get_typed_func::<(i32, i32), ()>(&store, name)
            .expect(name);
        measure(10, 200, || {
            store.set_fuel(10_000_000).expect("fuel");
            run.call(&mut store, (0, LOOP_CALLS as i32)).expect("run");
        }) / LOOP_CALLS as f64
    };
    let raw = per_iteration("on_message");
    let empty = per_iteration("spin");
    (raw, empty)
}

fn resident_kib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0.0);
    pages * 4.0
}

struct Row {
    name: &'static str,
    value: f64,
    unit: &'static str,
    yardstick: String,
    target: String,
    pass: bool,
}

fn main() {
    if std::env::args().any(|argument| argument == "--pipe-echo") {
        pipe_echo();
        return;
    }
    let wasm = wat::parse_str(driver_wat()).expect("driver WAT");
    let mut runtime: Host = Runtime::new(limits());
    let module = runtime.load("bench-uart", &wasm, &grant()).expect("load");
    let mut sandbox = runtime
        .start(&module, NullPlatform::default(), NullOutbox)
        .expect("start");

    let pipe = pipe_round_trip_ns();

    let event = measure(5, 200_000, || {
        black_box(sandbox.deliver(Event::Irq { line: 4 })).expect("event");
    });

    // The module's `on_message` calls port_out8 once per message byte.
    let checked = measure(10, 200, || {
        sandbox
            .deliver(Event::Message {
                request: 0,
                bytes: &LOOP_MESSAGE,
            })
            .expect("message");
    }) / LOOP_CALLS as f64;
    let (raw, empty_loop) = raw_host_call_ns(&wasm);
    let net_checked = checked - empty_loop;
    let net_raw = raw - empty_loop;

    // Validation and eager compilation alone, in a plain engine (where the
    // time goes; the runtime compiles eagerly too).
    let compile = {
        let mut config = wasmi::Config::default();
        config.compilation_mode(wasmi::CompilationMode::Eager);
        let engine = wasmi::Engine::new(&config);
        measure(10, 500, || {
            black_box(wasmi::Module::new(&engine, &wasm).expect("module"));
        }) / 1000.0
    };
    let instantiate = measure(10, 500, || {
        let module = runtime.load("bench-uart", &wasm, &grant()).expect("load");
        black_box(
            runtime
                .start(&module, NullPlatform::default(), NullOutbox)
                .expect("start"),
        );
    }) / 1000.0;
    let instantiate_loaded = measure(10, 500, || {
        black_box(
            runtime
                .start(&module, NullPlatform::default(), NullOutbox)
                .expect("start"),
        );
    }) / 1000.0;

    let swap = measure(5, 2_000, || {
        runtime.swap(&mut sandbox, &module).expect("swap");
    }) / 1000.0;

    // Memory: resident growth per live sandbox, over many sandboxes.
    let count = 500;
    let mut keep = Vec::with_capacity(count);
    let before = resident_kib();
    for _ in 0..count {
        keep.push(
            runtime
                .start(&module, NullPlatform::default(), NullOutbox)
                .expect("start"),
        );
    }
    let memory = (resident_kib() - before) / count as f64;
    drop(keep);

    let rows = [
        Row {
            name: "event round trip (IRQ into module and back)",
            value: event,
            unit: "ns",
            yardstick: format!("pipe round trip {pipe:.0} ns, ratio 1/{:.0}", pipe / event),
            target: "<= 1/30 of pipe".into(),
            pass: event * 30.0 <= pipe,
        },
        Row {
            name: "checked port write (port_out8), net of loop",
            value: net_checked,
            unit: "ns",
            yardstick: format!(
                "raw wasmi host call {net_raw:.1} ns, ratio {:.2}x",
                net_checked / net_raw
            ),
            target: "<= 1.5x raw".into(),
            pass: net_checked <= net_raw * 1.5,
        },
        Row {
            name: "instantiate small driver from bytes (load+start+init)",
            value: instantiate,
            unit: "us",
            yardstick: format!(
                "{} B module: wasmi validate+compile {compile:.1} us, start {instantiate_loaded:.1} us",
                wasm.len()
            ),
            target: "<= 20 us".into(),
            pass: instantiate <= 20.0,
        },
        Row {
            name: "hot swap small module (save+instantiate+restore)",
            value: swap,
            unit: "us",
            yardstick: format!(
                "{:.1}x instantiate from a loaded module",
                swap / instantiate_loaded
            ),
            target: "<= 50 us".into(),
            pass: swap <= 50.0,
        },
        Row {
            name: "memory per small sandbox (1 page, resident)",
            value: memory,
            unit: "KiB",
            yardstick: format!("{count} live sandboxes, RSS growth / {count}"),
            target: "<= 80 KiB".into(),
            pass: memory <= 80.0,
        },
    ];
    println!(
        "(host-call loop: checked {checked:.1} ns and raw {raw:.1} ns per iteration, empty loop {empty_loop:.1} ns)"
    );
    println!(
        "cella wasm-host benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for row in rows {
        println!(
            "{:<56} {:>7.1} {:<3} | {:<44} | target {:<16} {}",
            row.name,
            row.value,
            row.unit,
            row.yardstick,
            row.target,
            if row.pass { "PASS" } else { "FAIL" }
        );
    }
}
