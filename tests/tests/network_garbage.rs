//! Garbage and floods from the host through the forwarded TCP port (host port -> the guest's
//! port 80), with a listener on port 80 that the shell holds (`call sockets listen 80`, the
//! HTTP server stopped first) and accepts from as a server would. Random bytes on 20 connections, 10 connections closed
//! half-way and a flood of 50 idle connections leave netstack and virtio-net running
//! without a restart; the connections netstack keeps for `accept` stay within the backlog
//! (the free sockets of its table, counted while the flood is held); the shell answers during
//! the flood; and a fresh connection is accepted and carries its bytes. Then
//! 200 connections opened at once, five times (QEMU's forward lets through what it accepts
//! within a second, see `flood`): the shell answers during each flood, the first keeps at
//! most the backlog, and afterwards netstack's memory and the kernel heap are within a small
//! bound of where they were, and a fresh connection still works.

use cella_qemu_tests::{Network, Session, random_bytes};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
/// Connections a listener keeps for `accept` (netstack's `limits::BACKLOG`), and the one its
/// own socket may hold.
const KEPT: usize = 5;
/// How long the shell may take to answer a command during a flood.
const RESPONSIVE: Duration = Duration::from_secs(5);

/// The word after `socket ` in a `call sockets` answer (`3.65537`).
fn handle_in(session: &Session, answer: &str) -> String {
    answer
        .split("socket ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| session.fail(format!("no handle in:\n{answer}")))
        .to_owned()
}

/// Accepts and closes every connection waiting on `listener` (more may arrive while it
/// does, as QEMU sends again what the guest did not answer).
fn drain(session: &mut Session, listener: &str) {
    let mut accepted = 0;
    loop {
        let answer = session.expect_answer(
            &format!("call sockets accept {listener}"),
            "reply from sockets: ",
        );
        if answer.contains("reply from sockets: none") {
            return;
        }
        let handle = handle_in(session, &answer);
        session.expect_answer(&format!("call sockets close {handle}"), "done");
        accepted += 1;
        if accepted > 100 {
            session.fail("more than 100 connections were kept for `accept`");
        }
    }
}

/// Takes every free socket of netstack's table (UDP sockets, `bind 0`) and gives them back;
/// how many there were.
fn free_sockets(session: &mut Session) -> usize {
    let mut taken = Vec::new();
    loop {
        let answer = session.expect_answer("call sockets bind 0", "reply from sockets: ");
        if answer.contains("no sockets left") {
            break;
        }
        taken.push(handle_in(session, &answer));
        if taken.len() > 16 {
            session.fail("more than 16 sockets were free");
        }
    }
    for handle in &taken {
        session.expect_answer(&format!("call sockets close {handle}"), "done");
    }
    taken.len()
}

/// Slots that connections the test closed may hold while they finish their close.
const CLOSING: usize = 4;

/// Fails unless netstack's table, with `holding` connections held by the host, keeps no more
/// than the listener's connections: at most [`KEPT`] of 16 slots besides the listener, the
/// echo service and [`CLOSING`] (a flood that filled the table would leave none free).
fn kept_within_the_backlog(session: &mut Session, holding: &str) {
    let free = free_sockets(session);
    println!("with {holding} held, {free} of 16 sockets were free");
    if free + KEPT + 2 + CLOSING < 16 {
        session.fail(format!(
            "with {holding} held, only {free} of 16 sockets were free"
        ));
    }
}

/// A fresh connection from the host: accepted by the shell, its 5 bytes received, and its
/// close seen by the host as the end of the stream.
fn fresh_connection_works(session: &mut Session, port: u16, listener: &str) {
    let mut connection = TcpStream::connect(("127.0.0.1", port)).unwrap();
    connection
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    connection.write_all(b"hello").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let handle = loop {
        let answer = session.expect_answer(
            &format!("call sockets accept {listener}"),
            "reply from sockets: ",
        );
        if answer.contains("socket ") {
            break handle_in(session, &answer);
        }
        if Instant::now() > deadline {
            session.fail("the fresh connection was never accepted");
        }
        thread::sleep(Duration::from_millis(200));
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = session.expect_answer(
            &format!("call sockets receive {handle} 100"),
            "reply from sockets: ",
        );
        if answer.contains("reply from sockets: 5 bytes") {
            break;
        }
        if Instant::now() > deadline {
            session.fail(format!(
                "the fresh connection's bytes never came:\n{answer}"
            ));
        }
        thread::sleep(Duration::from_millis(200));
    }
    session.expect_answer(&format!("call sockets close {handle}"), "done");
    match connection.read(&mut [0u8; 16]) {
        Ok(0) => {}
        Ok(length) => session.fail(format!("{length} bytes came back on the fresh connection")),
        Err(error) if error.kind() == ErrorKind::ConnectionReset => {}
        Err(error) => session.fail(format!("the fresh connection: {error}")),
    }
}

/// `count` connections to the forwarded port opened at once, each given a second: the ones
/// that were made. QEMU's forward takes the host's connections one at a time (its listening
/// socket's backlog is 1, and the host retries a dropped SYN a second later), so of many
/// opened at once only some get through within the second; the rest time out on the host.
fn flood(port: u16, count: usize) -> Vec<TcpStream> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let attempts: Vec<_> = (0..count)
        .map(|_| {
            thread::spawn(move || TcpStream::connect_timeout(&address, Duration::from_secs(1)))
        })
        .collect();
    attempts
        .into_iter()
        .filter_map(|attempt| attempt.join().ok()?.ok())
        .collect()
}

