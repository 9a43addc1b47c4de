//! The TCP/IP server on the real link: `netstack` asks the virtio-net driver for the link,
//! gets its address from QEMU's user network by DHCP (10.0.2.15/24; the network is restricted,
//! so no router), and the shell's `call` reads the address and the link through the typed
//! interfaces; a UDP socket bound and closed through `call sockets` many times in a row leaves
//! the server serving. The server takes its frames through `receive_lent`: it holds the DMA
//! buffer it lends, and the driver refuses a `receive_lent` that lends none (the shell's
//! `call` lends nothing).

use cella_qemu_tests::{Session, sockets};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn the_tcp_ip_server_gets_its_address_by_dhcp_through_the_driver() {
    let mut session = Session::at_prompt("netstack-dhcp");
    session.wait_for("netstack: link 52:54:00:12:34:56, MTU 1500, link up", WAIT);
    session.wait_for("netstack: address: 10.0.2.15/24, no gateway, by DHCP", WAIT);
    session.expect_answer("call sockets address", "10.0.2.15/24, no gateway, by DHCP");
    session.expect_answer("call net info", "52:54:00:12:34:56, MTU 1500, link up");
    // A socket bound and closed again and again: each bind is answered with a handle, the
    // close of that handle is done, and the port is free for the next round.
    for _ in 0..20 {
        sockets::bind_and_close(&mut session, 5353);
    }
    session.expect_answer("call sockets address", "10.0.2.15/24");
    let capabilities = session.type_line("caps netstack");
    assert!(
        capabilities.contains("dma buffer") && !session.output().contains("no buffer to lend"),
        "netstack holds no buffer to lend:\n{capabilities}"
    );
    session.expect_answer(
        "call net receive_lent 0",
        "no buffer lent read-write with the request",
    );
}
