//! The TCP/IP server's real `.wasm` against a `net` driver played by the
//! test: it asks for the link, keeps one `receive_lent` out at all times
//! (lending a DMA buffer the test writes the frames into; with a driver
//! that takes no loan, plain `receive` calls), gets
//! its address from a DHCP server answering as QEMU's user network does,
//! answers ARP and a ping, serves `sockets` requests while its `receive`
//! waits, and carries TCP both ways to a peer (the stack's core on the
//! host) within the default fuel of an event.

#[path = "../../../modules/netstack/tests/common/frames.rs"]
mod frames;

use cella_abi::ErrorCode;
use cella_device_tests::{TestSandbox, log_messages, render_log, replies_to, start};
use cella_interfaces::net::{self, Frames, Info, Lent, NetError, Sent};
use cella_interfaces::sockets::{self, Dhcp, Ipv4, SocketError};
use cella_interfaces::split_request;
use cella_interfaces::wire::{self, Wire, Writer};
use cella_netstack::{Addressing, Link, Settings, Stack};
use cella_wasm_host::{Event, Grant, Limits, Loan, Outgoing, Platform, SimulatedPlatform};
use frames::{
    ACK, ClientMessage, DISCOVER, OFFER, OFFERED, REQUEST, SERVER, SERVER_MAC, arp_request,
    dhcp_answer, dhcp_message, echo_request,
};

/// The endpoint id the grant gives `net`.
const NET: u64 = 9;
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// How the driver the test plays refuses a `receive_lent`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// It takes the buffer.
    None,
    /// It answers `NoLoan` (a driver that takes no lent buffer).
    NoLoan,
    /// The call fails `Denied` as a whole (the kernel lends no buffer to a
    /// native process).
    Denied,
}

/// The module and the driver the test plays.
struct Driver {
    sandbox: TestSandbox,
    platform: SimulatedPlatform,
    /// The `receive` call waiting for frames.
    receive: Option<u32>,
    /// The buffer lent with it (a `receive_lent`).
    receive_loan: Option<Loan>,
    /// How `receive_lent` calls are refused, if they are.
    refuse_loans: Refusal,
    /// The `info` call not yet answered.
    info: Option<u32>,
    /// Frames the module sent, not yet looked at.
    sent: Vec<Vec<u8>>,
    /// Replies to the test's socket requests, by request id.
    replies: Vec<Outgoing>,
    /// The most fuel one event used.
    most_fuel: u64,
    /// Whether `send` calls are answered `Busy` (the transmit queue full).
    busy: bool,
    now_ms: u64,
}

impl Driver {
    fn start() -> Driver {
        let platform = SimulatedPlatform::new();
        let grant = Grant::new().endpoint("net", NET).timers(1).dma_bytes(32768);
        let sandbox = start("cella-netstack", &grant, &platform);
        let mut driver = Driver {
            sandbox,
            platform,
            receive: None,
            receive_loan: None,
            refuse_loans: Refusal::None,
            info: None,
            sent: Vec::new(),
            replies: Vec::new(),
            most_fuel: 0,
            busy: false,
            now_ms: 0,
        };
        driver.take_calls();
        driver
    }

    /// Delivers `event`, then answers every `send` call (taking its frame)
    /// and notes the `info` and `receive` calls made.
    fn deliver(&mut self, event: Event<'_>) {
        let delivered = self.sandbox.deliver(event);
        assert!(
            delivered.is_ok(),
            "the module faulted\nlog:\n{}",
            render_log(&self.platform.log_lines())
        );
        self.most_fuel = self.most_fuel.max(self.sandbox.counters().last_event_fuel);
        self.take_calls();
    }

