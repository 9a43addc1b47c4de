//! netstack's UDP echo service (port 7) from the host, through QEMU's UDP forward: each
//! datagram comes back unchanged (on an unrestricted user network: `restrict=on` drops the
//! guest's answers, see `cella::qemu`); then garbage (random datagrams, datagrams too long for one
//! frame, a flood of 1,000, and random bytes on TCP connections to the forwarded port 80,
//! where the status server `httpd` listens and answers garbage with a 400) leaves the system
//! serving: the echo answers again, the shell runs commands and `call sockets address` still
//! answers.

use cella_qemu_tests::{Network, Session, random_bytes};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// A free port of the host's loopback.
fn free_port() -> u16 {
    cella::qemu::free_host_port(0).expect("a free port")
}

/// Sends `bytes` and waits for the same bytes back, sending again up to 3 times (UDP may
/// lose a datagram); whether they came back.
fn round_trip(socket: &UdpSocket, bytes: &[u8]) -> bool {
    let mut buffer = vec![0u8; 2048];
    for _ in 0..3 {
        socket.send(bytes).expect("send to the forward");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match socket.recv(&mut buffer) {
                Ok(length) if &buffer[..length] == bytes => return true,
                // An echo of an earlier datagram: read on.
                Ok(_) => {}
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(error) => panic!("receive from the forward: {error}"),
            }
        }
    }
    false
}

#[test]
fn the_echo_service_answers_the_host_and_survives_garbage() {
    let udp_port = free_port();
    let tcp_port = free_port();
    let network = Network {
        host_port: Some(tcp_port),
        udp_host_port: Some(udp_port),
        unrestricted: true,
        ..Network::default()
    };
    let mut session = Session::at_prompt_on_network("network-echo", network);
    session.wait_for("netstack: address: 10.0.2.15/24", WAIT);

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", udp_port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for (round, length) in [1, 2, 64, 100, 512, 1000, 1400, 1472]
        .into_iter()
        .cycle()
        .take(24)
        .enumerate()
    {
        let bytes = random_bytes(length, round as u32);
        if !round_trip(&socket, &bytes) {
            session.fail(format!("round {round}: {length} bytes did not come back"));
        }
    }

    // Garbage: random datagrams, ones too long for a frame (QEMU sends them as IPv4
    // fragments, which netstack does not reassemble), and a flood, none waited for.
    for seed in 0..200 {
        let _ = socket.send(&random_bytes(1 + seed as usize * 7 % 1472, seed));
    }
    for length in [1473, 1500, 4000, 9000, 65_000] {
        let _ = socket.send(&random_bytes(length, length as u32));
    }
    for seed in 0..1_000 {
        let _ = socket.send(&random_bytes(64, 10_000 + seed));
    }
    // TCP garbage to the guest's port 80, the status server's: the host's connection ends
    // (closed or reset), with at most the server's 400 answer before the end.
    for round in 0..20u32 {
        let mut connection = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
        connection
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let _ = connection.write_all(&random_bytes(3000, round));
        let mut answer = Vec::new();
        match connection.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
            Err(error) => session.fail(format!("round {round}: the connection {error}")),
        }
        if !answer.is_empty() && !answer.starts_with(b"HTTP/1.1 400 Bad Request\r\n") {
            session.fail(format!(
                "round {round}: not a 400: {}",
                String::from_utf8_lossy(&answer)
            ));
        }
    }
    // Drain what the flood brought back, then the service answers as before.
    while socket.recv(&mut [0u8; 2048]).is_ok() {}
    for round in 0..5 {
        let bytes = random_bytes(300, 50_000 + round);
        if !round_trip(&socket, &bytes) {
            session.fail(format!(
                "after the garbage, round {round} did not come back"
            ));
        }
    }
    session.expect_answer("call sockets address", "10.0.2.15/24");
    session.expect_answer("ifconfig", "address: 10.0.2.15/24");
    session.expect_answer("uptime", "up ");
    let output = session.output();
    if output.contains("module netstack faulted") || output.contains("module virtio-net faulted") {
        session.fail("a network module faulted");
    }
}
