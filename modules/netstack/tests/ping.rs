//! ICMP echo sockets between two stacks: requests answered by the other
//! stack with their sequence numbers and payloads, an address nobody
//! answers, bad requests refused, and 500 sockets in a row leaving the
//! table as it was.

mod common;

use cella_sdk::interfaces::sockets::{
    Handle, Ipv4, MAX_ECHO_BYTES, Server, SocketError, SocketState,
};
use common::{ADDRESS_B, Pair, pattern, refused};

/// Runs the pair until the echo socket has a reply; its sequence and bytes.
fn reply(pair: &mut Pair, socket: Handle) -> Option<(Ipv4, u16, Vec<u8>)> {
    let mut arrived = None;
    pair.run_until(200, |pair| {
        if let Some(echo) = pair.a.receive_echo(socket).unwrap() {
            arrived = Some((echo.address, echo.sequence, echo.bytes.to_vec()));
        }
        arrived.is_some()
    });
    arrived
}

#[test]
fn echo_requests_are_answered_with_their_sequence_and_payload() {
    let mut pair = Pair::new();
    let socket = pair.a.open_echo().unwrap();
    assert_eq!(pair.a.state(socket), Ok(SocketState::Bound));
    assert_eq!(pair.a.receive_echo(socket), Ok(None));
    for (sequence, length) in [(1u16, 56usize), (2, 0), (3, MAX_ECHO_BYTES)] {
        let payload = pattern(length, u32::from(sequence));
        let sent = pair.a.send_echo(socket, ADDRESS_B, sequence, &payload);
        assert_eq!(sent.unwrap().length as usize, length);
        assert_eq!(
            reply(&mut pair, socket),
            Some((ADDRESS_B, sequence, payload))
        );
    }
    // Two sockets' replies do not cross.
    let other = pair.a.open_echo().unwrap();
    pair.a.send_echo(other, ADDRESS_B, 7, b"other").unwrap();
    assert_eq!(reply(&mut pair, socket), None);
    assert_eq!(
        pair.a
            .receive_echo(other)
            .unwrap()
            .map(|echo| echo.sequence),
        Some(7)
    );
}

#[test]
fn an_address_nobody_answers_gets_no_reply() {
    let mut pair = Pair::new();
    let socket = pair.a.open_echo().unwrap();
    let nobody = Ipv4([10, 0, 0, 99]);
    pair.a.send_echo(socket, nobody, 1, b"anyone?").unwrap();
    assert_eq!(reply(&mut pair, socket), None);
    pair.a.close(socket).unwrap();
    assert!(refused(pair.a.receive_echo(socket), SocketError::Stale));
}

#[test]
fn bad_echo_requests_are_refused() {
    let mut pair = Pair::new();
    let socket = pair.a.open_echo().unwrap();
    let too_long = vec![0u8; MAX_ECHO_BYTES + 1];
    assert!(refused(
        pair.a.send_echo(socket, ADDRESS_B, 1, &too_long),
        SocketError::TooLong
    ));
    for address in [[0, 0, 0, 0], [255, 255, 255, 255], [224, 0, 0, 1]] {
        assert!(refused(
            pair.a.send_echo(socket, Ipv4(address), 1, b"x"),
            SocketError::BadArgument
        ));
    }
    assert!(refused(
        pair.a.send_echo(socket, Ipv4([192, 168, 1, 1]), 1, b"x"),
        SocketError::Unreachable
    ));
    let udp = pair.a.bind(5000).unwrap();
    assert!(refused(
        pair.a.send_echo(udp, ADDRESS_B, 1, b"x"),
        SocketError::WrongKind
    ));
    assert!(refused(pair.a.receive_echo(udp), SocketError::WrongKind));
    assert!(refused(
        pair.a.send_to(socket, ADDRESS_B, 9, b"x"),
        SocketError::WrongKind
    ));
    assert!(refused(pair.a.send(socket, b"x"), SocketError::WrongKind));
    // The socket's buffer holds 8 requests; the 9th before a poll is `Busy`.
    for sequence in 0..8 {
        pair.a.send_echo(socket, ADDRESS_B, sequence, b"x").unwrap();
    }
    assert!(refused(
        pair.a.send_echo(socket, ADDRESS_B, 8, b"x"),
        SocketError::Busy
    ));
}

#[test]
fn five_hundred_echo_sockets_in_a_row_leave_the_table_as_it_was() {
    let mut pair = Pair::new();
    let before = pair.a.sockets_in_use();
    for round in 0..500u32 {
        let socket = pair.a.open_echo().unwrap();
        let payload = round.to_le_bytes();
        pair.a
            .send_echo(socket, ADDRESS_B, round as u16, &payload)
            .unwrap();
        assert_eq!(
            reply(&mut pair, socket),
            Some((ADDRESS_B, round as u16, payload.to_vec())),
            "round {round}"
        );
        pair.a.close(socket).unwrap();
        assert_eq!(pair.a.sockets_in_use(), before, "round {round}");
    }
}