    fn take_calls(&mut self) {
        let mut sends = Vec::new();
        let mut refused_loans = Vec::new();
        for outgoing in self.sandbox.outbox().drain() {
            match outgoing {
                Outgoing::Call {
                    endpoint,
                    call,
                    message,
                    loan,
                    ..
                } => {
                    assert_eq!(endpoint, NET);
                    let (name, _) = split_request(&message);
                    match name {
                        b"info" => self.info = Some(call),
                        b"receive" | b"receive_lent" => {
                            assert_eq!(self.receive, None, "a second receive while one waits");
                            assert_eq!(net::idempotent(&message), Some(true));
                            let lent = name == b"receive_lent";
                            assert_eq!(lent, loan.is_some(), "a receive_lent lends a buffer");
                            if let Some(loan) = loan {
                                assert!(loan.writable && loan.size >= 16384, "{loan:?}");
                            }
                            if lent && self.refuse_loans == Refusal::NoLoan {
                                let answer: Result<Lent, NetError> = Err(NetError::NoLoan);
                                let mut reply = [0u8; 16];
                                let length = wire::encode(&answer, &mut reply).unwrap();
                                refused_loans.push((call, Ok(reply[..length].to_vec())));
                                continue;
                            }
                            if lent && self.refuse_loans == Refusal::Denied {
                                refused_loans.push((call, Err(ErrorCode::Denied)));
                                continue;
                            }
                            self.receive = Some(call);
                            self.receive_loan = loan;
                        }
                        b"send" => sends.push((call, message)),
                        _ => panic!("a call net does not serve"),
                    }
                }
                reply @ Outgoing::Reply { .. } => self.replies.push(reply),
                Outgoing::Send { .. } => panic!("the module sends no one-way messages"),
            }
        }
        for (call, reply) in refused_loans {
            self.deliver(Event::Reply {
                call,
                outcome: reply.as_deref().map_err(|&error| error),
            });
        }
        for (call, message) in sends {
            let (_, mut arguments) = split_request(&message);
            let frame = <&[u8]>::decode(&mut arguments).expect("a frame");
            self.sent.push(frame.to_vec());
            let answer: Result<Sent, NetError> = if self.busy {
                Err(NetError::Busy)
            } else {
                Ok(Sent {
                    length: frame.len() as u16,
                })
            };
            let mut reply = [0u8; 16];
            let length = wire::encode(&answer, &mut reply).unwrap();
            self.deliver(Event::Reply {
                call,
                outcome: Ok(&reply[..length]),
            });
        }
    }

    /// Answers the waiting `receive` with `frames`, as many whole ones an
    /// answer as fit one message (as the driver does), the rest in the
    /// answers to the `receive`s that follow.
    fn arrive(&mut self, frames: &[Vec<u8>]) {
        let mut left = frames;
        loop {
            let call = self.receive.take().expect("a receive waits");
            const PACKED_BYTES: usize = 4000;
            let mut packed = [0u8; PACKED_BYTES];
            let mut writer = Writer::new(&mut packed);
            let mut count = 0;
            while let Some(frame) = left.first() {
                // Each frame travels as its length (2 bytes) and its bytes.
                if writer.length() + 2 + frame.len() > PACKED_BYTES {
                    break;
                }
                Wire::encode(&&frame[..], &mut writer).unwrap();
                count += 1;
                left = &left[1..];
            }
            assert!(count > 0 || frames.is_empty(), "a frame fits an answer");
            let packed_length = writer.length();
            let mut reply = [0u8; 4096];
            let length = match self.receive_loan.take() {
                // The frames go into the lent buffer, the count into the answer.
                Some(loan) => {
                    assert!(packed_length as u64 <= loan.size);
                    self.platform
                        .clone()
                        .dma_write(loan.device_address, &packed[..packed_length]);
                    let answer: Result<Lent, NetError> = Ok(Lent {
                        count,
                        dropped: 0,
                        bytes: packed_length as u32,
                    });
                    wire::encode(&answer, &mut reply).unwrap()
                }
                None => {
                    let answer: Result<Frames<'_>, NetError> = Ok(Frames {
                        count,
                        dropped: 0,
                        frames: &packed[..packed_length],
                    });
                    wire::encode(&answer, &mut reply).unwrap()
                }
            };
            self.deliver(Event::Reply {
                call,
                outcome: Ok(&reply[..length]),
            });
            assert!(self.receive.is_some(), "the next receive went out");
            if left.is_empty() {
                return;
            }
        }
    }

    /// Lets `milliseconds` pass, firing the timer.
    fn wait(&mut self, milliseconds: u64) {
        self.now_ms += milliseconds;
        self.platform.set_now(self.now_ms * 1_000_000);
        self.deliver(Event::Timer);
    }

    /// Sends a `sockets` request and answers its reply's bytes.
    fn request(&mut self, id: u32, bytes: &[u8]) -> Vec<u8> {
        self.deliver(Event::Message { request: id, bytes });
        let replies = replies_to(&std::mem::take(&mut self.replies), id);
        assert_eq!(replies.len(), 1, "one reply to request {id}");
        replies.into_iter().next().unwrap()
    }

    /// The DHCP messages among the frames sent, taken out.
    fn dhcp_sent(&mut self) -> Vec<ClientMessage> {
        std::mem::take(&mut self.sent)
            .iter()
            .filter_map(|frame| dhcp_message(frame))
            .collect()
    }
}

