use super::*;
use crate::connection::IDLE_MS;
use crate::fakes::{FakeSockets, FakeSupervisor};
use crate::transfer::{FNV_START, fnv1a, pattern_byte};

struct World {
    server: Server,
    sockets: FakeSockets,
    supervisor: FakeSupervisor,
    now_ms: u64,
}

impl World {
    fn new() -> World {
        World {
            server: Server::new(),
            sockets: FakeSockets::default(),
            supervisor: FakeSupervisor::with_modules(&["uart16550", "netstack", "httpd"]),
            now_ms: 1000,
        }
    }

    fn poll(&mut self) -> Activity {
        self.now_ms += 1;
        self.server
            .poll(self.now_ms, &mut self.sockets, &self.supervisor)
    }

    /// Polls until `slot`'s socket is closed (at most `limit` polls).
    fn until_closed(&mut self, slot: u32, limit: usize) {
        for _ in 0..limit {
            if self.sockets.peer(slot).closed {
                return;
            }
            self.poll();
        }
        panic!("socket {slot} still open: {}", self.sockets.answer(slot));
    }

    /// Sends `request` on a new connection and returns the whole answer.
    fn exchange(&mut self, request: &[u8]) -> String {
        let slot = self.sockets.connect();
        self.sockets.write(slot, request);
        self.until_closed(slot, 1000);
        self.sockets.answer(slot)
    }
}

/// The status code and the body of an answer.
fn split(answer: &str) -> (u16, &str) {
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let code = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .expect("a length")
        .parse()
        .unwrap();
    assert_eq!(body.len(), length, "the length is the body's");
    (code, body)
}

#[test]
fn the_server_listens_on_port_80_and_answers_a_request() {
    let mut world = World::new();
    assert_eq!(world.poll(), Activity::Idle);
    assert_eq!(world.sockets.listeners.len(), 1);
    assert_eq!(world.sockets.listeners[0].1, 80);
    let answer = world.exchange(b"GET /api/ps HTTP/1.1\r\nHost: x\r\n\r\n");
    let (code, body) = split(&answer);
    assert_eq!(code, 200);
    assert!(body.contains("\"name\":\"netstack\""), "{body}");
    assert!(answer.contains("Connection: close\r\n"));
}

#[test]
fn a_request_in_pieces_over_many_polls_is_answered_once_whole() {
    let mut world = World::new();
    world.poll();
    let slot = world.sockets.connect();
    let request = b"GET /api/caps/httpd HTTP/1.1\r\nHost: x\r\n\r\n";
    for piece in request.chunks(3) {
        world.sockets.write(slot, piece);
        world.poll();
        if world.sockets.peer(slot).to_server.is_empty() && !world.sockets.peer(slot).closed {
            assert!(world.sockets.peer(slot).from_server.is_empty());
        }
    }
    world.until_closed(slot, 100);
    let answer = world.sockets.answer(slot);
    let (code, body) = split(&answer);
    assert_eq!(code, 200);
    assert!(body.starts_with("{\"module\":\"httpd\""), "{body}");
}

#[test]
fn errors_404_405_400_and_garbage_are_answered_and_closed() {
    let mut world = World::new();
    let cases: &[(&[u8], u16)] = &[
        (b"GET /nothing HTTP/1.1\r\n\r\n", 404),
        (b"GET /api/caps/nobody HTTP/1.1\r\n\r\n", 404),
        (b"DELETE / HTTP/1.1\r\n\r\n", 405),
        (b"PUT /upload HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 405),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST /upload HTTP/1.1\r\n\r\n", 400),
    ];
    for (request, expected) in cases {
        let answer = world.exchange(request);
        let (code, body) = split(&answer);
        assert_eq!(
            code,
            *expected,
            "{}: {answer}",
            String::from_utf8_lossy(request)
        );
        assert!(body.starts_with("{\"error\":\""), "{body}");
    }
    assert!(
        world
            .exchange(b"DELETE / HTTP/1.1\r\n\r\n")
            .contains("Allow: GET, POST\r\n")
    );
}

