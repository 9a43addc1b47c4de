//! Handles: a closed one, one of another use of its slot, one past the
//! table and one of an earlier instance; and requests through the
//! interface's encoding, garbage included.

mod common;

use cella_sdk::interfaces::sockets::{
    self, Handle, MAX_TRANSFER_BYTES, Server, SocketError, SocketState,
};
use cella_sdk::interfaces::wire::WireError;
use common::{ADDRESS_A, ADDRESS_B, MAC_A, Pair, refused, static_stack};

#[test]
fn closed_reused_unknown_and_earlier_handles_are_refused() {
    let mut pair = Pair::new();
    let first = pair.a.bind(5000).unwrap();
    pair.a.close(first).unwrap();
    assert!(refused(pair.a.state(first), SocketError::Stale));
    assert!(refused(pair.a.close(first), SocketError::Stale));
    let second = pair.a.bind(5000).unwrap();
    assert_eq!(second.slot, first.slot);
    assert!(refused(pair.a.receive_from(first), SocketError::Stale));
    assert_eq!(pair.a.state(second), Ok(SocketState::Bound));
    let past = Handle {
        slot: 16,
        generation: second.generation,
    };
    assert!(refused(pair.a.state(past), SocketError::NotFound));
    let far = Handle {
        slot: u32::MAX,
        generation: 0,
    };
    assert!(refused(pair.a.close(far), SocketError::NotFound));
    // A restarted server (another epoch) knows none of the earlier handles,
    // even in the same slot.
    pair.a = static_stack(MAC_A, ADDRESS_A, 99);
    let third = pair.a.bind(5000).unwrap();
    assert_eq!(third.slot, second.slot);
    assert!(refused(pair.a.state(second), SocketError::Stale));
    assert_eq!(pair.a.state(third), Ok(SocketState::Bound));
}

/// Sends `request` through `sockets::serve` and answers the reply's bytes.
fn serve(stack: &mut impl Server, request: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut reply = [0u8; 4096];
    let length = sockets::serve(stack, request, &mut reply)?;
    Ok(reply[..length].to_vec())
}

#[test]
fn requests_travel_through_the_interface_encoding_and_garbage_is_refused() {
    let mut pair = Pair::new();
    let mut request = [0u8; 4096];

    let length = sockets::listen::request(&mut request, 7000).unwrap();
    let reply = serve(&mut pair.b, &request[..length]).unwrap();
    let listener = sockets::listen::reply(&reply).unwrap().unwrap();

    let length = sockets::connect::request(&mut request, ADDRESS_B, 7000).unwrap();
    let reply = serve(&mut pair.a, &request[..length]).unwrap();
    let client = sockets::connect::reply(&reply).unwrap().unwrap();

    let mut server = None;
    assert!(pair.run_until(1_000, |pair| {
        if server.is_none() {
            let length = sockets::accept::request(&mut request, listener).unwrap();
            let reply = serve(&mut pair.b, &request[..length]).unwrap();
            server = sockets::accept::reply(&reply).unwrap().unwrap();
        }
        server.is_some() && pair.a.state(client) == Ok(SocketState::Established)
    }));
    let server = server.unwrap();

    let bytes = vec![0x5au8; MAX_TRANSFER_BYTES];
    let length = sockets::send::request(&mut request, client, &bytes).unwrap();
    let reply = serve(&mut pair.a, &request[..length]).unwrap();
    assert_eq!(
        sockets::send::reply(&reply).unwrap().unwrap().length as usize,
        MAX_TRANSFER_BYTES
    );
    let mut arrived = 0;
    assert!(pair.run_until(1_000, |pair| {
        let length =
            sockets::receive::request(&mut request, server, MAX_TRANSFER_BYTES as u32).unwrap();
        let reply = serve(&mut pair.b, &request[..length]).unwrap();
        let received = sockets::receive::reply(&reply).unwrap().unwrap();
        assert!(received.bytes.iter().all(|&byte| byte == 0x5a));
        arrived += received.bytes.len();
        arrived == MAX_TRANSFER_BYTES
    }));

    // A stale handle is answered `Stale`, through the encoding too.
    let stale = Handle {
        slot: client.slot,
        generation: client.generation ^ 1,
    };
    let length = sockets::state::request(&mut request, stale).unwrap();
    let reply = serve(&mut pair.a, &request[..length]).unwrap();
    assert_eq!(
        sockets::state::reply(&reply).unwrap(),
        Err(SocketError::Stale)
    );

    // Garbage is refused without an answer and changes nothing.
    let garbage: [&[u8]; 6] = [
        b"",
        b"\xff\xfe\x00\x01",
        b"send\0\x01",
        b"send\0\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff",
        b"connect\0\x0a\x00\x00\x02",
        b"state\0\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    for (index, request) in garbage.into_iter().enumerate() {
        assert!(
            serve(&mut pair.a, request).is_err(),
            "garbage request {index} was answered"
        );
    }
    let mut noise = 0x1234_5678u32;
    for length in 0..2_000 {
        let request: Vec<u8> = (0..length % 64)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                noise as u8
            })
            .collect();
        let _ = serve(&mut pair.a, &request);
    }
    assert_eq!(pair.a.sockets_in_use(), 1);
    assert_eq!(pair.a.state(client), Ok(SocketState::Established));
    let length = sockets::address::request(&mut request).unwrap();
    let reply = serve(&mut pair.a, &request[..length]).unwrap();
    assert_eq!(
        sockets::address::reply(&reply)
            .unwrap()
            .unwrap()
            .to_string(),
        "10.0.0.1/24, no gateway, static"
    );
}
