//! TCP between two stacks on an in-memory link: connections made,
//! data both ways, a mebibyte each way checked by checksum, the peer's
//! close seen as end of stream, refusals, timeouts and resets, and the
//! port of an abandoned listener taken back.

mod common;

use cella_netstack::limits::ABANDONED_LISTENER_MS;
use cella_sdk::interfaces::sockets::{Server, SocketError, SocketState};
use common::{ADDRESS_B, FNV_START, MAC_B, Pair, fnv1a, pattern, refused, static_stack};

#[test]
fn data_flows_both_ways_and_the_peers_close_is_the_end_of_the_stream() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    assert_eq!(pair.b.state(listener), Ok(SocketState::Listening));
    assert_eq!(pair.b.accept(listener), Ok(None));
    let (client, server) = pair.connect(listener, 7000);
    assert_eq!(pair.b.state(server), Ok(SocketState::Established));

    assert_eq!(pair.a.send(client, b"hello").unwrap().length, 5);
    let mut arrived = Vec::new();
    assert!(pair.run_until(100, |pair| {
        arrived.extend_from_slice(pair.b.receive(server, 100).unwrap().bytes);
        arrived.len() == 5
    }));
    assert_eq!(arrived, b"hello");
    assert_eq!(pair.b.send(server, b"world!").unwrap().length, 6);
    let mut back = Vec::new();
    assert!(pair.run_until(100, |pair| {
        back.extend_from_slice(pair.a.receive(client, 100).unwrap().bytes);
        back.len() == 6
    }));
    assert_eq!(back, b"world!");

    // B sends its last bytes and closes: A reads them, then the end.
    pair.b.send(server, b"bye").unwrap();
    pair.b.close(server).unwrap();
    assert!(refused(pair.b.state(server), SocketError::Stale));
    let mut last = Vec::new();
    let mut ended = false;
    assert!(pair.run_until(100, |pair| {
        let received = pair.a.receive(client, 100).unwrap();
        last.extend_from_slice(received.bytes);
        ended = received.end;
        ended
    }));
    assert_eq!(last, b"bye");
    assert_eq!(pair.a.state(client), Ok(SocketState::PeerClosed));
    // A can still send after B's close; B's side has gone, so A closes too.
    pair.a.close(client).unwrap();
    assert!(pair.run_until(1_000, |pair| pair.a.sockets_in_use() == 0
        && pair.b.sockets_in_use() == 1));
}

#[test]
fn a_mebibyte_goes_each_way_at_once_and_arrives_whole() {
    const LENGTH: usize = 1 << 20;
    let mut pair = Pair::new();
    let listener = pair.b.listen(8080).unwrap();
    let (client, server) = pair.connect(listener, 8080);
    let outgoing = pattern(LENGTH, 1);
    let incoming = pattern(LENGTH, 2);
    let (mut a_sent, mut b_sent) = (0, 0);
    let (mut a_hash, mut b_hash) = (FNV_START, FNV_START);
    let (mut a_received, mut b_received) = (0, 0);
    assert!(pair.run_until(200_000, |pair| {
        if a_sent < LENGTH {
            let end = (a_sent + 3584).min(LENGTH);
            a_sent += pair.a.send(client, &outgoing[a_sent..end]).unwrap().length as usize;
        }
        if b_sent < LENGTH {
            let end = (b_sent + 3584).min(LENGTH);
            b_sent += pair.b.send(server, &incoming[b_sent..end]).unwrap().length as usize;
        }
        let bytes = pair.b.receive(server, 3584).unwrap().bytes;
        b_received += bytes.len();
        b_hash = fnv1a(b_hash, bytes);
        let bytes = pair.a.receive(client, 3584).unwrap().bytes;
        a_received += bytes.len();
        a_hash = fnv1a(a_hash, bytes);
        a_received == LENGTH && b_received == LENGTH
    }));
    assert_eq!(b_hash, fnv1a(FNV_START, &outgoing));
    assert_eq!(a_hash, fnv1a(FNV_START, &incoming));
    pair.a.close(client).unwrap();
    assert!(pair.run_until(1_000, |pair| pair.b.receive(server, 10).unwrap().end));
}

#[test]
fn a_connection_to_a_port_nobody_listens_on_is_refused() {
    let mut pair = Pair::new();
    let client = pair.a.connect(ADDRESS_B, 9).unwrap();
    assert_eq!(pair.a.state(client), Ok(SocketState::Connecting));
    assert_eq!(pair.a.send(client, b"early").unwrap().length, 0);
    assert!(pair.run_until(1_000, |pair| pair.a.state(client)
        == Ok(SocketState::Failed)));
    assert!(refused(pair.a.send(client, b"x"), SocketError::Refused));
    assert!(refused(pair.a.receive(client, 1), SocketError::Refused));
    pair.a.close(client).unwrap();
    assert_eq!(pair.a.sockets_in_use(), 0);
}

