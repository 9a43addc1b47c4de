//! The store-offset fixture: rustc's output for `device.me = device` (a
//! pointer stored 64 KiB past itself) panics wasmi 2.0.0's translator when
//! given to wasmi as it is; through the Wasm host's loader, which rewrites
//! that store, it loads, its `init` links every device, and each link stores
//! exactly the device's address.

use cella_device_tests::wasm;
use cella_wasm_host::{Event, Grant, Limits, Outgoing, QueueOutbox, Runtime, SimulatedPlatform};

const PACKAGE: &str = "cella-store-offset-fixture";
const DEVICE_BYTES: u32 = 65536 + 4;

#[test]
fn wasmi_alone_panics_on_the_fixture() {
    let bytes = wasm(PACKAGE);
    let mut config = wasmi::Config::default();
    config.compilation_mode(wasmi::CompilationMode::Eager);
    let engine = wasmi::Engine::new(&config);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wasmi::Module::new(&engine, &bytes[..]).is_ok()
    }));
    std::panic::set_hook(previous);
    assert!(
        outcome.is_err(),
        "wasmi translated the fixture unaided: rustc no longer emits the pattern, or wasmi is fixed"
    );
}

fn link(
    sandbox: &mut cella_wasm_host::Sandbox<SimulatedPlatform, QueueOutbox>,
    outbox: &QueueOutbox,
    index: u8,
) -> Vec<u8> {
    sandbox
        .deliver(Event::Message {
            request: 9,
            bytes: &[index],
        })
        .unwrap();
    match outbox.drain().as_slice() {
        [Outgoing::Reply { message, .. }] => message.clone(),
        other => panic!("expected one reply, got {other:?}"),
    }
}

#[test]
fn the_fixture_loads_and_stores_each_device_address_again_and_again() {
    let mut runtime: Runtime<SimulatedPlatform, QueueOutbox> = Runtime::new(Limits::default());
    let module = runtime
        .load("store-offset-fixture", &wasm(PACKAGE), &Grant::new())
        .expect("the loader rewrites the store");
    let outbox = QueueOutbox::new(4);
    let mut sandbox = runtime
        .start(&module, SimulatedPlatform::new(), outbox.clone())
        .expect("init links every device");
    let mut addresses = Vec::new();
    for round in 0..1000 {
        for index in 0..2u8 {
            let reply = link(&mut sandbox, &outbox, index);
            let stored = u32::from_le_bytes(reply[..4].try_into().unwrap());
            let address = u32::from_le_bytes(reply[4..].try_into().unwrap());
            assert_eq!(stored, address, "round {round}, device {index}");
            if round == 0 {
                addresses.push(stored);
            } else {
                assert_eq!(stored, addresses[usize::from(index)]);
            }
        }
    }
    assert_ne!(addresses[0], 0);
    assert_eq!(addresses[1] - addresses[0], DEVICE_BYTES);
    // No such device: an empty answer, nothing stored.
    assert!(link(&mut sandbox, &outbox, 2).is_empty());
}
