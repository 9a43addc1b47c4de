//! The stack: smoltcp's interface and sockets over a [`Link`], and its address
//! (by DHCP or configured); `upkeep.rs` keeps its socket table.

use crate::limits::{ACK_TIMEOUT_MS, EPHEMERAL_PORTS, MAX_SOCKETS, POLL_ROUNDS, TCP_BUFFER_BYTES};
use crate::link::{Link, LinkDevice};
use crate::table::{Kind, Table};
use alloc::vec;
use alloc::vec::Vec;
use cella_sdk::interfaces::sockets::{Configuration, Dhcp, Ipv4, MAX_TRANSFER_BYTES, SocketError};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};

/// How the stack gets its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// Asks a DHCP server, and asks again when the lease runs out.
    Dhcp,
    /// A fixed address, prefix and default router.
    Static {
        address: Ipv4,
        prefix: u8,
        gateway: Option<Ipv4>,
    },
}

/// What a stack starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The link's MAC address.
    pub mac: [u8; 6],
    /// This instance's epoch: the high 16 bits of every handle's
    /// generation, so handles of an earlier instance are stale.
    pub epoch: u16,
    pub addressing: Addressing,
}

/// A TCP/IP stack over one link.
pub struct Stack<L: Link> {
    pub(crate) device: LinkDevice<L>,
    pub(crate) interface: Interface,
    pub(crate) sockets: SocketSet<'static>,
    pub(crate) table: Table,
    dhcp: Option<SocketHandle>,
    pub(crate) configuration: Configuration,
    pub(crate) now_ms: u64,
    next_port: u16,
    pub(crate) arrivals: u64,
    /// What a `receive` or `receive_from` answers from.
    pub(crate) transfer: Vec<u8>,
}

fn unicast(address: Ipv4) -> bool {
    let address = Ipv4Address::from(address.0);
    !(address.is_unspecified() || address.is_broadcast() || address.is_multicast())
}

fn instant(now_ms: u64) -> Instant {
    Instant::from_millis(i64::try_from(now_ms).unwrap_or(i64::MAX))
}

impl<L: Link> Stack<L> {
    /// A stack on `link`, at time `now_ms`.
    ///
    /// # Errors
    /// `BadArgument` for a MAC address that is not unicast, or a static
    /// address that is not unicast or a prefix over 32.
    pub fn new(link: L, settings: Settings, now_ms: u64) -> Result<Stack<L>, SocketError> {
        let mac = EthernetAddress(settings.mac);
        if !mac.is_unicast() {
            return Err(SocketError::BadArgument);
        }
        let mut device = LinkDevice::new(link);
        let config = Config::new(HardwareAddress::Ethernet(mac));
        let mut interface = Interface::new(config, &mut device, instant(now_ms));
        let mut sockets = SocketSet::new(Vec::with_capacity(MAX_SOCKETS + 1));
        let mut configuration = Configuration {
            address: Ipv4::default(),
            prefix: 0,
            gateway: Ipv4::default(),
            dhcp: Dhcp::Discovering,
        };
        let mut dhcp = None;
        match settings.addressing {
            Addressing::Dhcp => dhcp = Some(sockets.add(dhcpv4::Socket::new())),
            Addressing::Static {
                address,
                prefix,
                gateway,
            } => {
                if !unicast(address) || prefix > 32 || gateway.is_some_and(|g| !unicast(g)) {
                    return Err(SocketError::BadArgument);
                }
                configuration = Configuration {
                    address,
                    prefix,
                    gateway: gateway.unwrap_or_default(),
                    dhcp: Dhcp::Static,
                };
                configure(&mut interface, &configuration);
            }
        }
        Ok(Stack {
            device,
            interface,
            sockets,
            table: Table::new(settings.epoch),
            dhcp,
            configuration,
            now_ms,
            next_port: *EPHEMERAL_PORTS.start(),
            arrivals: 0,
            transfer: vec![0; MAX_TRANSFER_BYTES],
        })
    }

    /// Gives the stack the link's MAC address (the module learns it from
    /// the driver after the stack is made; it polls only after that).
    ///
    /// # Errors
    /// `BadArgument` for an address that is not unicast; the stack keeps
    /// the one it had.
    pub fn set_mac(&mut self, mac: [u8; 6]) -> Result<(), SocketError> {
        let mac = EthernetAddress(mac);
        if !mac.is_unicast() {
            return Err(SocketError::BadArgument);
        }
        self.interface
            .set_hardware_addr(HardwareAddress::Ethernet(mac));
        Ok(())
    }

    /// Takes a frame that arrived; answers false if it was dropped (a
    /// length no Ethernet frame has, or the queue of frames full).
    pub fn receive_frame(&mut self, frame: &[u8]) -> bool {
        self.device.arrived(frame)
    }

