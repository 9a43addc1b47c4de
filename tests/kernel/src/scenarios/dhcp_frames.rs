//! A DHCP DISCOVER built by hand (Ethernet, IPv4, UDP 68 -> 67, broadcast) and the DHCP
//! OFFER an answer is read as, for the `network_link` scenario: just enough of each
//! protocol to ask QEMU's user network for an address.

use alloc::vec::Vec;
use core::fmt;

const ETHERNET_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
/// The BOOTP message up to its options: op to file, then the DHCP magic cookie.
const BOOTP_FIXED: usize = 236;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// BOOTP messages are at least this long (RFC 951's 300 bytes).
const BOOTP_LEAST: usize = 300;
const ETHERTYPE_IPV4: u16 = 0x0800;
const PROTOCOL_UDP: u8 = 17;
const CLIENT_PORT: u16 = 68;
const SERVER_PORT: u16 = 67;
const OP_REQUEST: u8 = 1;
const OP_REPLY: u8 = 2;
const OPTION_PAD: u8 = 0;
const OPTION_SUBNET_MASK: u8 = 1;
const OPTION_ROUTER: u8 = 3;
const OPTION_LEASE_TIME: u8 = 51;
const OPTION_MESSAGE_TYPE: u8 = 53;
const OPTION_SERVER_ID: u8 = 54;
const OPTION_PARAMETERS: u8 = 55;
const OPTION_END: u8 = 255;
const DISCOVER: u8 = 1;
const OFFER: u8 = 2;

/// The one's-complement sum of `bytes` as 16-bit words, folded and inverted.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A DHCP DISCOVER from `mac` with transaction id `xid`, broadcast, asking for the subnet
/// mask and the router.
pub fn discover(mac: [u8; 6], xid: u32) -> Vec<u8> {
    let mut bootp = alloc::vec![0u8; BOOTP_FIXED];
    bootp[0] = OP_REQUEST;
    bootp[1] = 1; // Ethernet
    bootp[2] = 6; // its address length
    bootp[4..8].copy_from_slice(&xid.to_be_bytes());
    bootp[10..12].copy_from_slice(&0x8000u16.to_be_bytes()); // answer by broadcast
    bootp[28..34].copy_from_slice(&mac);
    bootp.extend_from_slice(&MAGIC_COOKIE);
    bootp.extend_from_slice(&[OPTION_MESSAGE_TYPE, 1, DISCOVER]);
    bootp.extend_from_slice(&[OPTION_PARAMETERS, 2, OPTION_SUBNET_MASK, OPTION_ROUTER]);
    bootp.push(OPTION_END);
    bootp.resize(BOOTP_LEAST, OPTION_PAD);

    let udp_length = UDP_HEADER + bootp.len();
    let ip_length = IPV4_HEADER + udp_length;
    let mut frame = Vec::with_capacity(ETHERNET_HEADER + ip_length);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let mut ip = [0u8; IPV4_HEADER];
    ip[0] = 0x45; // version 4, five words
    ip[2..4].copy_from_slice(&(ip_length as u16).to_be_bytes());
    ip[8] = 64; // time to live
    ip[9] = PROTOCOL_UDP;
    ip[16..20].copy_from_slice(&[255; 4]);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    frame.extend_from_slice(&SERVER_PORT.to_be_bytes());
    frame.extend_from_slice(&(udp_length as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    frame.extend_from_slice(&bootp);
    frame
}

/// An IPv4 address as people write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Address(pub [u8; 4]);

impl fmt::Display for Address {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(out, "{a}.{b}.{c}.{d}")
    }
}

/// What a DHCP OFFER says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Offer {
    /// The IPv4 source of the frame.
    pub from: Address,
    /// The address offered (`yiaddr`).
    pub address: Address,
    /// The server identifier option.
    pub server: Address,
    /// The subnet mask option.
    pub mask: Address,
    /// The router option's first address (QEMU's restricted network offers none).
    pub router: Option<Address>,
    /// The lease time option, in seconds.
    pub lease_seconds: u32,
}

impl fmt::Display for Offer {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "DHCP offer from {}: address {}, server {}, mask {}, ",
            self.from, self.address, self.server, self.mask
        )?;
        match self.router {
            Some(router) => write!(out, "router {router}")?,
            None => out.write_str("router none")?,
        }
        write!(out, ", lease {} s", self.lease_seconds)
    }
}

fn address_at(bytes: &[u8], at: usize) -> Option<Address> {
    Some(Address(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The DHCP OFFER for transaction `xid` that `frame` carries, if it is one.
pub fn offer(frame: &[u8], xid: u32) -> Option<Offer> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    if ethertype != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = frame.get(ETHERNET_HEADER..)?;
    let header = usize::from(ip.first()? & 0x0f) * 4;
    if ip.first()? >> 4 != 4 || header < IPV4_HEADER || *ip.get(9)? != PROTOCOL_UDP {
        return None;
    }
    let from = address_at(ip, 12)?;
    let udp = ip.get(header..)?;
    let source = u16::from_be_bytes(udp.get(0..2)?.try_into().ok()?);
    let destination = u16::from_be_bytes(udp.get(2..4)?.try_into().ok()?);
    if (source, destination) != (SERVER_PORT, CLIENT_PORT) {
        return None;
    }
    let bootp = udp.get(UDP_HEADER..)?;
    if *bootp.first()? != OP_REPLY
        || bootp.get(4..8)? != xid.to_be_bytes()
        || bootp.get(BOOTP_FIXED..BOOTP_FIXED + 4)? != MAGIC_COOKIE
    {
        return None;
    }
    let mut found = Offer {
        from,
        address: address_at(bootp, 16)?,
        ..Offer::default()
    };
    let mut message_type = None;
    let mut options = bootp.get(BOOTP_FIXED + 4..)?;
    while let Some((&code, rest)) = options.split_first() {
        match code {
            OPTION_END => break,
            OPTION_PAD => {
                options = rest;
                continue;
            }
            _ => {}
        }
        let (&length, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(length))?;
        match code {
            OPTION_MESSAGE_TYPE => message_type = value.first().copied(),
            OPTION_SERVER_ID => found.server = address_at(value, 0)?,
            OPTION_SUBNET_MASK => found.mask = address_at(value, 0)?,
            OPTION_ROUTER => found.router = Some(address_at(value, 0)?),
            OPTION_LEASE_TIME => {
                found.lease_seconds = u32::from_be_bytes(value.get(0..4)?.try_into().ok()?);
            }
            _ => {}
        }
        options = &rest[usize::from(length)..];
    }
    (message_type == Some(OFFER)).then_some(found)
}
