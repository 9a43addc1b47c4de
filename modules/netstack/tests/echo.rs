//! The UDP echo service on port 7 between two stacks: datagrams of every
//! size come back unchanged to their source, a flood is bounded (what the
//! socket cannot hold is dropped) and the service answers afterwards, and
//! datagrams from a service's port are not answered.

mod common;

use cella_netstack::echo::{ECHO_PORT, ECHOES_PER_ROUND, Echo};
use cella_sdk::interfaces::sockets::{MAX_DATAGRAM_BYTES, Server};
use common::{ADDRESS_A, Pair, pattern};

/// Steps the pair with the echo service on A until B's `socket` has a
/// datagram or `limit_ms` pass.
fn echoed(
    pair: &mut Pair,
    echo: &mut Echo,
    socket: cella_sdk::interfaces::sockets::Handle,
    limit_ms: u64,
) -> Option<(Vec<u8>, u16)> {
    let mut answer = None;
    pair.run_until(limit_ms, |pair| {
        echo.serve(&mut pair.a);
        if let Some(datagram) = pair.b.receive_from(socket).unwrap() {
            assert_eq!(datagram.address, ADDRESS_A);
            answer = Some((datagram.bytes.to_vec(), datagram.port));
        }
        answer.is_some()
    });
    answer
}

#[test]
fn every_datagram_comes_back_unchanged_from_port_7() {
    let mut pair = Pair::new();
    let mut echo = Echo::open(&mut pair.a).unwrap();
    let b = pair.b.bind(40_000).unwrap();
    for (round, length) in [0, 1, 7, 512, 1000, MAX_DATAGRAM_BYTES]
        .into_iter()
        .enumerate()
    {
        let bytes = pattern(length, round as u32);
        pair.b.send_to(b, ADDRESS_A, ECHO_PORT, &bytes).unwrap();
        let (answer, port) = echoed(&mut pair, &mut echo, b, 100).expect("an echo");
        assert_eq!(answer, bytes, "{length} bytes");
        assert_eq!(port, ECHO_PORT);
    }
    assert_eq!((echo.echoed, echo.dropped), (6, 0));
}

#[test]
fn a_flood_is_bounded_and_the_service_answers_afterwards() {
    let mut pair = Pair::new();
    let mut echo = Echo::open(&mut pair.a).unwrap();
    let b = pair.b.bind(40_001).unwrap();
    let mut sent = 0;
    for round in 0..1_000u32 {
        // B's own buffer takes 8 at a time; a step carries them over.
        if pair
            .b
            .send_to(b, ADDRESS_A, ECHO_PORT, &pattern(100, round))
            .is_ok()
        {
            sent += 1;
        } else {
            pair.step();
        }
        // The service is served only now and then: its socket fills and drops.
        if round % 50 == 0 {
            echo.serve(&mut pair.a);
        }
    }
    assert!(sent > 100, "only {sent} datagrams went out");
    // One round takes at most its share.
    assert!(echo.serve(&mut pair.a) <= ECHOES_PER_ROUND);
    for _ in 0..200 {
        echo.serve(&mut pair.a);
        pair.step();
    }
    while pair.b.receive_from(b).unwrap().is_some() {}
    assert!(echo.echoed < sent, "a flood of {sent} is not all answered");
    assert!(echo.echoed >= ECHOES_PER_ROUND as u64);
    // Afterwards it answers as before.
    pair.b
        .send_to(b, ADDRESS_A, ECHO_PORT, b"still there?")
        .unwrap();
    let (answer, _) = echoed(&mut pair, &mut echo, b, 100).expect("an echo after the flood");
    assert_eq!(answer, b"still there?");
}

#[test]
fn datagrams_from_a_service_port_are_not_answered() {
    let mut pair = Pair::new();
    let mut echo = Echo::open(&mut pair.a).unwrap();
    // Another echo service: answering it would start an endless exchange.
    let other = pair.b.bind(ECHO_PORT).unwrap();
    pair.b
        .send_to(other, ADDRESS_A, ECHO_PORT, b"loop?")
        .unwrap();
    assert_eq!(echoed(&mut pair, &mut echo, other, 200), None);
    assert_eq!((echo.echoed, echo.dropped), (0, 1));
    // The port is taken: a second service is refused, the first serves on.
    assert!(Echo::open(&mut pair.a).is_err());
    let b = pair.b.bind(40_002).unwrap();
    pair.b.send_to(b, ADDRESS_A, ECHO_PORT, b"x").unwrap();
    assert!(echoed(&mut pair, &mut echo, b, 100).is_some());
}