/// The module, bound to 10.0.2.15 by the scripted DHCP server.
fn bound_driver() -> Driver {
    bound_driver_refusing_loans(Refusal::None)
}

/// As [`bound_driver`], with `receive_lent` calls refused as `refuse_loans`
/// says.
fn bound_driver_refusing_loans(refuse_loans: Refusal) -> Driver {
    let mut driver = Driver::start();
    driver.refuse_loans = refuse_loans;
    let info_call = driver.info.take().expect("init asks net for the link");
    assert_eq!(driver.receive, None, "no receive before the link is known");
    let info: Result<Info, NetError> = Ok(Info {
        mac: MAC,
        mtu: 1500,
        link_up: true,
    });
    let mut reply = [0u8; 32];
    let length = wire::encode(&info, &mut reply).unwrap();
    driver.deliver(Event::Reply {
        call: info_call,
        outcome: Ok(&reply[..length]),
    });
    assert!(
        driver.receive.is_some(),
        "a receive waits once the link is known"
    );
    assert_eq!(
        driver.receive_loan.is_some(),
        refuse_loans == Refusal::None,
        "the receive lends a buffer unless the driver refuses loans"
    );

    let mut answered = Vec::new();
    for _ in 0..100 {
        let mut answers = Vec::new();
        for message in driver.dhcp_sent() {
            assert_eq!(message.client, MAC);
            assert_eq!(message.source, MAC);
            answered.push(message.kind);
            match message.kind {
                DISCOVER => answers.push(dhcp_answer(OFFER, message.xid, MAC)),
                REQUEST => answers.push(dhcp_answer(ACK, message.xid, MAC)),
                _ => {}
            }
        }
        if !answers.is_empty() {
            driver.arrive(&answers);
        }
        if answered.contains(&REQUEST) {
            break;
        }
        driver.wait(100);
    }
    assert_eq!(answered, vec![DISCOVER, REQUEST]);
    driver
}

#[test]
fn the_module_gets_its_address_by_dhcp_and_answers_arp_and_ping() {
    let mut driver = bound_driver();
    let log = log_messages(&driver.platform);
    assert!(
        log.iter()
            .any(|line| line == "serving sockets and UDP echo on port 7; asking net for the link")
    );
    assert!(
        log.iter()
            .any(|line| line == "address: 10.0.2.15/24, gateway 10.0.2.2, by DHCP"),
        "{}",
        render_log(&driver.platform.log_lines())
    );
    let mut request = [0u8; 64];
    let length = sockets::address::request(&mut request).unwrap();
    let reply = driver.request(1, &request[..length]);
    let configuration = sockets::address::reply(&reply).unwrap().unwrap();
    assert_eq!(configuration.address, Ipv4(OFFERED));
    assert_eq!(configuration.dhcp, Dhcp::Bound);

    driver.arrive(&[
        arp_request(OFFERED),
        echo_request(MAC, OFFERED, b"from the host"),
    ]);
    let sent = std::mem::take(&mut driver.sent);
    assert_eq!(sent.len(), 2, "an ARP reply and an echo reply");
    assert_eq!(&sent[0][12..14], &[0x08, 0x06]);
    assert_eq!(&sent[0][20..22], &[0, 2]);
    assert_eq!(&sent[0][28..32], &OFFERED);
    assert_eq!(&sent[1][0..6], &SERVER_MAC);
    assert_eq!(&sent[1][30..34], &SERVER);
    assert_eq!(sent[1][34], 0, "an echo reply");
    assert_eq!(&sent[1][42..], b"from the host");
    println!("most fuel of one event: {}", driver.most_fuel);
}

