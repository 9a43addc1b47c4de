//! The network commands against in-memory servers that speak the real
//! `net` and `sockets` interfaces (their `serve` decodes every request the
//! commands send), with a scripted peer behind the one connection.

extern crate std;

pub(crate) mod servers;

use super::*;
use cella_sdk::interfaces::block::checksum;
use cella_sdk::interfaces::net::Info;
use cella_sdk::interfaces::sockets::{Configuration, Dhcp};
use servers::{Ending, Servers, network, servers};
use std::string::String;
use std::vec::Vec;

/// Runs `line` to its end, stepping every 2 simulated milliseconds: the
/// result, what it printed and the steps it took.
fn get(servers: &Servers, line: &str) -> (Result<(), Failure>, String, u64) {
    let mut printed = Vec::new();
    let mut now = 1_000;
    let mut get = match Get::start(servers, line, now) {
        Ok(get) => get,
        Err(failure) => return (Err(failure), String::new(), 0),
    };
    for step in 1..=100_000 {
        now += 2;
        if let Step::Finished(result) =
            get.step(servers, now, &mut |bytes| printed.extend_from_slice(bytes))
        {
            return (result, String::from_utf8(printed).unwrap(), step);
        }
    }
    panic!("the get never finished");
}

fn http(status: &str, body: &[u8]) -> Vec<u8> {
    let mut answer = std::format!(
        "{status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

fn body(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index * 7 % 251) as u8).collect()
}

#[test]
fn ifconfig_prints_the_link_and_the_address() {
    let servers = servers(network(b""));
    let mut printed = Vec::new();
    ifconfig(&servers, &mut |bytes| printed.extend_from_slice(bytes));
    assert_eq!(
        String::from_utf8(printed).unwrap(),
        "link: 52:54:00:12:34:56, MTU 1500, up\r\n\
         address: 10.0.2.15/24, gateway 10.0.2.2, by DHCP\r\n"
    );
}

#[test]
fn ifconfig_says_down_discovering_and_which_server_is_missing() {
    let mut network = network(b"");
    network.info = Ok(Info {
        mac: [2, 0, 0, 0, 0, 0xab],
        mtu: 1400,
        link_up: false,
    });
    network.configuration = Configuration {
        address: Ipv4::default(),
        prefix: 0,
        gateway: Ipv4::default(),
        dhcp: Dhcp::Discovering,
    };
    let servers = servers(network);
    let mut printed = Vec::new();
    ifconfig(&servers, &mut |bytes| printed.extend_from_slice(bytes));
    assert_eq!(
        String::from_utf8(printed).unwrap(),
        "link: 02:00:00:00:00:ab, MTU 1400, down\r\n\
         address: no address yet (DHCP discovering)\r\n"
    );

    let mut servers = servers;
    servers.absent = std::vec![Server::Net, Server::Sockets];
    let mut printed = Vec::new();
    ifconfig(&servers, &mut |bytes| printed.extend_from_slice(bytes));
    assert_eq!(
        String::from_utf8(printed).unwrap(),
        "link: error: the network driver (`net`) is not running\r\n\
         address: error: the TCP/IP server (`sockets`) is not running\r\n"
    );
}

#[test]
fn get_sends_the_request_and_prints_the_status_the_size_and_the_checksum() {
    let body = body(5000);
    let servers = servers(network(&http("HTTP/1.0 200 OK", &body)));
    let (result, printed, steps) = get(&servers, "get 10.0.2.100:80 /files/five.bin");
    assert_eq!(result, Ok(()));
    assert_eq!(
        printed,
        std::format!(
            "HTTP/1.0 200 OK\r\nbody: 5000 bytes, FNV-1a {:#010x}\r\n",
            checksum(&body)
        )
    );
    let network = servers.network.borrow();
    assert_eq!(
        network.requests,
        b"GET /files/five.bin HTTP/1.0\r\nHost: 10.0.2.100:80\r\nConnection: close\r\n\r\n"
    );
    assert!(network.open.is_empty(), "the socket was not closed");
    // 3 polls connecting, the 67-byte request 10 bytes a step, then the answer.
    assert!(steps > 8, "{steps} steps");
}

