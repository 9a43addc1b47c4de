//! A stack gets its address from a DHCP server scripted here, answering as
//! QEMU's user network does (server and router 10.0.2.2, the address
//! 10.0.2.15/24), with OFFER and ACK frames built by hand; it then answers
//! an ARP request for that address and a ping.

mod common;

use cella_netstack::{Addressing, Settings, Stack};
use cella_sdk::interfaces::sockets::{Dhcp, Ipv4, Server, SocketError};
use common::{Cable, refused};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const SERVER_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
const SERVER: [u8; 4] = [10, 0, 2, 2];
const OFFERED: [u8; 4] = [10, 0, 2, 15];
const BROADCAST_MAC: [u8; 6] = [0xff; 6];

const DISCOVER: u8 = 1;
const OFFER: u8 = 2;
const REQUEST: u8 = 3;
const ACK: u8 = 5;

/// The one's-complement sum of the IPv4 and ICMP headers.
fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ethernet(destination: [u8; 6], kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&SERVER_MAC);
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

fn ipv4(protocol: u8, source: [u8; 4], destination: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x45, 0];
    packet.extend_from_slice(&(20 + payload.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0, 0, 0, 64, protocol, 0, 0]);
    packet.extend_from_slice(&source);
    packet.extend_from_slice(&destination);
    let checksum = internet_checksum(&packet);
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// A DHCP answer of `kind` (OFFER or ACK) to the transaction `xid`.
fn dhcp_answer(kind: u8, xid: [u8; 4], client: [u8; 6]) -> Vec<u8> {
    let mut bootp = vec![2, 1, 6, 0];
    bootp.extend_from_slice(&xid);
    bootp.extend_from_slice(&[0; 4]); // secs, flags
    bootp.extend_from_slice(&[0; 4]); // ciaddr
    bootp.extend_from_slice(&OFFERED); // yiaddr
    bootp.extend_from_slice(&SERVER); // siaddr
    bootp.extend_from_slice(&[0; 4]); // giaddr
    bootp.extend_from_slice(&client);
    bootp.extend_from_slice(&[0; 10 + 64 + 128]); // chaddr padding, sname, file
    bootp.extend_from_slice(&[99, 130, 83, 99]);
    bootp.extend_from_slice(&[53, 1, kind]);
    bootp.extend_from_slice(&[54, 4, 10, 0, 2, 2]);
    bootp.extend_from_slice(&[51, 4]);
    bootp.extend_from_slice(&86_400u32.to_be_bytes());
    bootp.extend_from_slice(&[1, 4, 255, 255, 255, 0]);
    bootp.extend_from_slice(&[3, 4, 10, 0, 2, 2]);
    bootp.extend_from_slice(&[6, 4, 10, 0, 2, 3]);
    bootp.push(255);
    let mut udp = Vec::new();
    udp.extend_from_slice(&67u16.to_be_bytes());
    udp.extend_from_slice(&68u16.to_be_bytes());
    udp.extend_from_slice(&(8 + bootp.len() as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]); // no checksum
    udp.extend_from_slice(&bootp);
    ethernet(BROADCAST_MAC, 0x0800, &ipv4(17, SERVER, [255; 4], &udp))
}

/// A DHCP message a client sent.
struct ClientMessage {
    kind: u8,
    xid: [u8; 4],
    /// The client's hardware address, as the message names it.
    client: [u8; 6],
    /// The frame's source address.
    source: [u8; 6],
}

/// The DHCP message `frame` carries, if it is one a client sent.
fn dhcp_message(frame: &[u8]) -> Option<ClientMessage> {
    if frame.get(12..14)? != [0x08, 0x00] || *frame.get(23)? != 17 {
        return None;
    }
    let header = usize::from(frame[14] & 0x0f) * 4;
    let udp = frame.get(14 + header..)?;
    if udp.get(2..4)? != 67u16.to_be_bytes() {
        return None;
    }
    let bootp = udp.get(8..)?;
    let xid = bootp.get(4..8)?.try_into().ok()?;
    let client = bootp.get(28..34)?.try_into().ok()?;
    let source = frame.get(6..12)?.try_into().ok()?;
    let mut options = bootp.get(240..)?;
    while let [code, length, rest @ ..] = options {
        if *code == 53 {
            return Some(ClientMessage {
                kind: *rest.first()?,
                xid,
                client,
                source,
            });
        }
        options = rest.get(usize::from(*length)..)?;
    }
    None
}

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

    let arp = |target: [u8; 4]| {
        let mut arp = vec![0, 1, 0x08, 0x00, 6, 4, 0, 1];
        arp.extend_from_slice(&SERVER_MAC);
        arp.extend_from_slice(&SERVER);
        arp.extend_from_slice(&[0; 6]);
        arp.extend_from_slice(&target);
        ethernet(BROADCAST_MAC, 0x0806, &arp)
    };
    // Nobody's address: no answer.
    stack.receive_frame(&arp([10, 0, 2, 99]));
    stack.poll(now_ms + 1);
    assert!(stack.link().frames.is_empty());
    stack.receive_frame(&arp(OFFERED));
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

    let mut echo = vec![8, 0, 0, 0, 0x12, 0x34, 0, 7];
    echo.extend_from_slice(b"cella ping");
    let checksum = internet_checksum(&echo);
    echo[2..4].copy_from_slice(&checksum.to_be_bytes());
    stack.receive_frame(&ethernet(MAC, 0x0800, &ipv4(1, SERVER, OFFERED, &echo)));
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
