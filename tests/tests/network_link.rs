//! The network link through the virtio-net driver for real: the `network_link` scenario sends a
//! DHCP DISCOVER built by hand through `net` and waits with `receive` for QEMU's user network's
//! DHCP OFFER (from 10.0.2.2, offering 10.0.2.15); then swaps the driver with a `receive`
//! waiting and faults it, eight times, each time asking again; then writes garbage into the
//! driver's receive ring, which must make it fault itself and come back; the kernel heap flat.

use cella_qemu_tests::{BootRequest, boot};

/// The number after `key` in `line`, up to the next space or comma.
fn number_after(line: &str, key: &str) -> Option<i64> {
    let rest = &line[line.find(key)? + key.len()..];
    let end = rest.find([' ', ',', ')']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Checks one offer line: QEMU's DHCP server at 10.0.2.2 offers 10.0.2.15 on 10.0.2.0/24, and
/// no router, since the network is restricted (`restrict=on`: nothing lies beyond it).
fn check_offer(line: &str) {
    for field in [
        "DHCP offer from 10.0.2.2:",
        "address 10.0.2.15,",
        "server 10.0.2.2,",
        "mask 255.255.255.0,",
        "router none,",
    ] {
        assert!(line.contains(field), "`{field}` missing from `{line}`");
    }
    let lease = number_after(line, "lease ").unwrap_or(0);
    assert!(lease > 0, "a lease: `{line}`");
}

#[test]
fn a_dhcp_discover_is_answered_through_the_driver_across_swaps_and_restarts() {
    let run = boot(BootRequest::scenario("network_link"));
    run.expect_kernel_success();
    run.expect_line("scenario network_link: passed");
    for line in run.lines().filter(|line| line.contains("network_link:")) {
        println!("{line}");
    }
    let link = run.expect_line("network_link: link ");
    assert!(link.contains("MTU 1500, link up"), "{link}");
    assert!(
        link.contains("52:54:00:12:34:56"),
        "QEMU's default MAC: {link}"
    );
    check_offer(run.expect_line("network_link: first DHCP offer"));
    let cycles: Vec<&str> = run
        .lines()
        .filter(|line| line.contains("faulted and restarted; DHCP offer"))
        .collect();
    assert_eq!(cycles.len(), 8, "an offer after every cycle");
    for line in &cycles {
        check_offer(line);
    }
    let swaps: Vec<&str> = run
        .lines()
        .filter(|line| {
            line.contains("network_link: cycle") && line.contains("swapped 1.0.0 -> 1.0.0")
        })
        .collect();
    assert_eq!(swaps.len(), 8, "a swap every cycle");
    for line in &swaps {
        assert!(
            line.contains("the waiting receive was answered:") && line.contains("frames"),
            "the new version answered the waiting receive with frames: {line}"
        );
    }
    let garbage = run.expect_line("network_link: garbage: ");
    assert!(
        garbage.contains("module virtio-net faulted in on_message"),
        "the driver itself faulted serving the receive: {garbage}"
    );
    check_offer(garbage);
    run.expect_line("used index 100 entries ahead, more than the queue holds");
    let heap = run.expect_line("network_link: kernel heap");
    let growth = number_after(heap, "(").unwrap_or(i64::MAX);
    assert!(growth <= 64 * 1024, "the kernel heap grew: {heap}");
}

#[test]
fn a_machine_without_a_network_card_boots_with_only_virtio_net_down() {
    let run = boot(BootRequest::scenario("modules").without_network());
    run.expect_kernel_failure();
    assert!(
        !run.command_line.contains("virtio-net-pci"),
        "{}",
        run.command_line
    );
    run.expect_line("no free PCI function on this machine matches it");
    run.expect_line("(not up: virtio-net)");
    run.expect_line("scenario modules: FAILED: modules not running: virtio-net");
}
