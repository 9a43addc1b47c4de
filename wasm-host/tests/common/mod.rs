//! Shared helpers for the wasm-host integration tests.
#![allow(dead_code)]

pub mod counting;

use cella_wasm_host::{
    Delivery, Event, Grant, Limits, Outgoing, QueueOutbox, Registers, Runtime, Sandbox,
    SimulatedPlatform,
};

pub type Host = Runtime<SimulatedPlatform, QueueOutbox>;
pub type Box_ = Sandbox<SimulatedPlatform, QueueOutbox>;

pub const PORT_BASE: u16 = 0x3f8;
pub const MMIO_BASE: u64 = 0xfeb0_0000;
pub const LOG_ENDPOINT: u64 = 7;

/// Ports 0x3f8..0x400, MMIO 0xfeb00000..+0x1000, IRQ 4, 64 KiB DMA,
/// endpoint `log` (id 7), two timers.
pub fn grant() -> Grant {
    Grant::new()
        .port_range(PORT_BASE, 8)
        .mmio_region(MMIO_BASE, 0x1000)
        .irq_line(4)
        .dma_bytes(65536)
        .endpoint("log", LOG_ENDPOINT)
        .timers(2)
}

/// The manifest capability lines matching [`grant`] (indices 0..=5).
pub const CAPABILITIES: &str =
    "port 0x3f8 8\nmmio 0xfeb00000 0x1000\nirq 4\ndma 16384\nendpoint log\ntimer\n";

/// A platform with register files on the granted ports and MMIO window.
pub fn platform() -> SimulatedPlatform {
    let platform = SimulatedPlatform::new();
    platform.attach_ports(PORT_BASE, 8, Registers::new(8));
    platform.attach_mmio(MMIO_BASE, 0x1000, Registers::new(0x1000));
    platform
}

pub fn runtime() -> Host {
    Runtime::new(Limits::default())
}

/// Escapes text for a WAT string literal.
pub fn wat_string(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => out.push_str(&format!("\\{:02x}", byte)),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\{:02x}", byte)),
        }
    }
    out
}

/// A module named `name` with the given capability lines and WAT body.
pub fn module_wat(name: &str, version: &str, capabilities: &str, body: &str) -> String {
    let manifest = format!("cella 1\nname {name}\nversion {version}\nstate 1\n{capabilities}");
    format!(
        "(module\n(@custom \"cella.manifest\" \"{}\")\n{body}\n)",
        wat_string(&manifest)
    )
}

pub fn wasm(name: &str, capabilities: &str, body: &str) -> Vec<u8> {
    wat::parse_str(module_wat(name, "1", capabilities, body)).expect("test WAT must assemble")
}

