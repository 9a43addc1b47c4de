//! Frames built by hand as QEMU's user network sends them (its DHCP
//! server and router 10.0.2.2, the address it offers 10.0.2.15/24), and
//! the DHCP messages a client sends read back. Shared by the stack's host
//! tests and the module's test in `drivers-wasm/device-tests`.
#![allow(dead_code)]

pub const SERVER_MAC: [u8; 6] = [0x52, 0x55, 0x0a, 0x00, 0x02, 0x02];
pub const SERVER: [u8; 4] = [10, 0, 2, 2];
pub const OFFERED: [u8; 4] = [10, 0, 2, 15];
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const ACK: u8 = 5;

/// The one's-complement sum of the IPv4 and ICMP headers.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

pub fn ethernet(destination: [u8; 6], kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&SERVER_MAC);
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

pub fn ipv4(protocol: u8, source: [u8; 4], destination: [u8; 4], payload: &[u8]) -> Vec<u8> {
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
pub fn dhcp_answer(kind: u8, xid: [u8; 4], client: [u8; 6]) -> Vec<u8> {
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
pub struct ClientMessage {
    pub kind: u8,
    pub xid: [u8; 4],
    /// The client's hardware address, as the message names it.
    pub client: [u8; 6],
    /// The frame's source address.
    pub source: [u8; 6],
}

/// The DHCP message `frame` carries, if it is one a client sent.
pub fn dhcp_message(frame: &[u8]) -> Option<ClientMessage> {
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

/// An ARP request from the server: who has `target`?
pub fn arp_request(target: [u8; 4]) -> Vec<u8> {
    let mut arp = vec![0, 1, 0x08, 0x00, 6, 4, 0, 1];
    arp.extend_from_slice(&SERVER_MAC);
    arp.extend_from_slice(&SERVER);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&target);
    ethernet(BROADCAST_MAC, 0x0806, &arp)
}

/// An ICMP echo request from the server to `destination` (at `mac`).
pub fn echo_request(mac: [u8; 6], destination: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut echo = vec![8, 0, 0, 0, 0x12, 0x34, 0, 7];
    echo.extend_from_slice(payload);
    let checksum = internet_checksum(&echo);
    echo[2..4].copy_from_slice(&checksum.to_be_bytes());
    ethernet(mac, 0x0800, &ipv4(1, SERVER, destination, &echo))
}