#[test]
fn socket_requests_are_answered_while_the_receive_waits_and_garbage_is_refused() {
    let mut driver = bound_driver();
    assert!(driver.receive.is_some());
    let mut request = [0u8; 64];
    let length = sockets::listen::request(&mut request, 80).unwrap();
    let reply = driver.request(1, &request[..length]);
    let listener = sockets::listen::reply(&reply).unwrap().unwrap();
    let length = sockets::accept::request(&mut request, listener).unwrap();
    let reply = driver.request(2, &request[..length]);
    assert_eq!(sockets::accept::reply(&reply).unwrap(), Ok(None));
    let stale = sockets::Handle {
        slot: listener.slot,
        generation: listener.generation.wrapping_add(1),
    };
    let length = sockets::state::request(&mut request, stale).unwrap();
    let reply = driver.request(3, &request[..length]);
    assert_eq!(
        sockets::state::reply(&reply).unwrap(),
        Err(SocketError::Stale)
    );
    // Garbage is answered empty, and the module goes on.
    assert_eq!(driver.request(4, b"listen\0\x50"), Vec::<u8>::new());
    assert_eq!(driver.request(5, &[0xff; 300]), Vec::<u8>::new());
    let length = sockets::close::request(&mut request, listener).unwrap();
    let reply = driver.request(6, &request[..length]);
    assert_eq!(sockets::close::reply(&reply).unwrap(), Ok(()));
    // A receive answered with no frames (its wait ran out) is asked again.
    driver.arrive(&[]);
    assert!(driver.receive.is_some());
}

/// The peer's side of the wire: the frames it sent.
#[derive(Default)]
struct PeerLink {
    frames: Vec<Vec<u8>>,
}

impl Link for PeerLink {
    fn ready(&self) -> bool {
        self.frames.len() < 64
    }

    fn send(&mut self, frame: &[u8]) {
        self.frames.push(frame.to_vec());
    }
}

const PEER: Ipv4 = Ipv4([10, 0, 2, 3]);

/// FNV-1a of `bytes`, continuing from `hash`.
fn fnv1a(hash: u32, bytes: &[u8]) -> u32 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

#[test]
fn tcp_goes_both_ways_between_the_module_and_a_peer() {
    use sockets::Server as _;
    const LENGTH: usize = 256 * 1024;
    let mut driver = bound_driver();
    let settings = Settings {
        mac: [0x52, 0x54, 0, 0, 0, 3],
        epoch: 1,
        addressing: Addressing::Static {
            address: PEER,
            prefix: 24,
            gateway: None,
        },
    };
    let mut peer = Stack::new(PeerLink::default(), settings, 0).unwrap();
    let listener = peer.listen(7000).unwrap();
    let mut request = vec![0u8; 4096];
    let length = sockets::connect::request(&mut request, PEER, 7000).unwrap();
    let reply = driver.request(1, &request[..length]);
    let socket = sockets::connect::reply(&reply).unwrap().unwrap();

    let outgoing: Vec<u8> = (0..LENGTH).map(|index| (index * 7 % 251) as u8).collect();
    let incoming: Vec<u8> = (0..LENGTH).map(|index| (index * 13 % 241) as u8).collect();
    let (mut module_sent, mut peer_sent, mut module_received, mut peer_received) = (0, 0, 0, 0);
    let (mut module_hash, mut peer_hash) = (0x811c_9dc5u32, 0x811c_9dc5u32);
    let mut accepted = None;
    let mut id = 10;
    for _ in 0..100_000 {
        if module_received == LENGTH && peer_received == LENGTH {
            break;
        }
        // A millisecond passes: the peer polls, the frames cross, the
        // module's timer fires.
        driver.wait(1);
        peer.poll(driver.now_ms);
        let to_module = std::mem::take(&mut peer.link_mut().frames);
        if !to_module.is_empty() {
            driver.arrive(&to_module);
        }
        for frame in std::mem::take(&mut driver.sent) {
            peer.receive_frame(&frame);
        }
        if accepted.is_none() {
            accepted = peer.accept(listener).unwrap();
        }
        let Some(server) = accepted else { continue };
        id += 1;
        if module_sent < LENGTH {
            let end = (module_sent + 3584).min(LENGTH);
            let length =
                sockets::send::request(&mut request, socket, &outgoing[module_sent..end]).unwrap();
            let reply = driver.request(id, &request[..length]);
            module_sent += sockets::send::reply(&reply).unwrap().unwrap().length as usize;
        }
        id += 1;
        let length = sockets::receive::request(&mut request, socket, 3584).unwrap();
        let reply = driver.request(id, &request[..length]);
        let bytes = sockets::receive::reply(&reply)
            .unwrap()
            .unwrap()
            .bytes
            .to_vec();
        module_received += bytes.len();
        module_hash = fnv1a(module_hash, &bytes);
        if peer_sent < LENGTH {
            let end = (peer_sent + 3584).min(LENGTH);
            peer_sent += peer.send(server, &incoming[peer_sent..end]).unwrap().length as usize;
        }
        let bytes = peer.receive(server, 3584).unwrap().bytes.to_vec();
        peer_received += bytes.len();
        peer_hash = fnv1a(peer_hash, &bytes);
    }
    assert_eq!(module_received, LENGTH);
    assert_eq!(peer_received, LENGTH);
    assert_eq!(module_hash, fnv1a(0x811c_9dc5, &incoming));
    assert_eq!(peer_hash, fnv1a(0x811c_9dc5, &outgoing));
    let limit = Limits::default().fuel_per_event;
    println!(
        "256 KiB each way in {} simulated ms; most fuel of one event {} of {limit}; {} pages of memory",
        driver.now_ms,
        driver.most_fuel,
        driver.sandbox.memory_pages()
    );
    assert!(
        driver.most_fuel < limit / 2,
        "an event used {} fuel",
        driver.most_fuel
    );
}

