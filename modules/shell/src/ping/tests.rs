//! `ping` against the in-memory `sockets` server of the network commands'
//! tests: its line read, its lines and summary written, answers matched to
//! their requests, losses counted and the socket closed in every case.

extern crate std;

use super::*;
use crate::network::tests::servers::{Network, Servers, network, servers};
use cella_sdk::interfaces::sockets::{Configuration, Dhcp, SocketError};
use std::string::String;
use std::vec::Vec;

const TOKEN: u64 = 0x1234_5678_9abc_def0;

/// Runs `line` to its end, stepping every millisecond from 1 s: the
/// result, what it printed and how long it took in milliseconds.
fn run(servers: &Servers, line: &str) -> (Result<(), Failure>, String, u64) {
    let start_us = 1_000_000;
    let mut now_us = start_us;
    let mut ping = match Ping::start(servers, line, now_us, TOKEN) {
        Ok(ping) => ping,
        Err(failure) => return (Err(failure), String::new(), 0),
    };
    let mut printed = Vec::new();
    for _ in 0..1_000_000 {
        now_us += STEP_US;
        if let Step::Finished(result) = ping.step(servers, now_us, &mut |bytes| {
            printed.extend_from_slice(bytes)
        }) {
            let took = (now_us - start_us) / 1000;
            return (result, String::from_utf8(printed).unwrap(), took);
        }
    }
    panic!("the ping never finished");
}

fn silent(network: &mut Network) {
    network.echo_peer = |_| false;
}

#[test]
fn lines_are_read_with_their_count_and_target() {
    let icmp = |count| Request {
        address: Ipv4([10, 0, 2, 2]),
        transport: Transport::Icmp,
        count,
    };
    assert_eq!(parse("ping 10.0.2.2"), Ok(icmp(4)));
    assert_eq!(parse("ping -c 1 10.0.2.2"), Ok(icmp(1)));
    assert_eq!(parse("ping 10.0.2.2 -c 100"), Ok(icmp(100)));
    assert_eq!(
        parse("ping -c 2 10.0.2.2:5007"),
        Ok(Request {
            address: Ipv4([10, 0, 2, 2]),
            transport: Transport::Udp(5007),
            count: 2,
        })
    );
    for (line, failure) in [
        ("ping", Failure::Usage(USAGE)),
        ("ping 10.0.2.2 10.0.2.3", Failure::Usage(USAGE)),
        ("ping -c", Failure::Usage(USAGE)),
        ("ping -c 2 -c 3 10.0.2.2", Failure::Usage(USAGE)),
        ("ping -x 10.0.2.2", Failure::Usage(USAGE)),
        ("pong 10.0.2.2", Failure::Usage(USAGE)),
        ("ping -c 0 10.0.2.2", Failure::BadCount),
        ("ping -c 101 10.0.2.2", Failure::BadCount),
        ("ping -c four 10.0.2.2", Failure::BadCount),
        ("ping -c 0004 10.0.2.2", Failure::BadCount),
        ("ping 10.0.2", Failure::BadPingTarget),
        ("ping 10.0.2.256", Failure::BadPingTarget),
        ("ping example.org", Failure::BadPingTarget),
        ("ping 10.0.2.2:", Failure::BadPingTarget),
        ("ping 10.0.2.2:0", Failure::BadPingTarget),
        ("ping 10.0.2.2:65536", Failure::BadPingTarget),
    ] {
        assert_eq!(parse(line), Err(failure), "{line}");
    }
}

#[test]
fn times_and_summaries_read_as_a_person_expects() {
    let shown = |us| std::format!("{}", Milliseconds(us));
    assert_eq!(shown(3_200), "3.2");
    assert_eq!(shown(3_201), "3.3");
    assert_eq!(shown(0), "0.0");
    assert_eq!(shown(12_000), "12.0");
    let mut summary = Summary {
        sent: 4,
        ..Summary::default()
    };
    assert_eq!(std::format!("{summary}"), "4 sent, 0 received, 100% loss");
    for time_us in [1_000, 3_000, 2_000] {
        summary.record(time_us);
    }
    assert_eq!(
        std::format!("{summary}"),
        "4 sent, 3 received, 25% loss; time min/avg/max 1.0/2.0/3.0 ms"
    );
    assert_eq!(
        std::format!("{}", Failure::BadCount),
        "-c takes a count from 1 to 100"
    );
}

#[test]
fn every_answered_request_is_a_line_and_the_summary_counts_them() {
    let servers = servers(network(b""));
    let (result, printed, took) = run(&servers, "ping 10.0.2.2");
    assert_eq!(result, Ok(()));
    assert_eq!(
        printed,
        "ping 10.0.2.2: 4 ICMP echo requests of 56 bytes, 1000 ms apart\r\n\
         64 bytes from 10.0.2.2: seq 1 time 1.0 ms\r\n\
         64 bytes from 10.0.2.2: seq 2 time 1.0 ms\r\n\
         64 bytes from 10.0.2.2: seq 3 time 1.0 ms\r\n\
         64 bytes from 10.0.2.2: seq 4 time 1.0 ms\r\n\
         10.0.2.2: 4 sent, 4 received, 0% loss; time min/avg/max 1.0/1.0/1.0 ms\r\n"
    );
    // One request a second; the last one's answer ends it.
    assert_eq!(took, 3_001);
    let network = servers.network.borrow();
    let sequences: Vec<u16> = network.echoes_sent.iter().map(|sent| sent.2).collect();
    assert_eq!(sequences, [1, 2, 3, 4]);
    for (address, port, sequence, bytes) in &network.echoes_sent {
        assert_eq!((*address, *port), (Ipv4([10, 0, 2, 2]), 0));
        assert_eq!(bytes[..], payload(*sequence, TOKEN));
    }
    assert!(network.open.is_empty(), "the socket is closed");
}