#[test]
fn a_head_longer_than_8_kib_gets_400_and_the_rest_is_not_read() {
    let mut world = World::new();
    let mut request = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
    request.resize(64 * 1024, b'a');
    let slot = world.sockets.connect();
    world.sockets.write(slot, &request);
    world.until_closed(slot, 1000);
    let answer = world.sockets.answer(slot);
    let (code, body) = split(&answer);
    assert_eq!(code, 400);
    assert!(body.contains("longer than 8192 bytes"), "{body}");
    // At most the limit and a piece were read of the 64 KiB.
    assert!(world.sockets.peer(slot).to_server.len() > 64 * 1024 - 8192 - 4096);
}

#[test]
fn a_peer_that_closes_inside_its_head_gets_400_or_nothing() {
    let mut world = World::new();
    let slot = world.sockets.connect();
    world.sockets.write(slot, b"GET / HT");
    world.sockets.peers.get_mut(&slot).unwrap().client_closed = true;
    world.until_closed(slot, 100);
    let answer = world.sockets.answer(slot);
    assert_eq!(split(&answer).0, 400);
    let silent = world.sockets.connect();
    world.sockets.peers.get_mut(&silent).unwrap().client_closed = true;
    world.until_closed(silent, 100);
    assert!(world.sockets.peer(silent).from_server.is_empty());
}

#[test]
fn a_pipelined_second_request_is_not_answered() {
    let mut world = World::new();
    let answer = world.exchange(b"GET /api/log HTTP/1.1\r\n\r\nGET /api/ps HTTP/1.1\r\n\r\n");
    let answer = answer.as_str();
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert_eq!(split(answer).1, "{\"faults\":[]}");
}

#[test]
fn a_download_streams_the_pattern_through_a_small_window() {
    let mut world = World::new();
    world.sockets.window = 1000;
    let count = 3 * 4096 * 5 + 17;
    let slot = world.sockets.connect();
    world.sockets.write(
        slot,
        format!("GET /download/{count} HTTP/1.1\r\n\r\n").as_bytes(),
    );
    world.until_closed(slot, 10_000);
    let bytes = &world.sockets.peer(slot).from_server;
    let at = bytes
        .windows(4)
        .position(|four| four == b"\r\n\r\n")
        .unwrap()
        + 4;
    let head = String::from_utf8_lossy(&bytes[..at]);
    assert!(
        head.contains(&format!("Content-Length: {count}\r\n")),
        "{head}"
    );
    assert!(head.contains("Content-Type: application/octet-stream\r\n"));
    let body = &bytes[at..];
    assert_eq!(body.len(), count);
    for (index, &byte) in body.iter().enumerate() {
        assert_eq!(byte, pattern_byte(index as u64), "byte {index}");
    }
}

