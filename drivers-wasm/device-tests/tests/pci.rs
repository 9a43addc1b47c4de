//! The pci driver against a configuration-space model with a host bridge, a
//! multi-function device, 64-bit, prefetchable and I/O BARs, and a bridge
//! with a device on its secondary bus.

use cella_device_tests::models::{BarSpec, PciBus, PciFunction};
use cella_device_tests::{log_messages, port_accesses, replies_to, start};
use cella_interfaces::pci::{self, PciError};
use cella_interfaces::wire::WireError;
use cella_wasm_host::{Event, Grant, SimulatedPlatform};

fn machine() -> PciBus {
    let bus = PciBus::new();
    // 00:00.0 host bridge.
    bus.add(0, 0, 0, PciFunction::new(0x8086, 0x1237, 0x06, 0x00, 0x00));
    // 00:01.x: a multi-function chipset: ISA bridge, IDE (I/O BAR), ACPI;
    // function 2 is absent.
    bus.add(
        0,
        1,
        0,
        PciFunction::new(0x8086, 0x7000, 0x06, 0x01, 0x00).multi_function(),
    );
    bus.add(
        0,
        1,
        1,
        PciFunction::new(0x8086, 0x7010, 0x01, 0x01, 0x80).bar(
            4,
            BarSpec::Io {
                port: 0xc040,
                size: 0x10,
            },
        ),
    );
    bus.add(
        0,
        1,
        3,
        PciFunction::new(0x8086, 0x7113, 0x06, 0x80, 0x00).irq(9),
    );
    // 00:02.0 a display with a prefetchable 32-bit frame buffer and MMIO.
    bus.add(
        0,
        2,
        0,
        PciFunction::new(0x1234, 0x1111, 0x03, 0x00, 0x00)
            .bar(
                0,
                BarSpec::Memory32 {
                    address: 0xfd00_0000,
                    size: 0x100_0000,
                    prefetchable: true,
                },
            )
            .bar(
                2,
                BarSpec::Memory32 {
                    address: 0xfebf_0000,
                    size: 0x1000,
                    prefetchable: false,
                },
            ),
    );
    // 00:03.0 a NIC: 32-bit memory, I/O, IRQ 11.
    bus.add(
        0,
        3,
        0,
        PciFunction::new(0x8086, 0x100e, 0x02, 0x00, 0x00)
            .irq(11)
            .bar(
                0,
                BarSpec::Memory32 {
                    address: 0xfebc_0000,
                    size: 0x2_0000,
                    prefetchable: false,
                },
            )
            .bar(
                1,
                BarSpec::Io {
                    port: 0xc000,
                    size: 0x40,
                },
            ),
    );
    // 00:04.0 a bridge to bus 1 (header type 1, one 32-bit BAR).
    bus.add(
        0,
        4,
        0,
        PciFunction::new(0x1b36, 0x0001, 0x06, 0x04, 0x00)
            .header_type(1)
            .bridge(0, 1, 1)
            .bar(
                0,
                BarSpec::Memory32 {
                    address: 0xfea0_0000,
                    size: 0x100,
                    prefetchable: false,
                },
            ),
    );
    // 01:00.0 behind the bridge: I/O BAR and a 64-bit prefetchable BAR above 4 GiB.
    bus.add(
        1,
        0,
        0,
        PciFunction::new(0x1af4, 0x1041, 0x02, 0x00, 0x00)
            .irq(10)
            .bar(
                0,
                BarSpec::Io {
                    port: 0xd000,
                    size: 0x20,
                },
            )
            .bar(
                4,
                BarSpec::Memory64 {
                    address: 0x8_0000_0000,
                    size: 0x4000,
                    prefetchable: true,
                },
            ),
    );
    bus
}

const EXPECTED: [&str; 8] = [
    "00:00.0 8086:1237 class 06.00.00 header 0 irq 0",
    "00:01.0 8086:7000 class 06.01.00 header 0 irq 0",
    "00:01.1 8086:7010 class 01.01.80 header 0 irq 0 bar4=io 0xc040 size 0x10",
    "00:01.3 8086:7113 class 06.80.00 header 0 irq 9",
    "00:02.0 1234:1111 class 03.00.00 header 0 irq 0 bar0=mem32 0xfd000000 size 0x1000000 prefetchable bar2=mem32 0xfebf0000 size 0x1000",
    "00:03.0 8086:100e class 02.00.00 header 0 irq 11 bar0=mem32 0xfebc0000 size 0x20000 bar1=io 0xc000 size 0x40",
    "00:04.0 1b36:0001 class 06.04.00 header 1 irq 0 bar0=mem32 0xfea00000 size 0x100",
    "01:00.0 1af4:1041 class 02.00.00 header 0 irq 10 bar0=io 0xd000 size 0x20 bar4=mem64 0x800000000 size 0x4000 prefetchable",
];