#[test]
fn unanswered_requests_are_reported_and_counted_as_loss() {
    let mut lossy = network(b"");
    lossy.echo_peer = |sequence| sequence % 2 == 0;
    let lossy = servers(lossy);
    let (result, printed, took) = run(&lossy, "ping -c 3 10.0.2.2");
    assert_eq!(result, Ok(()));
    assert_eq!(
        printed,
        "ping 10.0.2.2: 3 ICMP echo requests of 56 bytes, 1000 ms apart\r\n\
         ping: 10.0.2.2: no answer in 1000 ms (seq 1)\r\n\
         64 bytes from 10.0.2.2: seq 2 time 1.0 ms\r\n\
         ping: 10.0.2.2: no answer in 1000 ms (seq 3)\r\n\
         10.0.2.2: 3 sent, 1 received, 66% loss; time min/avg/max 1.0/1.0/1.0 ms\r\n"
    );
    assert_eq!(took, 3_000);
    let mut nobody = network(b"");
    silent(&mut nobody);
    let quiet = servers(nobody);
    let (result, printed, _) = run(&quiet, "ping -c 2 10.0.2.99");
    assert_eq!(result, Ok(()));
    assert!(
        printed.ends_with("10.0.2.99: 2 sent, 0 received, 100% loss\r\n"),
        "{printed}"
    );
    assert!(quiet.network.borrow().open.is_empty());
}

#[test]
fn answers_of_other_requests_or_with_other_bytes_are_not_counted() {
    let mut tampered = network(b"");
    silent(&mut tampered);
    let servers = servers(tampered);
    let mut ping = Ping::start(&servers, "ping -c 1 10.0.2.2", 0, TOKEN).unwrap();
    {
        let mut network = servers.network.borrow_mut();
        let right = payload(1, TOKEN).to_vec();
        let mut other_bytes = right.clone();
        other_bytes[20] ^= 1;
        network.echo_answers.extend([
            (Ipv4([10, 0, 2, 3]), 0, 1, right.clone()),
            (Ipv4([10, 0, 2, 2]), 0, 2, payload(2, TOKEN).to_vec()),
            (Ipv4([10, 0, 2, 2]), 0, 1, other_bytes),
            (Ipv4([10, 0, 2, 2]), 0, 1, payload(1, TOKEN + 1).to_vec()),
        ]);
    }
    let mut printed = Vec::new();
    let mut now_us = 0;
    while let Step::Pending = ping.step(&servers, now_us, &mut |bytes| {
        printed.extend_from_slice(bytes)
    }) {
        now_us += STEP_US;
    }
    let printed = String::from_utf8(printed).unwrap();
    assert!(
        printed.ends_with("10.0.2.2: 1 sent, 0 received, 100% loss\r\n"),
        "{printed}"
    );
    assert_eq!(ping.summary().received, 0);
}

#[test]
fn a_udp_ping_goes_to_the_echo_service_port() {
    let servers = servers(network(b""));
    let (result, printed, _) = run(&servers, "ping -c 2 10.0.2.2:7");
    assert_eq!(result, Ok(()));
    assert_eq!(
        printed,
        "ping 10.0.2.2:7: 2 UDP datagrams of 56 bytes, 1000 ms apart\r\n\
         56 bytes from 10.0.2.2:7: seq 1 time 1.0 ms\r\n\
         56 bytes from 10.0.2.2:7: seq 2 time 1.0 ms\r\n\
         10.0.2.2:7: 2 sent, 2 received, 0% loss; time min/avg/max 1.0/1.0/1.0 ms\r\n"
    );
    let network = servers.network.borrow();
    assert!(network.echoes_sent.iter().all(|sent| sent.1 == 7));
    assert!(network.open.is_empty());
}

#[test]
fn refusals_at_the_start_are_clear_and_leave_nothing_open() {
    let mut discovering = network(b"");
    discovering.configuration = Configuration {
        address: Ipv4::default(),
        prefix: 0,
        gateway: Ipv4::default(),
        dhcp: Dhcp::Discovering,
    };
    discovering.echo_refusal = Some(SocketError::NoAddress);
    let waiting = servers(discovering);
    let (result, _, _) = run(&waiting, "ping 10.0.2.2");
    let failure = result.unwrap_err();
    assert_eq!(failure, Failure::Socket(SocketError::NoAddress));
    assert_eq!(
        std::format!("{failure}"),
        "no address yet (DHCP has not answered)"
    );
    assert!(waiting.network.borrow().open.is_empty());
    let fresh = servers(network(b""));
    let (result, _, _) = run(&fresh, "ping 10.0.2.2:99999");
    assert_eq!(result, Err(Failure::BadPingTarget));
    assert_eq!(fresh.network.borrow().next_slot, 0, "nothing was opened");
}

#[test]
fn a_hundred_pings_in_a_row_each_answer_and_leave_no_socket_open() {
    let servers = servers(network(b""));
    for round in 0..100 {
        let (result, printed, _) = run(&servers, "ping -c 1 10.0.2.2");
        assert_eq!(result, Ok(()), "round {round}");
        assert!(
            printed.starts_with("ping 10.0.2.2: 1 ICMP echo request of 56 bytes"),
            "{printed}"
        );
        assert!(printed.contains("1 sent, 1 received, 0% loss"), "{printed}");
        assert!(servers.network.borrow().open.is_empty(), "round {round}");
    }
    assert_eq!(servers.network.borrow().next_slot, 100);
}
