//! The network path with the virtio-net driver as a native process: the `native_network`
//! scenario removes the Wasm `virtio-net` module, starts `virtio-net-native` on the card
//! and, once the TCP/IP server (Wasm) has its address through it, serves port 80 itself
//! (unless an `httpd` module does). The host then fetches through QEMU's forwarded port:
//! every byte of those answers crossed the native driver.

use cella_qemu_tests::{Network, Session, http};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// How long the scenario serves once it is ready.
const RUN_MS: u32 = 20_000;
/// The scenario's own answer to `GET /native-network` (its `BODY`).
const BODY: &str = "served through the native virtio-net driver\n";
/// Requests made through the native driver.
const ROUNDS: usize = 5;

#[test]
fn traffic_from_the_host_crosses_the_native_virtio_net_driver() {
    let port = cella::qemu::free_host_port(0).expect("a free port of the loopback");
    let network = Network {
        host_port: Some(port),
        ..Network::default()
    };
    let mut session = Session::start_on_network(
        "native-network",
        &format!("test=native_network run_ms={RUN_MS}"),
        None,
        &[],
        network,
    );
    session.wait_for("native_network: serving through virtio-net-native", WAIT);
    let output = session.output();
    for expected in [
        "native_network: virtio-net: removed",
        "native_network: netstack has 10.0.2.15/24",
        "native_network: the card interrupts virtio-net-native on MSI-X line ",
        "native_network: ps: virtio-net-native",
    ] {
        if !output.contains(expected) {
            session.fail(format!("`{expected}` missing"));
        }
    }
    let ours = !output.contains("native_network: httpd serves port 80");
    let timeout = Duration::from_secs(15);
    for round in 0..ROUNDS {
        let path = if ours { "/native-network" } else { "/api/ps" };
        let answer = http::get(port, path, timeout)
            .unwrap_or_else(|why| session.fail(format!("round {round}: {why}")));
        if answer.status != 200 || (ours && answer.text() != BODY) {
            session.fail(format!(
                "round {round}: GET {path} answered {} with `{}`",
                answer.status,
                answer.text()
            ));
        }
    }
    if ours {
        let missing = http::get(port, "/elsewhere", timeout)
            .unwrap_or_else(|why| session.fail(format!("GET /elsewhere: {why}")));
        if missing.status != 404 {
            session.fail(format!("GET /elsewhere answered {}", missing.status));
        }
    }
    let status = session.wait_exit();
    if status != 33 {
        session.fail(format!(
            "QEMU exit status {status}, expected 33 (scenario passed)"
        ));
    }
    session.wait_for("scenario native_network: passed", WAIT);
    session.wait_for("native_network: calls from modules to processes: ", WAIT);
    if ours {
        let answered = session
            .output()
            .matches("native_network: answered GET /native-network HTTP/1.1: 200 OK")
            .count();
        if answered != ROUNDS {
            session.fail(format!(
                "the scenario answered {answered} requests, the host made {ROUNDS}"
            ));
        }
    }
}