#[test]
fn a_connection_nobody_answers_times_out() {
    let mut pair = Pair::new();
    let client = pair
        .a
        .connect(cella_sdk::interfaces::sockets::Ipv4([10, 0, 0, 99]), 80)
        .unwrap();
    assert!(!pair.run_until(19_000, |pair| pair.a.state(client)
        != Ok(SocketState::Connecting)));
    assert!(pair.run_until(2_000, |pair| pair.a.state(client)
        == Ok(SocketState::Failed)));
    assert!(refused(pair.a.receive(client, 1), SocketError::TimedOut));
}

#[test]
fn a_peer_that_restarted_resets_the_connection() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let (client, server) = pair.connect(listener, 7000);
    // B restarts: a new instance with the same address knows no connection.
    pair.b = static_stack(MAC_B, ADDRESS_B, 3);
    assert!(refused(pair.b.state(server), SocketError::Stale));
    assert!(refused(pair.b.accept(listener), SocketError::Stale));
    pair.a.send(client, b"anyone?").unwrap();
    assert!(pair.run_until(5_000, |pair| pair.a.state(client)
        == Ok(SocketState::Failed)));
    assert!(refused(pair.a.send(client, b"x"), SocketError::Reset));
}

#[test]
fn a_listener_hands_over_connections_in_the_order_they_came() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let first = pair.a.connect(ADDRESS_B, 7000).unwrap();
    let second = pair.a.connect(ADDRESS_B, 7000).unwrap();
    let third = pair.a.connect(ADDRESS_B, 7000).unwrap();
    assert!(pair.run_until(1_000, |pair| {
        [first, second, third]
            .iter()
            .all(|&client| pair.a.state(client) == Ok(SocketState::Established))
    }));
    // The three wait in B's table, not yet the client's.
    assert_eq!(pair.b.sockets_in_use(), 4);
    let mut order = Vec::new();
    for (index, client) in [first, second, third].into_iter().enumerate() {
        pair.a.send(client, &[index as u8]).unwrap();
    }
    pair.run_until(100, |_| false);
    while let Some(server) = pair.b.accept(listener).unwrap() {
        order.push(pair.b.receive(server, 10).unwrap().bytes.to_vec());
    }
    assert_eq!(order, vec![vec![0], vec![1], vec![2]]);
    // Closing the listener takes nothing the client holds.
    pair.b.close(listener).unwrap();
    assert_eq!(pair.b.sockets_in_use(), 3);
}

/// A listener its client stopped asking to `accept` (the client ended without closing it) is
/// given up to the next `listen` on its port after `ABANDONED_LISTENER_MS`, with the
/// connections waiting on it; one in use keeps its port.
#[test]
fn a_listen_takes_the_port_of_an_abandoned_listener_but_not_of_one_in_use() {
    let mut pair = Pair::new();
    let old = pair.b.listen(8080).unwrap();
    // In use: polled within the limit, the port stays its own.
    for _ in 0..5 {
        pair.run_until(ABANDONED_LISTENER_MS / 2, |_| false);
        assert_eq!(pair.b.accept(old), Ok(None));
        assert_eq!(pair.b.listen(8080), Err(SocketError::AddressInUse));
    }
    let waiting = pair.a.connect(ADDRESS_B, 8080).unwrap();
    assert!(pair.run_until(1_000, |pair| pair.a.state(waiting)
        == Ok(SocketState::Established)));
    // Abandoned: the new listen takes the port; the old handle and its waiting connection
    // are gone.
    let before = pair.b.sockets_in_use();
    pair.run_until(ABANDONED_LISTENER_MS, |_| false);
    let new = pair.b.listen(8080).expect("the abandoned listener's port");
    assert_ne!(new, old);
    assert_eq!(pair.b.accept(old), Err(SocketError::Stale));
    assert!(
        pair.b.sockets_in_use() < before,
        "the waiting connection went with it"
    );
    let (client, server) = pair.connect(new, 8080);
    pair.a.send(client, b"again").unwrap();
    assert!(pair.run_until(1_000, |pair| {
        pair.b
            .receive(server, 10)
            .is_ok_and(|received| received.bytes == b"again")
    }));
}