#[test]
fn enumerates_every_function_and_sizes_every_bar() {
    let bus = machine();
    let before = bus.snapshot();
    let platform = SimulatedPlatform::new();
    platform.attach_ports(0xcf8, 8, bus.clone());
    let mut sandbox = start("cella-pci", &Grant::new().port_range(0xcf8, 8), &platform);
    let mut expected: Vec<String> = EXPECTED.iter().map(|line| line.to_string()).collect();
    expected.push("8 functions".into());
    assert_eq!(log_messages(&platform), expected);
    // Every BAR and command register restored; nothing else written.
    assert_eq!(bus.snapshot(), before);
    assert_eq!(bus.probes_while_decoding(), []);
    // The NIC (00:03.0): decoding off (16-bit write to the command register),
    // BAR0 probed and restored, BAR1 likewise, decoding back on.
    let select = |register: u32| ('w', 0xcf8, 0x8000_0000 | 3 << 11 | register);
    let accesses = port_accesses(&platform.accesses());
    let start_at = accesses
        .iter()
        .position(|access| *access == select(0x04))
        .expect("the NIC's command register was never selected");
    assert_eq!(
        accesses[start_at..start_at + 18],
        [
            select(0x04),
            ('r', 0xcfc, 0x0007), // command: I/O, memory, bus master
            ('w', 0xcfc, 0x0004), // decoding off
            select(0x10),
            ('r', 0xcfc, 0xfebc_0000), // BAR0
            ('w', 0xcfc, 0xffff_ffff),
            ('r', 0xcfc, 0xfffe_0000), // 128 KiB
            ('w', 0xcfc, 0xfebc_0000), // restored
            select(0x14),
            ('r', 0xcfc, 0xc001), // BAR1: I/O
            ('w', 0xcfc, 0xffff_ffff),
            ('r', 0xcfc, 0xffff_ffc1), // 64 ports
            ('w', 0xcfc, 0xc001),
            select(0x18),
            ('r', 0xcfc, 0), // BAR2: not implemented
            ('w', 0xcfc, 0xffff_ffff),
            ('r', 0xcfc, 0),
            ('w', 0xcfc, 0),
        ]
    );
    eprintln!(
        "pci init: {} configuration accesses, {} fuel",
        bus.accesses(),
        sandbox.counters().last_event_fuel
    );

    // Through the typed interface: the count, each function by index (read
    // as the boot log line), one by its ids, and past the end.
    let count = pci::count::reply(&call(&mut sandbox, 5, pci::count::request));
    assert_eq!(count, Ok(8));
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
    let reply = call(&mut sandbox, 8, |buffer| pci::function::request(buffer, 8));
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

#[test]
fn an_empty_bus_and_a_bridge_loop_are_handled() {
    let bus = PciBus::new();
    // A bridge on bus 0 claiming bus 0 again, and one on bus 2 pointing back to 2.
    bus.add(
        0,
        0,
        0,
        PciFunction::new(0x1b36, 0x0001, 0x06, 0x04, 0x00)
            .header_type(1)
            .bridge(0, 2, 2),
    );
    bus.add(
        2,
        5,
        0,
        PciFunction::new(0x1b36, 0x0001, 0x06, 0x04, 0x00)
            .header_type(1)
            .bridge(2, 2, 2),
    );
    let platform = SimulatedPlatform::new();
    platform.attach_ports(0xcf8, 8, bus.clone());
    let _sandbox = start("cella-pci", &Grant::new().port_range(0xcf8, 8), &platform);
    let log = log_messages(&platform);
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[2], "2 functions");

    let empty = SimulatedPlatform::new();
    empty.attach_ports(0xcf8, 8, PciBus::new());
    let sandbox = start("cella-pci", &Grant::new().port_range(0xcf8, 8), &empty);
    assert_eq!(log_messages(&empty), ["0 functions"]);
    eprintln!("empty bus: {} fuel", sandbox.counters().last_event_fuel);
}