    /// Moves the stack's clock to `now_ms` (never back) without running it: the time a
    /// request is served at (a listener's last `accept`, a connection's start).
    pub fn advance_clock(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// Runs the stack at time `now_ms`: takes in the frames that arrived,
    /// sends what is ready, and keeps the socket table. Answers how many
    /// milliseconds may pass before the next poll (`None`: until a frame
    /// arrives or a request comes).
    pub fn poll(&mut self, now_ms: u64) -> Option<u64> {
        self.now_ms = self.now_ms.max(now_ms);
        let now = instant(self.now_ms);
        for _ in 0..POLL_ROUNDS {
            let sent = self.device.sent();
            // One frame at a time, so that a listener that took a
            // connection listens again before the next one's SYN.
            while self.device.has_received() {
                self.interface
                    .poll_ingress_single(now, &mut self.device, &mut self.sockets);
                self.keep_table();
            }
            self.interface
                .poll_egress(now, &mut self.device, &mut self.sockets);
            self.take_dhcp_event();
            self.keep_table();
            if self.device.sent() == sent && !self.device.has_received() {
                break;
            }
        }
        self.interface
            .poll_delay(now, &self.sockets)
            .map(|delay| delay.total_millis())
    }

    /// The address, prefix, gateway and how they were got.
    pub fn configuration(&self) -> Configuration {
        self.configuration
    }

    /// The link.
    pub fn link(&self) -> &L {
        &self.device.link
    }

    /// The link, to change.
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.device.link
    }

    /// Slots in use (sockets held by clients, connections waiting for
    /// `accept`, connections finishing their close).
    pub fn sockets_in_use(&self) -> usize {
        self.table.count()
    }

    /// Frames dropped on arrival.
    pub fn dropped_frames(&self) -> u64 {
        self.device.dropped()
    }

    fn take_dhcp_event(&mut self) {
        let Some(handle) = self.dhcp else {
            return;
        };
        let event = match self.sockets.get_mut::<dhcpv4::Socket>(handle).poll() {
            None => return,
            Some(dhcpv4::Event::Configured(config)) => Some((config.address, config.router)),
            Some(dhcpv4::Event::Deconfigured) => None,
        };
        self.configuration = match event {
            Some((cidr, router)) => Configuration {
                address: Ipv4(cidr.address().octets()),
                prefix: cidr.prefix_len(),
                gateway: Ipv4(router.map_or([0; 4], |router| router.octets())),
                dhcp: Dhcp::Bound,
            },
            None => Configuration {
                address: Ipv4::default(),
                prefix: 0,
                gateway: Ipv4::default(),
                dhcp: Dhcp::Discovering,
            },
        };
        configure(&mut self.interface, &self.configuration);
    }

    /// A local port no socket of the table uses, from the ephemeral range.
    pub(crate) fn free_port(&mut self) -> Option<u16> {
        let span = usize::from(EPHEMERAL_PORTS.end() - EPHEMERAL_PORTS.start()) + 1;
        for _ in 0..span {
            let port = self.next_port;
            self.next_port = if port == *EPHEMERAL_PORTS.end() {
                *EPHEMERAL_PORTS.start()
            } else {
                port + 1
            };
            let used = self.table.port_used(port, |kind| match kind {
                Kind::Listener { port, .. } | Kind::Datagram { port } => Some(*port),
                Kind::Connection(connection) => Some(connection.port),
                Kind::Closing { port, .. } => Some(*port),
                Kind::Echo { .. } => None,
            });
            if !used {
                return Some(port);
            }
        }
        None
    }

    /// A new TCP socket with its buffers and timeouts.
    pub(crate) fn new_tcp() -> tcp::Socket<'static> {
        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; TCP_BUFFER_BYTES]),
            tcp::SocketBuffer::new(vec![0; TCP_BUFFER_BYTES]),
        );
        socket.set_timeout(Some(Duration::from_millis(ACK_TIMEOUT_MS)));
        socket
    }

    /// A TCP socket listening on `port`, added to the set.
    pub(crate) fn new_listener(&mut self, port: u16) -> Result<SocketHandle, SocketError> {
        let mut socket = Self::new_tcp();
        socket.listen(port).map_err(|_| SocketError::BadArgument)?;
        Ok(self.sockets.add(socket))
    }
}

/// Gives the interface the address and default route of `configuration`
/// (none while DHCP is discovering).
fn configure(interface: &mut Interface, configuration: &Configuration) {
    let bound = configuration.dhcp != Dhcp::Discovering;
    interface.update_ip_addrs(|addresses| {
        addresses.clear();
        if bound {
            let cidr = Ipv4Cidr::new(
                Ipv4Address::from(configuration.address.0),
                configuration.prefix,
            );
            let _ = addresses.push(IpCidr::Ipv4(cidr));
        }
    });
    let routes = interface.routes_mut();
    routes.remove_default_ipv4_route();
    if bound && configuration.gateway != Ipv4::default() {
        let _ = routes.add_default_ipv4_route(Ipv4Address::from(configuration.gateway.0));
    }
}
