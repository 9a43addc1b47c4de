//! A stack gets its address from a DHCP server scripted here (its frames
//! in `common/frames.rs`), answering as QEMU's user network does (server
//! and router 10.0.2.2, the address 10.0.2.15/24) with OFFER and ACK frames
//! built by hand; it then answers an ARP request for that address and a
//! ping.

mod common;

use common::frames::{
    ACK, ClientMessage, DISCOVER, OFFER, OFFERED, REQUEST, SERVER, SERVER_MAC, arp_request,
    dhcp_answer, dhcp_message, echo_request, internet_checksum,
};

use cella_netstack::{Addressing, Settings, Stack};
use cella_sdk::interfaces::sockets::{Dhcp, Ipv4, Server, SocketError};
use common::{Cable, refused};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// A stack asking DHCP, made with another MAC address that `set_mac` then
/// replaces (as the module does once the driver tells it).
fn asking_stack() -> Stack<Cable> {
    let settings = Settings {
        mac: [0x02, 0, 0, 0, 0, 1],
        epoch: 7,
        addressing: Addressing::Dhcp,
    };
    let mut stack = Stack::new(Cable::default(), settings, 0).unwrap();
    assert!(refused(
        stack.set_mac([0x01, 0, 0x5e, 0, 0, 1]),
        SocketError::BadArgument
    ));
    stack.set_mac(MAC).unwrap();
    stack
}

/// Runs the stack for up to `limit_ms`, answering its DISCOVER and
/// REQUEST; answers the DHCP message types it sent, in order.
fn serve_dhcp(stack: &mut Stack<Cable>, now_ms: &mut u64, limit_ms: u64) -> Vec<u8> {
    let mut seen = Vec::new();
    for _ in 0..limit_ms {
        *now_ms += 1;
        stack.poll(*now_ms);
        for frame in std::mem::take(&mut stack.link_mut().frames) {
            let Some(ClientMessage {
                kind,
                xid,
                client,
                source,
            }) = dhcp_message(&frame)
            else {
                continue;
            };
            assert_eq!(client, MAC, "the DHCP client's hardware address");
            assert_eq!(source, MAC, "the frame's source address");
            seen.push(kind);
            let answer = match kind {
                DISCOVER => OFFER,
                REQUEST => ACK,
                _ => continue,
            };
            assert!(stack.receive_frame(&dhcp_answer(answer, xid, client)));
        }
        if stack.configuration().dhcp == Dhcp::Bound {
            break;
        }
    }
    seen
}

#[test]
fn the_address_comes_from_dhcp_as_qemu_gives_it() {
    let mut stack = asking_stack();
    let before = stack.address().unwrap();
    assert_eq!(before.dhcp, Dhcp::Discovering);
    assert_eq!(before.to_string(), "no address yet (DHCP discovering)");
    assert!(refused(
        stack.connect(Ipv4(SERVER), 80),
        SocketError::NoAddress
    ));
    let udp = stack.bind(0).unwrap();
    assert!(refused(
        stack.send_to(udp, Ipv4(SERVER), 53, b"?"),
        SocketError::NoAddress
    ));

    let mut now_ms = 0;
    let seen = serve_dhcp(&mut stack, &mut now_ms, 10_000);
    assert_eq!(seen, vec![DISCOVER, REQUEST]);
    let configuration = stack.address().unwrap();
    assert_eq!(configuration.address, Ipv4(OFFERED));
    assert_eq!(configuration.prefix, 24);
    assert_eq!(configuration.gateway, Ipv4(SERVER));
    assert_eq!(configuration.dhcp, Dhcp::Bound);
    assert_eq!(
        configuration.to_string(),
        "10.0.2.15/24, gateway 10.0.2.2, by DHCP"
    );
    // With an address, a datagram to the server goes out (after ARP).
    assert_eq!(
        stack.send_to(udp, Ipv4(SERVER), 53, b"?").unwrap().length,
        1
    );
}

#[test]
fn it_answers_arp_for_its_address_and_a_ping() {
    let mut stack = asking_stack();
    let mut now_ms = 0;
    serve_dhcp(&mut stack, &mut now_ms, 10_000);
    assert_eq!(stack.configuration().dhcp, Dhcp::Bound);
    stack.link_mut().frames.clear();

    // Nobody's address: no answer.
    stack.receive_frame(&arp_request([10, 0, 2, 99]));
    stack.poll(now_ms + 1);
    assert!(stack.link().frames.is_empty());
    stack.receive_frame(&arp_request(OFFERED));
    stack.poll(now_ms + 2);
    let frames = std::mem::take(&mut stack.link_mut().frames);
    assert_eq!(frames.len(), 1);
    let reply = &frames[0];
    assert_eq!(&reply[0..6], &SERVER_MAC);
    assert_eq!(&reply[6..12], &MAC);
    assert_eq!(&reply[12..14], &[0x08, 0x06]);
    assert_eq!(&reply[20..22], &[0, 2], "an ARP reply");
    assert_eq!(&reply[22..28], &MAC);
    assert_eq!(&reply[28..32], &OFFERED);
    assert_eq!(&reply[32..38], &SERVER_MAC);
    assert_eq!(&reply[38..42], &SERVER);

    stack.receive_frame(&echo_request(MAC, OFFERED, b"cella ping"));
    stack.poll(now_ms + 3);
    let frames = std::mem::take(&mut stack.link_mut().frames);
    assert_eq!(frames.len(), 1);
    let reply = &frames[0];
    assert_eq!(&reply[0..6], &SERVER_MAC);
    assert_eq!(reply[23], 1, "ICMP");
    assert_eq!(&reply[26..30], &OFFERED);
    assert_eq!(&reply[30..34], &SERVER);
    let icmp = &reply[34..];
    assert_eq!(icmp[0], 0, "an echo reply");
    assert_eq!(&icmp[4..8], &[0x12, 0x34, 0, 7]);
    assert_eq!(&icmp[8..], b"cella ping");
    assert_eq!(internet_checksum(icmp), 0);
}