#[test]
fn a_body_split_anywhere_and_an_empty_body_count_the_same() {
    let body = body(3);
    for chunk in [1, 2, 7, 64, 3584] {
        let mut network = network(&http("HTTP/1.1 404 Not Found", &body));
        network.chunk = chunk;
        let servers = servers(network);
        let (result, printed, _) = get(&servers, "get 10.0.2.100:80 /missing");
        assert_eq!(result, Ok(()));
        assert_eq!(
            printed,
            std::format!(
                "HTTP/1.1 404 Not Found\r\nbody: 3 bytes, FNV-1a {:#010x}\r\n",
                checksum(&body)
            ),
            "chunks of {chunk}"
        );
    }
    let servers = servers(network(&http("HTTP/1.0 204 No Content", b"")));
    let (result, printed, _) = get(&servers, "get 10.0.2.100:80 /");
    assert_eq!(result, Ok(()));
    assert_eq!(
        printed,
        "HTTP/1.0 204 No Content\r\nbody: 0 bytes, FNV-1a 0x811c9dc5\r\n"
    );
}

#[test]
fn a_refused_reset_or_silent_connection_is_a_clear_error_and_closed() {
    let answer = http("HTTP/1.0 200 OK", &body(9000));
    let silent = std::format!(
        "the answer did not end within 10 s ({} bytes arrived)",
        answer.len()
    );
    let cases: [(Option<(usize, SocketError)>, Ending, Failure, &str); 4] = [
        (
            Some((0, SocketError::Refused)),
            Ending::Close,
            Failure::Socket(SocketError::Refused),
            "the connection was refused",
        ),
        (
            Some((4000, SocketError::Reset)),
            Ending::Close,
            Failure::Socket(SocketError::Reset),
            "the connection was reset",
        ),
        (
            Some((0, SocketError::TimedOut)),
            Ending::Close,
            Failure::Socket(SocketError::TimedOut),
            "the connection timed out",
        ),
        (
            None,
            Ending::Silent,
            Failure::Deadline {
                received: answer.len() as u64,
            },
            &silent,
        ),
    ];
    for (fail_after, ending, failure, text) in cases {
        let mut network = network(&answer);
        network.fail_after = fail_after;
        network.ending = ending;
        let servers = servers(network);
        let (result, printed, _) = get(&servers, "get 10.0.2.100:80 /big");
        assert_eq!(result, Err(failure));
        assert_eq!(std::format!("{failure}"), text);
        assert_eq!(printed, "", "nothing printed for a failure");
        assert!(
            servers.network.borrow().open.is_empty(),
            "{text}: not closed"
        );
    }
    // A connection never established: the peer's address does not answer.
    let mut unanswered = network(&answer);
    unanswered.connecting_polls = u32::MAX;
    let unanswered = servers(unanswered);
    let (result, printed, steps) = get(&unanswered, "get 10.0.2.100:80 /big");
    assert_eq!(result, Err(Failure::Unanswered));
    assert_eq!(
        std::format!("{}", Failure::Unanswered),
        "no connection within 10 s (the address did not answer)"
    );
    assert_eq!(printed, "");
    assert_eq!(steps, GET_DEADLINE_MS / 2);
    assert!(unanswered.network.borrow().open.is_empty());

    let mut network = network(&answer);
    network.ending = Ending::Reset;
    let servers = servers(network);
    let (result, _, _) = get(&servers, "get 10.0.2.100:80 /big");
    assert_eq!(result, Err(Failure::Socket(SocketError::Reset)));
}

