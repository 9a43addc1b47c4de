//! A thousand connections, then a thousand UDP sockets, opened, used and
//! closed in a row leave the socket table and the heap as they were (the heap measured by a counting
//! allocator; this file holds one test so no other test's allocations are
//! counted).

mod common;
#[path = "../../../wasm-host/tests/common/counting.rs"]
mod counting;

use cella_netstack::limits::TCP_BUFFER_BYTES;
use cella_sdk::interfaces::sockets::{Server, SocketState};
use common::{ADDRESS_B, Pair};

#[global_allocator]
static HEAP: counting::Counting = counting::Counting;

/// One connection from A to B's listener: a request and an answer, then
/// both sides close, until both tables are back to the listener alone.
fn one_connection(pair: &mut Pair, listener: cella_sdk::interfaces::sockets::Handle) {
    let client = pair.a.connect(ADDRESS_B, 7000).unwrap();
    let mut server = None;
    assert!(pair.run_until(1_000, |pair| {
        if server.is_none() {
            server = pair.b.accept(listener).unwrap();
        }
        server.is_some() && pair.a.state(client) == Ok(SocketState::Established)
    }));
    let server = server.unwrap();
    assert_eq!(pair.a.send(client, b"question").unwrap().length, 8);
    let mut asked = 0;
    assert!(pair.run_until(1_000, |pair| {
        asked += pair.b.receive(server, 100).unwrap().bytes.len();
        asked == 8
    }));
    assert_eq!(pair.b.send(server, b"answer").unwrap().length, 6);
    pair.b.close(server).unwrap();
    let mut answered = 0;
    assert!(pair.run_until(1_000, |pair| {
        let received = pair.a.receive(client, 100).unwrap();
        answered += received.bytes.len();
        received.end
    }));
    assert_eq!(answered, 6);
    pair.a.close(client).unwrap();
    assert!(pair.run_until(1_000, |pair| pair.a.sockets_in_use() == 0
        && pair.b.sockets_in_use() == 1));
}

#[test]
fn a_thousand_connections_and_udp_sockets_leave_the_table_and_the_heap_as_they_were() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    // The first connections fill ARP caches and the allocator's first pools.
    for _ in 0..3 {
        one_connection(&mut pair, listener);
    }
    let heap_before = counting::reset_peak();
    for _ in 0..1_000 {
        one_connection(&mut pair, listener);
    }
    assert_eq!(pair.a.sockets_in_use(), 0);
    assert_eq!(pair.b.sockets_in_use(), 1);
    let heap_after = counting::live_bytes();
    let peak = counting::peak_bytes();
    println!(
        "heap: {heap_before} bytes before the thousand connections, {heap_after} after, at most {peak}"
    );
    assert_eq!(heap_after, heap_before);
    // At most: the connection's socket on each side and the listener's fresh
    // one (two buffers each), and the frames in flight.
    let bound = 3 * 2 * TCP_BUFFER_BYTES as isize + 64 * 1024;
    assert!(
        peak - heap_before <= bound,
        "the peak passed {bound} bytes over the start"
    );
}
