//! The example module in docs/abi.md loads, starts and behaves as described.

mod common;

use cella_wasm_host::{Delivery, Event, Grant, Outgoing, QueueOutbox};

#[test]
fn the_abi_reference_example_works() {
    let text = include_str!("../../docs/abi.md");
    let start = text.find("```wat\n").expect("a wat block") + "```wat\n".len();
    let end = start + text[start..].find("```").expect("block end");
    let wasm = wat::parse_str(&text[start..end]).expect("example assembles");
    let mut runtime = common::runtime();
    let platform = common::platform();
    let outbox = QueueOutbox::new(4);
    let module = runtime
        .load("echo", &wasm, &Grant::new().irq_line(4))
        .unwrap();
    let mut sandbox = runtime
        .start(&module, platform.clone(), outbox.clone())
        .unwrap();
    assert!(platform.irq_enabled(4));
    assert_eq!(
        sandbox.deliver(Event::Irq { line: 4 }),
        Ok(Delivery::Handled { count: 1 })
    );
    sandbox
        .deliver(Event::Message {
            request: 2,
            bytes: b"ping",
        })
        .unwrap();
    assert!(matches!(
        outbox.drain().as_slice(),
        [Outgoing::Reply { request: 2, message, .. }] if message == b"ping"
    ));
    assert_eq!(sandbox.save_state().unwrap().bytes, 1u32.to_le_bytes());
}
