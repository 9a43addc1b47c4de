//! The SDK's bulk port wrappers on the Wasm backend: the port-stream fixture
//! (tests/fixtures/port-stream) reads 6000 bytes from one port and writes
//! them to another with `Ports::read_bytes` / `Ports::write_bytes`, in chunks
//! of at most 4096 bytes (one host call each), many requests in a row.

use cella_device_tests::{replies_to, start};
use cella_wasm_host::{Access, ByteStream, Event, Grant, SimulatedPlatform};

const STREAM_BYTES: usize = 6000;

#[test]
fn a_long_stream_goes_through_in_bulk_calls_request_after_request() {
    let stream = ByteStream::default();
    let platform = SimulatedPlatform::new();
    platform.attach_ports(0x510, 2, stream.clone());
    let mut sandbox = start(
        "cella-port-stream-fixture",
        &Grant::new().port_range(0x510, 2),
        &platform,
    );
    let pages = sandbox.memory_pages();
    for round in 0..100u32 {
        let bytes: Vec<u8> = (0..STREAM_BYTES)
            .map(|index| (index as u32).wrapping_mul(7).wrapping_add(round) as u8)
            .collect();
        stream.input.borrow_mut().extend(&bytes);
        platform.clear_accesses();
        let request = round + 1;
        sandbox
            .deliver(Event::Message {
                request,
                bytes: b"go",
            })
            .unwrap();
        assert!(stream.input.borrow().is_empty(), "every byte was read");
        assert_eq!(*stream.output.borrow(), bytes, "round {round}");
        stream.output.borrow_mut().clear();
        let sum = bytes
            .iter()
            .fold(0u32, |sum, byte| sum.wrapping_add(u32::from(*byte)));
        let mut expected = (STREAM_BYTES as u32).to_le_bytes().to_vec();
        expected.extend(sum.to_le_bytes());
        assert_eq!(replies_to(&sandbox.outbox().drain(), request), [expected]);
        // Four host calls: 4096 + 1904 bytes each way.
        let bulk: Vec<Access> = sandbox
            .recent_accesses()
            .into_iter()
            .filter(|access| {
                matches!(
                    access,
                    Access::PortReadBytes { .. } | Access::PortWriteBytes { .. }
                )
            })
            .collect();
        assert_eq!(
            bulk[bulk.len() - 4..],
            [
                Access::PortReadBytes {
                    port: 0x510,
                    count: 4096
                },
                Access::PortReadBytes {
                    port: 0x510,
                    count: 1904
                },
                Access::PortWriteBytes {
                    port: 0x511,
                    count: 4096
                },
                Access::PortWriteBytes {
                    port: 0x511,
                    count: 1904
                },
            ]
        );
        // The device saw one access per byte.
        assert_eq!(platform.accesses().len(), 2 * STREAM_BYTES);
    }
    let counters = sandbox.counters();
    assert_eq!((counters.violations, counters.bad_calls), (0, 0));
    assert!(counters.host_call_bytes >= 100 * 2 * STREAM_BYTES as u64);
    assert_eq!(sandbox.memory_pages(), pages, "linear memory grew");
}