/// Probe operations: (name, import signature, how to call it from the
/// message arguments a, b, c (i32) and d (i64)).
pub const PROBE_OPS: &[(&str, &str, &str)] = &[
    ("log", "(param i32 i32 i32) (result i32)", "$a $b $c"),
    ("cap_handle", "(param i32) (result i32)", "$a"),
    ("port_in8", "(param i32 i32) (result i64)", "$a $b"),
    ("port_in16", "(param i32 i32) (result i64)", "$a $b"),
    ("port_in32", "(param i32 i32) (result i64)", "$a $b"),
    ("port_out8", "(param i32 i32 i32) (result i32)", "$a $b $c"),
    ("port_out16", "(param i32 i32 i32) (result i32)", "$a $b $c"),
    ("port_out32", "(param i32 i32 i32) (result i32)", "$a $b $c"),
    (
        "port_in8_n",
        "(param i32 i32 i32 i32) (result i32)",
        "$a $b $c $d32",
    ),
    (
        "port_out8_n",
        "(param i32 i32 i32 i32) (result i32)",
        "$a $b $c $d32",
    ),
    ("mmio_read8", "(param i32 i32) (result i64)", "$a $b"),
    ("mmio_read16", "(param i32 i32) (result i64)", "$a $b"),
    ("mmio_read32", "(param i32 i32) (result i64)", "$a $b"),
    (
        "mmio_read64",
        "(param i32 i32 i32) (result i32)",
        "$a $b $c",
    ),
    (
        "mmio_write8",
        "(param i32 i32 i32) (result i32)",
        "$a $b $c",
    ),
    (
        "mmio_write16",
        "(param i32 i32 i32) (result i32)",
        "$a $b $c",
    ),
    (
        "mmio_write32",
        "(param i32 i32 i32) (result i32)",
        "$a $b $c",
    ),
    (
        "mmio_write64",
        "(param i32 i32 i64) (result i32)",
        "$a $b $d",
    ),
    ("irq_enable", "(param i32) (result i32)", "$a"),
    ("irq_disable", "(param i32) (result i32)", "$a"),
    ("irq_ack", "(param i32) (result i32)", "$a"),
    ("dma_alloc", "(param i32 i32) (result i32)", "$a $b"),
    ("dma_free", "(param i32) (result i32)", "$a"),
    ("dma_address", "(param i32) (result i64)", "$a"),
    ("dma_size", "(param i32) (result i64)", "$a"),
    (
        "dma_write",
        "(param i32 i32 i32 i32) (result i32)",
        "$a $b $c $d32",
    ),
    (
        "dma_read",
        "(param i32 i32 i32 i32) (result i32)",
        "$a $b $c $d32",
    ),
    ("ipc_send", "(param i32 i32 i32) (result i32)", "$a $b $c"),
    ("ipc_receive", "(param i32 i32) (result i32)", "$a $b"),
    ("ipc_reply", "(param i32 i32 i32) (result i32)", "$a $b $c"),
    ("ipc_loan", "(param i32 i32) (result i32)", "$a $b"),
    ("time_now", "(result i64)", ""),
    ("timer_set", "(param i32 i64) (result i32)", "$a $d"),
    ("timer_cancel", "(param i32) (result i32)", "$a"),
    (
        "pci_config_read",
        "(param i32 i32 i32) (result i64)",
        "$a $b $c",
    ),
    (
        "pci_config_write",
        "(param i32 i32 i32 i32) (result i32)",
        "$a $b $c $d32",
    ),
    ("pci_bar", "(param i32 i32) (result i32)", "$a $b"),
    ("pci_io_bar", "(param i32 i32) (result i32)", "$a $b"),
    ("pci_irq", "(param i32) (result i32)", "$a"),
    ("pci_msix", "(param i32 i32) (result i32)", "$a $b"),
    (
        "pci_bus_function",
        "(param i32 i32 i32 i32) (result i32)",
        "$a $b $c $d32",
    ),
];