/// Types `uptime` and fails unless the shell answers within [`RESPONSIVE`].
fn answers_quickly(session: &mut Session, during: &str) {
    let started = Instant::now();
    session.expect_answer("uptime", "up ");
    if started.elapsed() > RESPONSIVE {
        session.fail(format!(
            "during {during} the shell took {:.1} s to answer",
            started.elapsed().as_secs_f64()
        ));
    }
}

/// `ps`'s row of `name`: its state, restarts and memory in KiB.
fn ps_row(session: &mut Session, name: &str) -> (String, u64, u64) {
    let ps = session.expect_answer("ps", "NAME");
    let row = ps
        .lines()
        .find(|line| line.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| session.fail(format!("`ps` shows no {name}:\n{ps}")));
    let words: Vec<&str> = row.split_whitespace().collect();
    // NAME VERSION GEN STATE RESTARTS EVENTS FUEL MEMORY KiB LOG-DROPPED
    let (Some(state), Some(restarts), Some(memory)) = (
        words.get(3),
        words.get(4).and_then(|word| word.parse().ok()),
        words.get(7).and_then(|word| word.parse().ok()),
    ) else {
        session.fail(format!("an unexpected `ps` row: {row}"));
    };
    ((*state).to_owned(), restarts, memory)
}

/// KiB of kernel heap in use, from `mem`.
fn heap_kib(session: &mut Session) -> u64 {
    let answer = session.type_line("mem");
    answer
        .lines()
        .find_map(|line| line.strip_prefix("heap: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| session.fail(format!("no heap line in `mem`:\n{answer}")))
}

fn both_network_modules_run_without_restarts(session: &mut Session, when: &str) {
    for name in ["netstack", "virtio-net"] {
        let (state, restarts, _) = ps_row(session, name);
        if state != "running" || restarts != 0 {
            session.fail(format!(
                "{when}: {name} is {state} after {restarts} restarts"
            ));
        }
    }
    let output = session.output();
    if output.contains("module netstack faulted") || output.contains("module virtio-net faulted") {
        session.fail(format!("{when}: a network module faulted"));
    }
}

#[test]
fn garbage_and_floods_on_the_forwarded_port_leave_the_listener_serving() {
    let port = cella::qemu::free_host_port(0).expect("a free port");
    let network = Network {
        host_port: Some(port),
        ..Network::default()
    };
    let mut session = Session::at_prompt_on_network("network-garbage", network);
    session.wait_for("netstack: address: 10.0.2.15/24", WAIT);
    // The shell holds port 80 itself: a system serving it (`httpd`) is stopped first, and
    // netstack gives the port to the next `listen` once the stopped server's listener has
    // gone unasked for 3 s.
    session.type_line("stop httpd");
    let started = Instant::now();
    let answer = loop {
        let answer = session.type_line("call sockets listen 80");
        if answer.contains("reply from sockets: socket ") {
            break answer;
        }
        if started.elapsed() > Duration::from_secs(15) {
            session.fail(format!(
                "`call sockets listen 80` never got the port:\n{answer}"
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let listener = handle_in(&session, &answer);
    // A warm-up: the first connection grows netstack's heap once.
    fresh_connection_works(&mut session, port, &listener);

    // Random bytes on 20 connections, each closed once written.
    for round in 0..20u32 {
        let Ok(mut connection) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        let _ = connection.write_all(&random_bytes(3000, round));
    }
    // 10 connections closed half-way: some bytes, then the host's side of the stream ends
    // and the connection is dropped without waiting.
    for round in 0..10u32 {
        let Ok(mut connection) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        let _ = connection.write_all(&random_bytes(100, 100 + round));
        let _ = connection.shutdown(Shutdown::Write);
    }
    // A flood of 50 idle connections, held open while the shell is asked something.
    let held = flood(port, 50);
    answers_quickly(&mut session, "a flood of 50 idle connections");
    kept_within_the_backlog(&mut session, &format!("{} idle connections", held.len()));
    drop(held);
    thread::sleep(Duration::from_secs(2));
    drain(&mut session, &listener);
    both_network_modules_run_without_restarts(&mut session, "after the garbage");
    fresh_connection_works(&mut session, port, &listener);

    let heap_before = heap_kib(&mut session);
    let (_, _, memory_before) = ps_row(&mut session, "netstack");
    for round in 0..5 {
        let connections = flood(port, 200);
        if connections.is_empty() {
            session.fail(format!("flood {round}: no connection was made"));
        }
        answers_quickly(&mut session, &format!("flood {round}"));
        println!("flood {round}: {} connections made", connections.len());
        if round == 0 {
            kept_within_the_backlog(&mut session, &format!("{} connections", connections.len()));
        }
        drop(connections);
        thread::sleep(Duration::from_secs(1));
        drain(&mut session, &listener);
    }
    both_network_modules_run_without_restarts(&mut session, "after the floods");
    fresh_connection_works(&mut session, port, &listener);
    let heap_after = heap_kib(&mut session);
    let (_, _, memory_after) = ps_row(&mut session, "netstack");
    println!(
        "kernel heap {heap_before} -> {heap_after} KiB; netstack {memory_before} -> {memory_after} KiB"
    );
    if heap_after > heap_before + 256 {
        session.fail(format!(
            "the kernel heap grew from {heap_before} to {heap_after} KiB over the floods"
        ));
    }
    if memory_after > memory_before + 192 {
        session.fail(format!(
            "netstack's memory grew from {memory_before} to {memory_after} KiB over the floods"
        ));
    }
}
