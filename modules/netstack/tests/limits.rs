//! The fixed limits: 16 sockets, transfers of at most 3,584 bytes, a port
//! in use, a listener's backlog, frames that cannot be Ethernet frames.

mod common;

use cella_netstack::limits::{BACKLOG, MAX_SOCKETS, RECEIVED_FRAMES};
use cella_sdk::interfaces::sockets::{Ipv4, MAX_TRANSFER_BYTES, Server, SocketError, SocketState};
use common::{ADDRESS_B, Pair, refused};

#[test]
fn the_seventeenth_socket_is_refused_and_a_closed_one_makes_room() {
    let mut pair = Pair::new();
    let mut handles = Vec::new();
    for index in 0..MAX_SOCKETS {
        let handle = if index % 2 == 0 {
            pair.a.listen(1000 + index as u16).unwrap()
        } else {
            pair.a.bind(2000 + index as u16).unwrap()
        };
        handles.push(handle);
    }
    assert_eq!(pair.a.sockets_in_use(), MAX_SOCKETS);
    assert!(refused(pair.a.listen(80), SocketError::NoSockets));
    assert!(refused(pair.a.bind(53), SocketError::NoSockets));
    assert!(refused(
        pair.a.connect(ADDRESS_B, 80),
        SocketError::NoSockets
    ));
    pair.a.close(handles[3]).unwrap();
    assert_eq!(pair.a.sockets_in_use(), MAX_SOCKETS - 1);
    let again = pair.a.listen(80).unwrap();
    assert_eq!(again.slot, handles[3].slot);
    assert_ne!(again.generation, handles[3].generation);
    assert!(refused(pair.a.bind(53), SocketError::NoSockets));
}

#[test]
fn bad_transfers_ports_and_addresses_are_refused() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let (client, _server) = pair.connect(listener, 7000);
    let too_long = vec![0u8; MAX_TRANSFER_BYTES + 1];
    assert!(refused(
        pair.a.send(client, &too_long),
        SocketError::TooLong
    ));
    assert!(refused(pair.a.send(client, b""), SocketError::BadArgument));
    assert!(refused(
        pair.a.receive(client, MAX_TRANSFER_BYTES as u32 + 1),
        SocketError::TooLong
    ));
    assert!(refused(pair.a.receive(client, 0), SocketError::BadArgument));
    // The largest is taken whole.
    let largest = vec![7u8; MAX_TRANSFER_BYTES];
    assert_eq!(
        pair.a.send(client, &largest).unwrap().length as usize,
        MAX_TRANSFER_BYTES
    );
    // A listener is not a connection.
    assert!(refused(
        pair.b.send(listener, b"x"),
        SocketError::NotConnected
    ));
    assert!(refused(pair.b.listen(7000), SocketError::AddressInUse));
    assert!(refused(pair.b.listen(0), SocketError::BadArgument));
    assert!(refused(
        pair.a.connect(ADDRESS_B, 0),
        SocketError::BadArgument
    ));
    // Off the link's network, with no gateway, nothing leads there.
    assert!(refused(
        pair.a.connect(Ipv4([192, 0, 2, 1]), 80),
        SocketError::Unreachable
    ));
    let udp = pair.a.bind(5000).unwrap();
    assert!(refused(
        pair.a.send_to(udp, Ipv4([192, 0, 2, 1]), 53, b"?"),
        SocketError::Unreachable
    ));
    assert_eq!(pair.a.sockets_in_use(), 2);
}

#[test]
fn a_send_buffer_full_takes_nothing_more_until_the_peer_reads() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let (client, server) = pair.connect(listener, 7000);
    let chunk = vec![1u8; MAX_TRANSFER_BYTES];
    // B does not read: A's window and buffer fill, then A takes nothing.
    let mut taken = 0;
    pair.run_until(2_000, |pair| {
        taken += pair.a.send(client, &chunk).unwrap().length as usize;
        false
    });
    assert_eq!(pair.a.send(client, &chunk).unwrap().length, 0);
    assert!(taken >= 2 * 16 * 1024, "both buffers full: {taken}");
    assert!(
        taken <= 2 * 16 * 1024 + MAX_TRANSFER_BYTES,
        "bounded: {taken}"
    );
    let mut read = 0;
    assert!(pair.run_until(2_000, |pair| {
        read += pair.b.receive(server, 3584).unwrap().bytes.len();
        read == taken
    }));
    assert!(pair.a.send(client, &chunk).unwrap().length > 0);
}

#[test]
fn a_listener_keeps_at_most_its_backlog_waiting() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let clients: Vec<_> = (0..BACKLOG + 2)
        .map(|_| pair.a.connect(ADDRESS_B, 7000).unwrap())
        .collect();
    pair.run_until(3_000, |_| false);
    let established = clients
        .iter()
        .filter(|&&client| pair.a.state(client) == Ok(SocketState::Established))
        .count();
    // The backlog waits, and the listener's own socket holds one more.
    assert_eq!(established, BACKLOG + 1);
    assert_eq!(pair.b.sockets_in_use(), 1 + BACKLOG);
    let mut accepted = 0;
    while pair.b.accept(listener).unwrap().is_some() {
        accepted += 1;
    }
    assert_eq!(accepted, BACKLOG + 1);
}

#[test]
fn frames_no_ethernet_has_and_a_flood_are_dropped_and_counted() {
    let mut pair = Pair::new();
    assert!(!pair.a.receive_frame(&[0u8; 13]));
    assert!(!pair.a.receive_frame(&[0u8; 1515]));
    for _ in 0..RECEIVED_FRAMES {
        assert!(pair.a.receive_frame(&[0xffu8; 60]));
    }
    assert!(!pair.a.receive_frame(&[0xffu8; 60]));
    assert_eq!(pair.a.dropped_frames(), 3);
    // Garbage frames are taken in and ignored; the stack still works.
    pair.step();
    let listener = pair.b.listen(7000).unwrap();
    let (client, _) = pair.connect(listener, 7000);
    assert_eq!(pair.a.send(client, b"fine").unwrap().length, 4);
}