/// WAT body of the probe: every message `op a b c d` (4 x i32 + i64 at
/// offsets 0/4/8/12/16) calls host function `op` with those arguments and
/// replies with the 8-byte result. Handles are fetched by the test through
/// `cap_handle`. `on_irq` / `on_timer` log the handle they got at level 3 as
/// decimal-free bytes ("irq"/"timer") and store it at 0x300.
pub fn probe_body() -> String {
    let mut imports = String::new();
    let mut arms = String::new();
    for (index, (name, signature, args)) in PROBE_OPS.iter().enumerate() {
        imports.push_str(&format!(
            "(import \"cella\" \"{name}\" (func ${name} {signature}))\n"
        ));
        let call = args
            .split_whitespace()
            .map(|arg| match arg {
                "$d32" => "(i32.wrap_i64 (local.get $d))".to_string(),
                other => format!("(local.get {other})"),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let invoke = format!("(call ${name} {call})");
        let value = if signature.ends_with("(result i64)") {
            invoke
        } else {
            format!("(i64.extend_i32_s {invoke})")
        };
        arms.push_str(&format!(
            "(if (i32.eq (local.get $op) (i32.const {index})) (then (local.set $r {value})))\n"
        ));
    }
    format!(
        r#"{imports}
(memory (export "memory") 1)
(func (export "init") (result i32) (i32.const 0))
(func (export "on_message") (param $request i32) (param $length i32)
  (local $op i32) (local $a i32) (local $b i32) (local $c i32) (local $d i64) (local $r i64)
  (drop (call $ipc_receive (i32.const 0x100) (i32.const 24)))
  (local.set $op (i32.load (i32.const 0x100)))
  (local.set $a (i32.load (i32.const 0x104)))
  (local.set $b (i32.load (i32.const 0x108)))
  (local.set $c (i32.load (i32.const 0x10c)))
  (local.set $d (i64.load (i32.const 0x110)))
  {arms}
  (i64.store (i32.const 0x200) (local.get $r))
  (if (local.get $request)
    (then (drop (call $ipc_reply (local.get $request) (i32.const 0x200) (i32.const 8))))))
(func (export "on_irq") (param $handle i32)
  (i32.store (i32.const 0x300) (local.get $handle))
  (i32.store (i32.const 0x304) (i32.add (i32.load (i32.const 0x304)) (i32.const 1))))
(func (export "on_timer") (param $handle i32)
  (i32.store (i32.const 0x308) (local.get $handle))
  (i32.store (i32.const 0x30c) (i32.add (i32.load (i32.const 0x30c)) (i32.const 1))))
(func (export "save_state") (result i64)
  (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 0x300)))
"#
    )
}

pub fn probe_wasm(name: &str) -> Vec<u8> {
    wasm(name, CAPABILITIES, &probe_body())
}

/// A running probe with its platform and outbox.
pub struct Probe {
    pub runtime: Host,
    pub sandbox: Box_,
    pub platform: SimulatedPlatform,
    pub outbox: QueueOutbox,
    next_request: u32,
}

impl Probe {
    pub fn start() -> Probe {
        Probe::start_with(runtime())
    }

    pub fn start_with(runtime: Host) -> Probe {
        Probe::start_on(runtime, platform())
    }

    /// A probe on `platform` (devices of the test's own).
    pub fn start_on(runtime: Host, platform: SimulatedPlatform) -> Probe {
        Probe::start_granted(runtime, platform, CAPABILITIES, &grant())
    }

    /// A probe requesting `capabilities` (manifest lines) under `grant`.
    pub fn start_granted(
        mut runtime: Host,
        platform: SimulatedPlatform,
        capabilities: &str,
        grant: &Grant,
    ) -> Probe {
        let outbox = QueueOutbox::new(64);
        let module = runtime
            .load("probe", &wasm("probe", capabilities, &probe_body()), grant)
            .expect("probe loads");
        let sandbox = runtime
            .start(&module, platform.clone(), outbox.clone())
            .expect("probe starts");
        Probe {
            runtime,
            sandbox,
            platform,
            outbox,
            next_request: 1,
        }
    }

    /// Calls host function `name` with (a, b, c, d) from inside the module.
    pub fn call(&mut self, name: &str, a: i32, b: i32, c: i32, d: i64) -> i64 {
        self.try_call(name, a, b, c, d)
            .expect("probe call must not fault")
    }

    pub fn try_call(
        &mut self,
        name: &str,
        a: i32,
        b: i32,
        c: i32,
        d: i64,
    ) -> Result<i64, cella_wasm_host::Fault> {
        let op = PROBE_OPS
            .iter()
            .position(|(op, _, _)| *op == name)
            .expect("known op") as i32;
        self.call_op(op, [a, b, c], d)
    }

    /// Runs operation number `op` (an index into [`PROBE_OPS`]; any other
    /// number runs the probe without calling the host).
    pub fn call_op(
        &mut self,
        op: i32,
        [a, b, c]: [i32; 3],
        d: i64,
    ) -> Result<i64, cella_wasm_host::Fault> {
        let mut message = Vec::new();
        for value in [op, a, b, c] {
            message.extend_from_slice(&value.to_le_bytes());
        }
        message.extend_from_slice(&d.to_le_bytes());
        let request = self.next_request;
        self.next_request += 1;
        let delivery = self.sandbox.deliver(Event::Message {
            request,
            bytes: &message,
        })?;
        assert_eq!(delivery, Delivery::Handled { count: 1 });
        let replies = self.outbox.drain();
        let reply = replies
            .iter()
            .rev()
            .find_map(|outgoing| match outgoing {
                Outgoing::Reply {
                    request: answered,
                    message,
                    ..
                } if *answered == request => Some(message.clone()),
                _ => None,
            })
            .expect("probe replied");
        Ok(i64::from_le_bytes(reply.try_into().expect("8-byte reply")))
    }

    /// Handle of manifest capability `index`.
    pub fn handle(&mut self, index: i32) -> i32 {
        let handle = self.call("cap_handle", index, 0, 0, 0);
        assert!(handle > 0, "cap_handle({index}) = {handle}");
        handle as i32
    }
}
