//! Host tests of [`GrantSet`]: ranges at their edges, budgets spent across
//! requests, and the text of the first request that does not fit.

use super::{GrantSet, range_holds};
use crate::system_manifest::GrantLine;
use alloc::string::String;
use alloc::vec::Vec;
use cella_abi::{CapabilityRequest, Manifest};

/// Resolves the requests of a module manifest whose capability lines are `lines`.
fn resolve(set: &GrantSet, lines: &str) -> Result<usize, String> {
    let text = alloc::format!("cella 1\nname t\nversion 1\n{lines}");
    let manifest = Manifest::parse(&text).expect("a valid manifest");
    set.resolve(manifest.capabilities())
        .map(|resolved| resolved.len())
}

#[test]
fn from_lines_adds_up_dma_and_timers_and_keeps_every_range() {
    let lines = [
        GrantLine::Port {
            base: 0,
            count: 0x1_0000,
            shared: false,
        },
        GrantLine::Mmio {
            base: 0xfec0_0000,
            length: 0x20,
            shared: true,
        },
        GrantLine::Irq {
            line: 8,
            shared: false,
        },
        GrantLine::Dma { bytes: 4096 },
        GrantLine::Dma { bytes: 8192 },
        GrantLine::Endpoint {
            name: String::from("log"),
        },
        GrantLine::Timer,
        GrantLine::Timer,
    ];
    let set = GrantSet::from_lines(&lines);
    assert_eq!(set.ports(), &[(0, 0x1_0000)]);
    assert_eq!(set.mmio(), &[(0xfec0_0000, 0x20)]);
    assert_eq!(set.irqs(), &[8]);
    assert_eq!(set.dma_budget(), 12_288);
    assert_eq!(set.endpoints(), &[String::from("log")]);
    assert_eq!(set.timer_count(), 2);
    assert_eq!(
        set,
        GrantSet::new()
            .port_range(0, 0x1_0000)
            .mmio_region(0xfec0_0000, 0x20)
            .irq_line(8)
            .dma_bytes(12_288)
            .endpoint("log")
            .timers(2)
    );
}

#[test]
fn all_0x10000_ports_are_one_grant_without_truncation() {
    let set = GrantSet::new().port_range(0, 0x1_0000);
    assert!(set.covers_ports(0, 0x1_0000));
    assert!(set.covers_ports(0xffff, 1));
    assert!(!set.covers_ports(0xffff, 2));
    assert!(!set.covers_ports(0x1_0000, 1));
    assert_eq!(resolve(&set, "port 0 65536\n"), Ok(1));
    // A grant of 0xffff ports is one short of all of them.
    let short = GrantSet::new().port_range(0, 0xffff);
    assert!(!short.covers_ports(0, 0x1_0000));
    assert!(!short.covers_ports(0xffff, 1));
}

#[test]
fn ports_fit_at_the_edges_of_a_grant_and_not_one_past() {
    let set = GrantSet::new().port_range(0x3f8, 8);
    assert!(set.covers_ports(0x3f8, 8));
    assert!(set.covers_ports(0x3ff, 1));
    assert!(!set.covers_ports(0x3f7, 1));
    assert!(!set.covers_ports(0x3f8, 9));
    assert!(!set.covers_ports(0x400, 1));
    assert_eq!(resolve(&set, "port 0x3fc 4\n"), Ok(1));
    assert_eq!(resolve(&set, "port 0x3fc 5\n"), Err("port 0x3fc 5".into()));
    assert_eq!(resolve(&set, "port 0x3f7 1\n"), Err("port 0x3f7 1".into()));
}

#[test]
fn an_empty_range_fits_nothing() {
    let set = GrantSet::new()
        .port_range(0x70, 2)
        .mmio_region(0x1000, 0x1000)
        .port_range(0x80, 0);
    assert!(!set.covers_ports(0x70, 0));
    assert!(!set.covers_mmio(0x1000, 0));
    // A grant of no ports covers nothing, not even its base.
    assert!(!set.covers_ports(0x80, 1));
    assert!(
        !GrantSet::new()
            .mmio_region(0x1000, 0)
            .covers_mmio(0x1000, 1)
    );
}

#[test]
fn overflowing_ranges_fit_nothing() {
    let set = GrantSet::new()
        .port_range(0, 0x1_0000)
        .mmio_region(0, u64::MAX);
    assert!(!set.covers_ports(u64::MAX, 2));
    assert!(!set.covers_ports(0xffff, u64::MAX));
    assert!(!set.covers_mmio(u64::MAX, 1));
    assert!(!set.covers_mmio(1, u64::MAX));
    assert!(set.covers_mmio(u64::MAX - 1, 1));
    // A grant whose own end overflows holds nothing.
    let wrapped = GrantSet::new().mmio_region(u64::MAX - 0xff, 0x1000);
    assert!(!wrapped.covers_mmio(u64::MAX - 0xff, 1));
}

