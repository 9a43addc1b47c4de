//! UDP between two stacks: datagrams both ways with their sources, an
//! empty socket, the largest datagram, and the bounded send buffer.

mod common;

use cella_sdk::interfaces::sockets::{Ipv4, MAX_DATAGRAM_BYTES, Server, SocketError};
use common::{ADDRESS_A, ADDRESS_B, Pair, pattern, refused};

#[test]
fn datagrams_go_both_ways_with_their_sources() {
    let mut pair = Pair::new();
    let a = pair.a.bind(5000).unwrap();
    let b = pair.b.bind(0).unwrap();
    assert_eq!(pair.a.receive_from(a), Ok(None));
    assert_eq!(
        pair.b.send_to(b, ADDRESS_A, 5000, b"ping").unwrap().length,
        4
    );
    let mut source = None;
    assert!(pair.run_until(100, |pair| {
        if let Some(datagram) = pair.a.receive_from(a).unwrap() {
            assert_eq!(datagram.bytes, b"ping");
            assert_eq!(datagram.address, ADDRESS_B);
            source = Some(datagram.port);
        }
        source.is_some()
    }));
    let port = source.unwrap();
    assert!(
        (49_152..=65_535).contains(&port),
        "an ephemeral port: {port}"
    );
    let largest = pattern(MAX_DATAGRAM_BYTES, 5);
    pair.a.send_to(a, ADDRESS_B, port, &largest).unwrap();
    pair.a.send_to(a, ADDRESS_B, port, b"").unwrap();
    let mut arrived = Vec::new();
    assert!(pair.run_until(100, |pair| {
        if let Some(datagram) = pair.b.receive_from(b).unwrap() {
            assert_eq!(datagram.address, ADDRESS_A);
            assert_eq!(datagram.port, 5000);
            arrived.push(datagram.bytes.to_vec());
        }
        arrived.len() == 2
    }));
    assert_eq!(arrived, vec![largest, Vec::new()]);
    assert_eq!(pair.b.receive_from(b), Ok(None));
}

#[test]
fn bad_datagrams_and_a_full_buffer_are_refused() {
    let mut pair = Pair::new();
    let a = pair.a.bind(5000).unwrap();
    assert!(refused(pair.a.bind(5000), SocketError::AddressInUse));
    let too_long = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    assert!(refused(
        pair.a.send_to(a, ADDRESS_B, 9, &too_long),
        SocketError::TooLong
    ));
    assert!(refused(
        pair.a.send_to(a, ADDRESS_B, 0, b"x"),
        SocketError::BadArgument
    ));
    for nobody in [
        Ipv4([0, 0, 0, 0]),
        Ipv4([255, 255, 255, 255]),
        Ipv4([224, 0, 0, 1]),
    ] {
        assert!(refused(
            pair.a.send_to(a, nobody, 9, b"x"),
            SocketError::BadArgument
        ));
    }
    // TCP requests on a UDP socket.
    assert!(refused(pair.a.send(a, b"x"), SocketError::WrongKind));
    assert!(refused(pair.a.receive(a, 1), SocketError::WrongKind));
    assert!(refused(pair.a.accept(a), SocketError::WrongKind));
    // Without a poll, the socket's buffer of outgoing datagrams fills.
    let mut taken = 0;
    let answer = loop {
        match pair.a.send_to(a, ADDRESS_B, 9, &[1u8; 1000]) {
            Ok(_) => taken += 1,
            Err(error) => break error,
        }
        assert!(taken <= 64, "the buffer is bounded");
    };
    assert_eq!(answer, SocketError::Busy);
    assert_eq!(taken, 8);
    // Once the stack sent them, there is room again.
    pair.run_until(100, |_| false);
    assert!(pair.a.send_to(a, ADDRESS_B, 9, &[1u8; 1000]).is_ok());
}