#[test]
fn answers_that_are_not_http_are_refused_with_the_reason() {
    let long_header = {
        let mut header = b"HTTP/1.0 200 OK\r\n".to_vec();
        header.extend(std::iter::repeat_n(b'x', HEADER_BYTES));
        header
    };
    let cases: [(&[u8], Failure); 5] = [
        (b"", Failure::NoAnswer),
        (b"SSH-2.0-OpenSSH\r\n\r\n", Failure::NotHttp),
        (b"HTT", Failure::NotHttp),
        (b"HTTP/1.0 200 OK\r\nContent-", Failure::HeaderCut),
        (&long_header, Failure::HeaderTooLong),
    ];
    for (answer, failure) in cases {
        let servers = servers(network(answer));
        let (result, printed, _) = get(&servers, "get 10.0.2.100:80 /");
        assert_eq!(
            result,
            Err(failure),
            "{:?}",
            String::from_utf8_lossy(answer)
        );
        assert_eq!(printed, "");
        assert!(servers.network.borrow().open.is_empty());
    }
}

#[test]
fn bad_lines_and_a_missing_address_open_nothing() {
    for target in [
        "10.0.2.100",
        "10.0.2.100:",
        "10.0.2.100:0",
        "10.0.2.100:65536",
        "10.0.2.100:80x",
        "10.0.2:80",
        "example.com:80",
        ":80",
        "10.0.2.100:+80",
    ] {
        let servers = servers(network(b""));
        let line = std::format!("get {target} /");
        assert_eq!(
            Get::start(&servers, &line, 0).err(),
            Some(Failure::BadTarget),
            "{target}"
        );
        assert!(servers.network.borrow().open.is_empty());
    }
    for line in [
        "get",
        "get 10.0.2.100:80",
        "get 10.0.2.100:80 index.html",
        "get 10.0.2.100:80 / extra",
    ] {
        let servers = servers(network(b""));
        assert!(
            matches!(Get::start(&servers, line, 0), Err(Failure::Usage(_))),
            "{line}"
        );
        assert_eq!(servers.network.borrow().next_slot, 0, "{line} connected");
    }
    let mut network = network(b"");
    network.connect = Err(SocketError::NoAddress);
    let servers = servers(network);
    let failure = Get::start(&servers, "get 10.0.2.100:80 /", 0)
        .err()
        .unwrap();
    assert_eq!(failure, Failure::Socket(SocketError::NoAddress));
    assert_eq!(
        std::format!("{failure}"),
        "no address yet (DHCP has not answered)"
    );
    let mut servers = servers;
    servers.absent = std::vec![Server::Sockets];
    let failure = Get::start(&servers, "get 10.0.2.100:80 /", 0)
        .err()
        .unwrap();
    assert_eq!(
        std::format!("{failure}"),
        "the TCP/IP server (`sockets`) is not running"
    );
}

#[test]
fn a_hundred_gets_in_a_row_each_answer_and_leave_no_socket_open() {
    let body = body(4096);
    let servers = servers(network(&http("HTTP/1.0 200 OK", &body)));
    let expected = std::format!(
        "HTTP/1.0 200 OK\r\nbody: 4096 bytes, FNV-1a {:#010x}\r\n",
        checksum(&body)
    );
    for round in 0..100 {
        {
            let mut network = servers.network.borrow_mut();
            network.requests.clear();
            network.delivered = 0;
            network.polls = 0;
        }
        let (result, printed, _) = get(&servers, "get 10.0.2.100:80 /again");
        assert_eq!(result, Ok(()), "round {round}");
        assert_eq!(printed, expected, "round {round}");
        assert!(servers.network.borrow().open.is_empty(), "round {round}");
    }
    assert_eq!(servers.network.borrow().next_slot, 100);
}

#[test]
fn fnv1a_continues_across_pieces() {
    let bytes = body(1000);
    let (first, second) = bytes.split_at(333);
    assert_eq!(fnv1a(fnv1a(FNV_START, first), second), checksum(&bytes));
    assert_eq!(fnv1a(FNV_START, b"a"), 0xe40c_292c);
}

#[test]
fn the_network_commands_are_recognised_and_listed_in_help() {
    for line in ["ifconfig", "get 10.0.2.2:80 /", "  get"] {
        assert!(is_network_command(line), "{line}");
    }
    for line in ["ls", "getter", "if", "call sockets address"] {
        assert!(!is_network_command(line), "{line}");
    }
    assert!(HELP.contains("\r\n  ifconfig ") && HELP.contains("\r\n  get HOST:PORT PATH"));
}
