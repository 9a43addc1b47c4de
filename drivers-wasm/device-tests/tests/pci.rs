//! The pci server against the list of functions a kernel found: it logs
//! each, answers the typed interface from the list, and reaches no
//! configuration space (it holds no port, no device).

use cella_device_tests::{log_messages, replies_to, start};
use cella_interfaces::pci::{self, Bar, BarKind, Function, PciError};
use cella_interfaces::wire::WireError;
use cella_wasm_host::{Event, Grant, SimulatedPlatform};
use std::sync::Arc;

fn function(bus: u8, device: u8, ids: (u16, u16), class: (u8, u8, u8), irq: u8) -> Function {
    Function {
        bus,
        device,
        function: 0,
        vendor_id: ids.0,
        device_id: ids.1,
        class: class.0,
        subclass: class.1,
        interface: class.2,
        header_type: 0,
        irq_line: irq,
        bars: [Bar::default(); 6],
    }
}

/// A host bridge, a NIC with a memory and an I/O BAR, and a device behind
/// a bridge with a 64-bit prefetchable BAR.
fn found() -> Arc<[Function]> {
    let host = function(0, 0, (0x8086, 0x29c0), (6, 0, 0), 0);
    let mut nic = function(0, 3, (0x8086, 0x100e), (2, 0, 0), 11);
    nic.bars[0] = Bar {
        kind: BarKind::Memory32,
        address: 0xfebc_0000,
        size: 0x2_0000,
        prefetchable: false,
    };
    nic.bars[1] = Bar {
        kind: BarKind::Io,
        address: 0xc000,
        size: 0x40,
        prefetchable: false,
    };
    let mut behind = function(1, 0, (0x1af4, 0x1041), (2, 0, 0), 10);
    behind.bars[4] = Bar {
        kind: BarKind::Memory64,
        address: 0x8_0000_0000,
        size: 0x4000,
        prefetchable: true,
    };
    Arc::from([host, nic, behind])
}

const EXPECTED: [&str; 3] = [
    "00:00.0 8086:29c0 class 06.00.00 header 0 irq 0",
    "00:03.0 8086:100e class 02.00.00 header 0 irq 11 bar0=mem32 0xfebc0000 size 0x20000 bar1=io 0xc000 size 0x40",
    "01:00.0 1af4:1041 class 02.00.00 header 0 irq 10 bar4=mem64 0x800000000 size 0x4000 prefetchable",
];

#[test]
fn the_list_is_logged_and_served_and_no_device_is_touched() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = start("cella-pci", &Grant::new().pci_bus(found()), &platform);
    let mut expected: Vec<String> = EXPECTED.iter().map(|line| line.to_string()).collect();
    expected.push("3 functions".into());
    assert_eq!(log_messages(&platform), expected);
    assert_eq!(platform.accesses(), [], "no port, MMIO or DMA access");

    let count = pci::count::reply(&call(&mut sandbox, 5, pci::count::request));
    assert_eq!(count, Ok(3));
    for (index, line) in EXPECTED.iter().enumerate() {
        let reply = call(&mut sandbox, 6, |buffer| {
            pci::function::request(buffer, index as u32)
        });
        let function = pci::function::reply(&reply).unwrap().unwrap();
        assert_eq!(function.to_string(), *line);
    }
    let reply = call(&mut sandbox, 7, |buffer| {
        pci::find::request(buffer, 0x1af4, 0x1041)
    });
    let found = pci::find::reply(&reply).unwrap().unwrap();
    assert_eq!(
        (found.bus, found.device, found.bars[4].address),
        (1, 0, 0x8_0000_0000)
    );
    let reply = call(&mut sandbox, 8, |buffer| pci::function::request(buffer, 3));
    assert_eq!(
        pci::function::reply(&reply),
        Ok(Err(PciError::NoSuchFunction))
    );
    let reply = call(&mut sandbox, 9, |buffer| {
        pci::find::request(buffer, 0x1af4, 0x1000)
    });
    assert_eq!(pci::find::reply(&reply), Ok(Err(PciError::NoSuchFunction)));
    // A request that is not of the interface gets an empty reply.
    let reply = call(&mut sandbox, 10, |buffer| {
        buffer[..4].copy_from_slice(b"list");
        Ok(4)
    });
    assert!(reply.is_empty());
    assert!(sandbox.is_alive());
}

#[test]
fn an_empty_bus_is_served_as_empty() {
    let platform = SimulatedPlatform::new();
    let mut sandbox = start("cella-pci", &Grant::new().pci_bus(Arc::from([])), &platform);
    assert_eq!(log_messages(&platform), ["0 functions"]);
    let count = pci::count::reply(&call(&mut sandbox, 1, pci::count::request));
    assert_eq!(count, Ok(0));
}

/// Sends the request `encode` writes as request `id`; returns the one reply.
fn call(
    sandbox: &mut cella_device_tests::TestSandbox,
    id: u32,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, WireError>,
) -> Vec<u8> {
    let mut buffer = [0; 64];
    let length = encode(&mut buffer).unwrap();
    sandbox
        .deliver(Event::Message {
            request: id,
            bytes: &buffer[..length],
        })
        .unwrap();
    let mut replies = replies_to(&sandbox.outbox().drain(), id);
    assert_eq!(replies.len(), 1, "one reply to request {id}");
    replies.remove(0)
}
