//! The shell's `ping` on the real link. On the default restricted network QEMU's user network
//! answers ICMP echo requests to its gateway, 10.0.2.2, itself: `ping 10.0.2.2` gets every
//! answer, `ping 10.0.2.99` (an address nothing answers) reports each request lost, and
//! neither leaves a socket behind. `ping HOST:PORT` (UDP) to an echo server this test runs
//! on the host's loopback needs an unrestricted network: with `restrict=on` QEMU drops every
//! UDP datagram the guest sends except to its DHCP and TFTP servers, and it reaches the
//! host's loopback at 10.0.2.2 only without the restriction.

use cella_qemu_tests::{Network, Session, sockets};
use std::net::UdpSocket;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn ping_gets_answers_from_the_gateway_and_reports_loss_from_nobody() {
    let mut session = Session::at_prompt_on_network("network-ping", Network::default());
    session.wait_for("netstack: address: 10.0.2.15/24", WAIT);
    for round in 0..5 {
        let answer = session.expect_answer(
            "ping -c 3 10.0.2.2",
            "ping 10.0.2.2: 3 ICMP echo requests of 56 bytes, 1000 ms apart\r\n",
        );
        for sequence in 1..=3 {
            if !answer.contains(&format!("64 bytes from 10.0.2.2: seq {sequence} time ")) {
                session.fail(format!("round {round}: no answer to {sequence}:\n{answer}"));
            }
        }
        if !answer.contains("10.0.2.2: 3 sent, 3 received, 0% loss; time min/avg/max ") {
            session.fail(format!(
                "round {round}: not the summary expected:\n{answer}"
            ));
        }
    }
    let lost = session.expect_answer(
        "ping -c 2 10.0.2.99",
        "ping: 10.0.2.99: no answer in 1000 ms (seq 1)\r\n\
         ping: 10.0.2.99: no answer in 1000 ms (seq 2)\r\n\
         10.0.2.99: 2 sent, 0 received, 100% loss\r\n",
    );
    if lost.contains("bytes from") {
        session.fail(format!("an answer from nobody:\n{lost}"));
    }
    session.expect_answer("ping 10.0.2", "error: ping 10.0.2: not HOST or HOST:PORT");
    session.expect_answer(
        "ping -c 1000 10.0.2.2",
        "error: ping 10.0.2.2: -c takes a count from 1 to 100",
    );
    session.expect_answer("ping", "error: ping: usage: ping [-c COUNT] HOST[:PORT]");
    sockets::bind_and_close(&mut session, 5353);
    session.expect_answer("ping -c 1 10.0.2.2", "1 sent, 1 received, 0% loss");
}

#[test]
fn a_udp_ping_comes_back_from_an_echo_server_on_the_host() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    server
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (stop, stopped) = mpsc::channel::<()>();
    // The host's echo server: every datagram back to where it came from, kept for the test.
    let echo = thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 2048];
        while stopped.try_recv().is_err() {
            if let Ok((length, from)) = server.recv_from(&mut buffer) {
                let _ = server.send_to(&buffer[..length], from);
                seen.push(buffer[..length].to_vec());
            }
        }
        seen
    });
    let network = Network {
        unrestricted: true,
        ..Network::default()
    };
    let mut session = Session::at_prompt_on_network("network-ping-udp", network);
    session.wait_for("netstack: address: 10.0.2.15/24", WAIT);
    let target = format!("10.0.2.2:{port}");
    let answer = session.expect_answer(
        &format!("ping -c 4 {target}"),
        &format!("ping {target}: 4 UDP datagrams of 56 bytes, 1000 ms apart\r\n"),
    );
    for sequence in 1..=4 {
        if !answer.contains(&format!("56 bytes from {target}: seq {sequence} time ")) {
            session.fail(format!("no answer to {sequence}:\n{answer}"));
        }
    }
    if !answer.contains(&format!("{target}: 4 sent, 4 received, 0% loss")) {
        session.fail(format!("not the summary expected:\n{answer}"));
    }
    stop.send(()).unwrap();
    let seen = echo.join().unwrap();
    // The host's server saw the four datagrams: 56 bytes each, sequence numbers 1 to 4 first.
    let sequences: Vec<u16> = seen
        .iter()
        .filter(|datagram| datagram.len() == 56)
        .map(|datagram| u16::from_be_bytes([datagram[0], datagram[1]]))
        .collect();
    if sequences != [1, 2, 3, 4] {
        session.fail(format!("the host's server saw sequences {sequences:?}"));
    }
    // Nothing answers on another port: each request is lost, and said so.
    session.expect_answer(
        &format!("ping -c 1 10.0.2.2:{}", port.wrapping_add(1).max(1)),
        "1 sent, 0 received, 100% loss",
    );
    sockets::bind_and_close(&mut session, 5353);
}