#[test]
fn an_upload_in_pieces_is_counted_and_hashed() {
    let mut world = World::new();
    let body: Vec<u8> = (0..300_000u32)
        .map(|index| (index * 7 + index / 1000) as u8)
        .collect();
    let slot = world.sockets.connect();
    let head = format!(
        "POST /upload HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // The head and the body's first bytes in one piece, then the rest over many polls.
    let mut first = head.into_bytes();
    first.extend_from_slice(&body[..100]);
    world.sockets.write(slot, &first);
    for piece in body[100..].chunks(9000) {
        world.poll();
        world.sockets.write(slot, piece);
    }
    world.until_closed(slot, 10_000);
    let answer = world.sockets.answer(slot);
    let (code, text) = split(&answer);
    assert_eq!(code, 200);
    assert_eq!(
        text,
        format!(
            "{{\"bytes\":300000,\"fnv1a\":\"{:08x}\"}}",
            fnv1a(FNV_START, &body)
        )
    );
    // An empty upload.
    let answer = world.exchange(b"POST /upload HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(split(&answer).1, "{\"bytes\":0,\"fnv1a\":\"811c9dc5\"}");
}

#[test]
fn connections_past_eight_are_closed_at_once() {
    let mut world = World::new();
    world.poll();
    let slots: Vec<u32> = (0..MAX_CONNECTIONS + 3)
        .map(|_| world.sockets.connect())
        .collect();
    world.poll();
    assert_eq!(world.server.open(), MAX_CONNECTIONS);
    for (index, slot) in slots.iter().enumerate() {
        let peer = world.sockets.peer(*slot);
        assert_eq!(peer.closed, index >= MAX_CONNECTIONS, "connection {index}");
        assert!(peer.from_server.is_empty());
    }
    assert_eq!(world.server.counters().refused, 3);
    // The eight in the table are answered.
    for slot in &slots[..MAX_CONNECTIONS] {
        world.sockets.write(*slot, b"GET /api/log HTTP/1.0\r\n\r\n");
    }
    for slot in &slots[..MAX_CONNECTIONS] {
        world.until_closed(*slot, 100);
        let answer = world.sockets.answer(*slot);
        assert_eq!(split(&answer).0, 200);
    }
    assert_eq!(world.server.open(), 0);
}

#[test]
fn an_idle_connection_is_closed_after_10_s() {
    let mut world = World::new();
    world.poll();
    let slot = world.sockets.connect();
    world.sockets.write(slot, b"GET / HTTP/1.1\r\n");
    assert_eq!(world.poll(), Activity::Busy);
    assert_eq!(world.poll(), Activity::Waiting);
    world.now_ms += IDLE_MS - 10;
    world.poll();
    assert!(!world.sockets.peer(slot).closed, "not yet idle for 10 s");
    world.now_ms += 10;
    world.poll();
    assert!(world.sockets.peer(slot).closed);
    assert!(world.sockets.peer(slot).from_server.is_empty());
    assert_eq!(world.server.open(), 0);
    assert_eq!(world.poll(), Activity::Idle);
}

#[test]
fn five_hundred_requests_in_a_row_leave_no_connection_or_socket_behind() {
    let mut world = World::new();
    for round in 0..500 {
        let request: &[u8] = match round % 4 {
            0 => b"GET /api/ps HTTP/1.1\r\n\r\n",
            1 => b"GET / HTTP/1.1\r\n\r\n",
            2 => b"GET /nothing HTTP/1.1\r\n\r\n",
            _ => b"garbage\r\n\r\n",
        };
        let answer = world.exchange(request);
        assert!(answer.starts_with("HTTP/1.1 "), "round {round}");
        assert_eq!(world.server.open(), 0, "round {round}");
    }
    assert!(world.sockets.peers.values().all(|peer| peer.closed));
    assert_eq!(world.sockets.closes_of_unknown, 0, "no socket closed twice");
    assert_eq!(world.server.counters().accepted, 500);
    assert_eq!(world.sockets.listeners.len(), 1);
}

#[test]
fn a_restarted_sockets_server_gets_a_new_listener() {
    let mut world = World::new();
    world.poll();
    let slot = world.sockets.connect();
    world.poll();
    assert_eq!(world.server.open(), 1);
    // The server restarted: every handle is stale, and the first listen fails too.
    world.sockets.failing = Some(SocketError::Stale);
    world.poll();
    assert!(!world.server.listening());
    assert_eq!(world.server.open(), 0);
    world.poll();
    assert!(
        !world.server.listening(),
        "the failed listen waits before it is tried again"
    );
    world.sockets.failing = None;
    world.sockets.listeners.clear();
    world.now_ms += LISTEN_RETRY_MS;
    world.poll();
    assert!(world.server.listening());
    assert_eq!(world.server.counters().listens, 2);
    let _ = slot;
    let answer = world.exchange(b"GET /api/log HTTP/1.1\r\n\r\n");
    assert_eq!(split(&answer).0, 200);
}

#[test]
fn a_successor_keeps_the_listener_and_closes_the_predecessors_connections() {
    let mut world = World::new();
    world.poll();
    let slot = world.sockets.connect();
    world.sockets.write(slot, b"GET / HT");
    world.poll();
    let (listener, connections) = world.server.handles();
    let connections: Vec<Handle> = connections.collect();
    assert_eq!(connections.len(), 1);
    world.server = Server::taking_over(listener, connections);
    world.poll();
    assert!(world.sockets.peer(slot).closed);
    assert_eq!(world.sockets.listeners.len(), 1, "no second listen");
    let answer = world.exchange(b"GET /api/log HTTP/1.1\r\n\r\n");
    assert_eq!(split(&answer).0, 200);
}