#[test]
fn a_range_straddling_two_adjacent_grants_is_refused() {
    let set = GrantSet::new()
        .port_range(0x70, 2)
        .port_range(0x72, 2)
        .mmio_region(0x1000, 0x1000)
        .mmio_region(0x2000, 0x1000);
    assert!(set.covers_ports(0x70, 2));
    assert!(set.covers_ports(0x72, 2));
    assert!(!set.covers_ports(0x71, 2));
    assert!(!set.covers_ports(0x70, 4));
    assert_eq!(set.mmio_grant_covering(0x2000, 0x1000), Some(1));
    assert_eq!(set.mmio_grant_covering(0x1800, 0x1000), None);
    assert_eq!(resolve(&set, "port 0x71 2\n"), Err("port 0x71 2".into()));
    assert_eq!(
        resolve(&set, "mmio 0x1ffc 8\n"),
        Err("mmio 0x1ffc 8".into())
    );
}

#[test]
fn the_dma_budget_is_spent_across_requests() {
    let set = GrantSet::new().dma_bytes(100);
    assert_eq!(resolve(&set, "dma 60\ndma 40\n"), Ok(2));
    assert_eq!(
        resolve(&set, "dma 60\ndma 41\n"),
        Err("dma 41 bytes".into())
    );
    assert_eq!(resolve(&set, "dma 101\n"), Err("dma 101 bytes".into()));
    assert_eq!(
        resolve(&GrantSet::new(), "dma 4096\n"),
        Err("dma 4 KiB".into())
    );
    // Every call starts from the whole budget.
    assert_eq!(resolve(&set, "dma 100\n"), Ok(1));
}

#[test]
fn timers_irqs_and_endpoints_are_counted_or_named() {
    let set = GrantSet::new().irq_line(4).endpoint("log").timers(1);
    assert!(set.holds_irq(4));
    assert!(!set.holds_irq(5));
    assert!(set.holds_endpoint("log"));
    assert!(!set.holds_endpoint("lo"));
    assert_eq!(resolve(&set, "timer\n"), Ok(1));
    assert_eq!(resolve(&set, "timer\ntimer\n"), Err("timer".into()));
    assert_eq!(resolve(&set, "irq 5\n"), Err("irq 5".into()));
    assert_eq!(resolve(&set, "endpoint fs\n"), Err("endpoint fs".into()));
    assert_eq!(resolve(&GrantSet::new(), "irq 4\n"), Err("irq 4".into()));
}

#[test]
fn resolve_returns_the_requests_in_order_and_stops_at_the_first_misfit() {
    let set = GrantSet::new()
        .port_range(0x3f8, 8)
        .mmio_region(0x1000, 0x2000)
        .irq_line(4)
        .dma_bytes(100)
        .endpoint("log")
        .timers(1);
    let text = "cella 1\nname t\nversion 1\nendpoint log\nport 0x3fc 4\nirq 4\nmmio 0x2000 0x1000\ndma 100\ntimer\n";
    let manifest = Manifest::parse(text).expect("a valid manifest");
    let resolved: Vec<CapabilityRequest<'_>> =
        set.resolve(manifest.capabilities()).expect("all fit");
    assert_eq!(
        resolved,
        [
            CapabilityRequest::Endpoint { name: "log" },
            CapabilityRequest::PortRange {
                base: 0x3fc,
                count: 4
            },
            CapabilityRequest::IrqLine { line: 4 },
            CapabilityRequest::MmioRegion {
                base: 0x2000,
                length: 0x1000
            },
            CapabilityRequest::DmaPool { bytes: 100 },
            CapabilityRequest::Timer,
        ]
    );
    assert_eq!(
        resolve(&set, "irq 4\nmmio 0x2000 0x1001\nirq 9\n"),
        Err("mmio 0x2000 4097".into())
    );
}

#[test]
fn the_range_rule_at_its_edges() {
    assert!(range_holds(0x70, 2, 0x70, 2));
    assert!(range_holds(0x70, 2, 0x71, 1));
    assert!(!range_holds(0x70, 2, 0x71, 2));
    assert!(!range_holds(0x70, 2, 0x6f, 1));
    assert!(!range_holds(0x70, 2, 0x70, 0));
    assert!(!range_holds(0x70, 0, 0x70, 1));
    assert!(range_holds(0, u64::MAX, u64::MAX - 1, 1));
    assert!(!range_holds(0, u64::MAX, u64::MAX, 1));
    assert!(!range_holds(1, u64::MAX, 1, 1));
    assert!(!range_holds(0, 16, 8, u64::MAX));
}

#[test]
fn a_pci_request_fits_only_a_device_grant_with_its_ids_and_the_bus_only_its_grant() {
    let set = GrantSet::from_lines(&[
        GrantLine::Device {
            vendor: 0x1af4,
            device: 0x1042,
            slot: None,
        },
        GrantLine::DmaUnconfined,
    ]);
    assert_eq!(resolve(&set, "pci 0x1af4 0x1042\n"), Ok(1));
    assert!(set.holds_device(0x1af4, 0x1042));
    assert!(set.dma_unconfined());
    assert_eq!(
        resolve(&set, "pci 0x1af4 0x1041\n"),
        Err(String::from("pci 0x1af4 0x1041"))
    );
    assert_eq!(resolve(&set, "pci-bus\n"), Err(String::from("pci-bus")));
    let bus = GrantSet::from_lines(&[GrantLine::PciBus]);
    assert_eq!(resolve(&bus, "pci-bus\n"), Ok(1));
    assert!(!bus.dma_unconfined());
    assert_eq!(
        resolve(&bus, "pci 0x1af4 0x1042\n"),
        Err(String::from("pci 0x1af4 0x1042"))
    );
}
