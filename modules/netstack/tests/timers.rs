//! What the stack does as time passes: when it asks to be polled again
//! (smoltcp's poll delay), and the timeouts of docs/netstack.md: a closed
//! connection whose peer is gone gives its slot back after 10 s, and
//! data unacknowledged for 60 s resets an established connection.

mod common;

use cella_netstack::limits::{ACK_TIMEOUT_MS, CLOSE_LINGER_MS};
use cella_netstack::{Addressing, Settings, Stack};
use cella_sdk::interfaces::sockets::{Server, SocketError, SocketState};
use common::{Cable, MAC_A, Pair, refused};

#[test]
fn an_idle_stack_needs_no_poll_and_a_dhcp_one_asks_again_when_it_said() {
    let mut pair = Pair::new();
    pair.step();
    assert_eq!(pair.a.poll(pair.now_ms), None, "nothing to do: no deadline");

    let settings = Settings {
        mac: MAC_A,
        epoch: 1,
        addressing: Addressing::Dhcp,
    };
    let mut stack = Stack::new(Cable::default(), settings, 0).unwrap();
    let delay = stack.poll(0).expect("DHCP has a deadline");
    assert_eq!(stack.link().frames.len(), 1, "the first DISCOVER");
    stack.link_mut().frames.clear();
    assert!(delay > 0);
    // Polled before its deadline it sends nothing; at its deadline, the
    // DISCOVER again.
    stack.poll(delay - 1);
    assert!(stack.link().frames.is_empty());
    stack.poll(delay);
    assert_eq!(stack.link().frames.len(), 1, "the DISCOVER sent again");
}

#[test]
fn a_segment_not_acknowledged_is_sent_again_when_the_poll_delay_says() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let (client, _server) = pair.connect(listener, 7000);
    pair.a.send(client, b"lost on the way").unwrap();
    let now = pair.now_ms + 1;
    pair.a.poll(now);
    assert_eq!(pair.a.link().frames.len(), 1, "the segment");
    pair.a.link_mut().frames.clear();
    // The segment is lost: A asks to be polled when it must send it again.
    let delay = pair.a.poll(now).expect("a retransmission deadline");
    assert!(delay > 0);
    pair.a.poll(now + delay - 1);
    assert!(pair.a.link().frames.is_empty());
    pair.a.poll(now + delay);
    let frames = &pair.a.link().frames;
    assert_eq!(frames.len(), 1, "the segment again");
    assert!(frames[0].ends_with(b"lost on the way"));
}

/// Steps A alone (B is gone: nothing reaches it, nothing comes back).
fn without_b(pair: &mut Pair, milliseconds: u64) {
    for _ in 0..milliseconds {
        pair.now_ms += 1;
        pair.a.poll(pair.now_ms);
        pair.a.link_mut().frames.clear();
    }
}

#[test]
fn a_closed_connection_whose_peer_is_gone_gives_its_slot_back_after_ten_seconds() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let (client, _server) = pair.connect(listener, 7000);
    pair.a.close(client).unwrap();
    assert!(refused(pair.a.state(client), SocketError::Stale));
    // The FIN is never acknowledged: the slot stays taken for a while.
    without_b(&mut pair, CLOSE_LINGER_MS - 10);
    assert_eq!(pair.a.sockets_in_use(), 1);
    without_b(&mut pair, 20);
    assert_eq!(pair.a.sockets_in_use(), 0);
}

#[test]
fn data_unacknowledged_for_a_minute_resets_the_connection() {
    let mut pair = Pair::new();
    let listener = pair.b.listen(7000).unwrap();
    let (client, _server) = pair.connect(listener, 7000);
    pair.a.send(client, b"hello?").unwrap();
    without_b(&mut pair, ACK_TIMEOUT_MS - 1_000);
    assert_eq!(pair.a.state(client), Ok(SocketState::Established));
    without_b(&mut pair, 2_000);
    assert_eq!(pair.a.state(client), Ok(SocketState::Failed));
    assert!(refused(pair.a.send(client, b"x"), SocketError::Reset));
    pair.a.close(client).unwrap();
    assert_eq!(pair.a.sockets_in_use(), 0);
}