#[test]
fn failed_net_calls_are_made_again_and_refused_frames_are_counted() {
    let mut driver = Driver::start();
    // The driver is not there yet: `info` fails, and is asked again 500 ms on.
    let call = driver.info.take().expect("init asks net for the link");
    driver.deliver(Event::Reply {
        call,
        outcome: Err(ErrorCode::Closed),
    });
    assert_eq!(driver.info, None);
    driver.wait(400);
    assert_eq!(driver.info, None, "not before 500 ms");
    driver.wait(100);
    let call = driver.info.take().expect("info asked again");
    let info: Result<Info, NetError> = Ok(Info {
        mac: MAC,
        mtu: 1500,
        link_up: true,
    });
    let mut reply = [0u8; 32];
    let length = wire::encode(&info, &mut reply).unwrap();
    driver.deliver(Event::Reply {
        call,
        outcome: Ok(&reply[..length]),
    });
    // The `receive` fails (the driver restarted): asked again 500 ms on.
    let call = driver.receive.take().expect("a receive waits");
    driver.deliver(Event::Reply {
        call,
        outcome: Err(ErrorCode::Closed),
    });
    assert_eq!(driver.receive, None);
    driver.wait(499);
    assert_eq!(driver.receive, None, "not before 500 ms");
    driver.wait(1);
    assert!(driver.receive.is_some(), "receive asked again");
    // Frames the driver refuses are lost, counted and logged.
    driver.busy = true;
    driver.sent.clear();
    driver.arrive(&[arp_request(OFFERED)]);
    for round in 1..=40 {
        driver.wait(500);
        if round % 10 == 0 {
            // The receive's wait runs out, as the driver's does.
            driver.arrive(&[]);
        }
    }
    let refused = driver.sent.len();
    assert!(refused > 0, "DHCP kept asking");
    let warnings: Vec<String> = log_messages(&driver.platform)
        .into_iter()
        .filter(|line| line.starts_with("net did not take"))
        .collect();
    assert!(!warnings.is_empty());
    let last = warnings.last().unwrap();
    assert!(
        last.ends_with(&format!("({refused} in all)")),
        "{last}, after {refused} refused"
    );
}

/// A driver that answers `receive_lent` with `NoLoan`, or a call that fails
/// `Denied` as a whole, gets plain `receive` calls from then on, and the
/// frames in their answers reach the stack.
#[test]
fn a_driver_that_takes_no_loan_gets_plain_receives() {
    for (refusal, line) in [
        (
            Refusal::NoLoan,
            "the driver takes no lent buffer: frames come in answers from now on",
        ),
        (
            Refusal::Denied,
            "the driver refused the lent buffer: frames come in answers from now on",
        ),
    ] {
        let driver = bound_driver_refusing_loans(refusal);
        assert!(driver.receive.is_some() && driver.receive_loan.is_none());
        let log = log_messages(&driver.platform);
        assert!(
            log.iter().any(|logged| logged == line),
            "{}",
            render_log(&driver.platform.log_lines())
        );
        assert!(
            log.iter()
                .any(|logged| logged == "address: 10.0.2.15/24, gateway 10.0.2.2, by DHCP")
        );
    }
}
