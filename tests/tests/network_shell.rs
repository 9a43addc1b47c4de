//! The shell's network commands on the real link, against a server on the host: the guest's
//! connections to 10.0.2.100:80 are forwarded to a small HTTP server this test runs on the
//! host's loopback (QEMU's `guestfwd`, one relay a connection). `ifconfig` shows the card's
//! MAC and the DHCP address; `get` prints the status line, the body's size and its FNV-1a,
//! which match the body the test served, 21 times in a row; once nothing listens on the host
//! port, `get` answers a clear error, as it does for an address nothing answers; and
//! afterwards `sockets` still gives out a socket.

use cella_qemu_tests::{Network, Session, fnv1a, random_bytes, sockets};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// The connections the host's server answers before it stops listening.
const CONNECTIONS: usize = 21;

/// Some kilobytes no fixed pattern would give by accident.
fn body() -> Vec<u8> {
    random_bytes(6_000, 0x2545_f491)
}

/// Reads one request's head (up to the blank line) and answers it with `body`.
fn answer(mut connection: TcpStream, body: &[u8]) -> String {
    connection
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && request.len() < 4096 {
        match connection.read(&mut byte) {
            Ok(1) => request.push(byte[0]),
            _ => break,
        }
    }
    let head = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = connection.write_all(head.as_bytes());
    let _ = connection.write_all(body);
    String::from_utf8_lossy(&request).into_owned()
}

#[test]
fn ifconfig_and_get_reach_a_server_on_the_host_through_the_forward() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = body();
    let served = body.clone();
    let (requests, received) = mpsc::channel();
    // Answers CONNECTIONS connections, then stops listening: the port is closed.
    let server = thread::spawn(move || {
        for _ in 0..CONNECTIONS {
            let (connection, _) = listener.accept().unwrap();
            requests.send(answer(connection, &served)).unwrap();
        }
    });
    let network = Network {
        guest_forward: Some(port),
        ..Network::default()
    };
    let mut session = Session::at_prompt_on_network("network-shell", network);
    session.wait_for("netstack: address: 10.0.2.15/24", WAIT);

    let link = session.expect_answer("ifconfig", "link: 52:54:00:12:34:56, MTU 1500, up\r\n");
    if !link.contains("address: 10.0.2.15/24") {
        session.fail(format!("`ifconfig` showed no address:\n{link}"));
    }

    let expected = format!(
        "HTTP/1.0 200 OK\r\nbody: {} bytes, FNV-1a {:#010x}\r\n",
        body.len(),
        fnv1a(&body)
    );
    for round in 0..CONNECTIONS {
        let path = format!("/cella/round-{round}.bin");
        session.expect_answer(&format!("get 10.0.2.100:80 {path}"), &expected);
        let request = received
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| session.fail(format!("round {round}: no request arrived")));
        if !request.starts_with(&format!("GET {path} HTTP/1.0\r\n")) {
            session.fail(format!("round {round}: the host got {request:?}"));
        }
    }
    server.join().unwrap();

    // Nothing listens on the host's port any more: the relay ends at once, and QEMU resets
    // the guest's connection or, before the request reached it, closes it.
    for round in 0..3 {
        let refused =
            session.expect_answer("get 10.0.2.100:80 /nobody", "error: get 10.0.2.100:80: ");
        if !refused.contains("the connection was reset\r\n")
            && !refused.contains("the server closed the connection without answering\r\n")
        {
            session.fail(format!("round {round}: not a refusal:\n{refused}"));
        }
    }
    // An address no forward names: QEMU's restricted network drops the connection.
    session.expect_answer(
        "get 10.0.2.99:80 /",
        "error: get 10.0.2.99:80: no connection within 10 s (the address did not answer)",
    );
    session.expect_answer("get 10.0.2.100 /", "error: get 10.0.2.100: not HOST:PORT");
    session.expect_answer("get 10.0.2.100:80", "error: get: usage: get HOST:PORT PATH");
    // No socket was left behind: a bind still gets one, and the shell still answers.
    sockets::bind_and_close(&mut session, 5353);
    session.expect_answer("call sockets address", "10.0.2.15/24");
}
