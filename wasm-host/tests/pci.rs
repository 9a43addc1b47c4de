//! A PCI device capability from inside a module: its own configuration
//! space (BARs and the ROM address read-only), its memory BARs as MMIO
//! capabilities, its interrupt line, DMA buffers allocated for it; and the
//! read-only bus capability an enumerator holds.

mod common;

use cella_interfaces::{pci, wire};
use cella_wasm_host::abi::{ErrorCode, PciAddress};
use cella_wasm_host::{Access, Bar, Grant, PciFunction, Registers, SimulatedPlatform, Width};
use common::{Probe, runtime};
use std::sync::Arc;

const DISK: PciAddress = PciAddress {
    bus: 0,
    device: 3,
    function: 0,
};
const OTHER: PciAddress = PciAddress {
    bus: 0,
    device: 4,
    function: 0,
};
const BAR4: u64 = 0xfe00_0000;

fn disk() -> PciFunction {
    let mut bars = [None; 6];
    bars[0] = Some(Bar::Io {
        base: 0xc000,
        count: 0x40,
    });
    bars[4] = Some(Bar::Memory {
        base: BAR4,
        length: 0x4000,
    });
    PciFunction {
        address: DISK,
        vendor: 0x1af4,
        device: 0x1042,
        class: 0x010000,
        bars,
        irq: Some(11),
        msix_capability: Some(0x98),
    }
}

/// Configuration space with the ids at 0 and a marker at 0x40.
fn config(vendor_device: u32, marker: u32) -> Registers {
    let mut registers = Registers::new(256);
    cella_wasm_host::Device::write(&mut registers, 0, Width::Dword, u64::from(vendor_device));
    cella_wasm_host::Device::write(&mut registers, 0x40, Width::Dword, u64::from(marker));
    registers
}

fn platform() -> SimulatedPlatform {
    let platform = SimulatedPlatform::new();
    platform.attach_pci(DISK, config(0x1042_1af4, 0xd15c));
    platform.attach_pci(OTHER, config(0x1041_1af4, 0x0e7));
    platform.attach_mmio(BAR4, 0x4000, Registers::new(0x4000));
    platform.attach_ports(0xc000, 0x40, Registers::new(0x40));
    platform
}

fn probe() -> Probe {
    let grant = Grant::new().pci_function(disk()).dma_bytes(8192);
    Probe::start_granted(
        runtime(),
        platform(),
        "pci 0x1af4 0x1042\ndma 8192\n",
        &grant,
    )
}

fn code(error: ErrorCode) -> i64 {
    i64::from(error.code())
}

#[test]
fn a_device_reads_and_writes_its_own_configuration_space_but_no_bar() {
    let mut probe = probe();
    let device = probe.handle(0);
    assert_eq!(probe.call("pci_config_read", device, 0, 4, 0), 0x1042_1af4);
    assert_eq!(probe.call("pci_config_read", device, 2, 2, 0), 0x1042);
    assert_eq!(probe.call("pci_config_read", device, 0x40, 4, 0), 0xd15c);
    assert_eq!(probe.call("pci_config_write", device, 4, 2, 0x6), 0);
    assert_eq!(probe.call("pci_config_read", device, 4, 2, 0), 0x6);
    assert!(
        probe.platform.accesses().is_empty(),
        "config is not port or MMIO"
    );
    let traced = probe.sandbox.recent_accesses();
    assert!(traced.contains(&Access::PciConfigWrite {
        address: DISK,
        offset: 4,
        width: Width::Word,
        value: 6
    }));
    assert_eq!(
        Access::PciConfigWrite {
            address: DISK,
            offset: 4,
            width: Width::Word,
            value: 6
        }
        .to_string(),
        "write pci 00:03.0+0x4 2 <- 0x6"
    );
    for offset in [0x10, 0x14, 0x20, 0x24, 0x30] {
        assert_eq!(
            probe.call("pci_config_write", device, offset, 4, -1),
            code(ErrorCode::Denied),
            "BAR or ROM at {offset:#x}"
        );
        assert_eq!(
            probe.call("pci_config_read", device, offset, 4, 0),
            0,
            "the BAR at {offset:#x} kept its value"
        );
    }
    assert_eq!(
        probe.call("pci_config_read", device, 2, 4, 0),
        code(ErrorCode::Misaligned)
    );
    assert_eq!(
        probe.call("pci_config_read", device, 256, 1, 0),
        code(ErrorCode::BadArgument)
    );
    assert_eq!(
        probe.call("pci_config_read", device, 0, 3, 0),
        code(ErrorCode::BadArgument)
    );
    let dma_pool = probe.handle(1);
    assert_eq!(
        probe.call("pci_config_read", dma_pool, 0, 4, 0),
        code(ErrorCode::Denied),
        "another kind of handle"
    );
    assert_eq!(
        probe.call("pci_bus_function", device, 0, 0x800, 256),
        code(ErrorCode::Denied),
        "a device handle does not list the bus"
    );
}

#[test]
fn memory_bars_become_mmio_capabilities_and_the_line_an_irq_capability() {
    let mut probe = probe();
    let device = probe.handle(0);
    let bar = probe.call("pci_bar", device, 4, 0, 0) as i32;
    assert!(bar >= 0, "BAR 4: {bar}");
    assert_eq!(
        probe.call("pci_bar", device, 4, 0, 0) as i32,
        bar,
        "asked twice, one handle"
    );
    assert_eq!(probe.call("mmio_write32", bar, 0x3ffc, 0x55, 0), 0);
    assert_eq!(probe.call("mmio_read32", bar, 0x3ffc, 0, 0), 0x55);
    assert_eq!(
        probe.call("mmio_read32", bar, 0x4000, 0, 0),
        code(ErrorCode::Denied),
        "past the BAR"
    );
    assert_eq!(
        probe.call("pci_bar", device, 0, 0, 0),
        code(ErrorCode::NotFound),
        "an I/O BAR"
    );
    let ports = probe.call("pci_io_bar", device, 0, 0, 0) as i32;
    assert!(ports >= 0, "I/O BAR 0: {ports}");
    assert_eq!(probe.call("pci_io_bar", device, 0, 0, 0) as i32, ports);
    assert_eq!(probe.call("port_out8", ports, 0x3f, 0x5a, 0), 0);
    assert_eq!(probe.call("port_in8", ports, 0x3f, 0, 0), 0x5a);
    assert_eq!(
        probe.call("port_in8", ports, 0x40, 0, 0),
        code(ErrorCode::Denied),
        "past the BAR's 64 ports"
    );
    assert_eq!(
        probe.call("pci_io_bar", device, 4, 0, 0),
        code(ErrorCode::NotFound),
        "a memory BAR"
    );
    assert_eq!(
        probe.call("pci_io_bar", device, 6, 0, 0),
        code(ErrorCode::BadArgument)
    );
    assert_eq!(
        probe.call("pci_bar", device, 1, 0, 0),
        code(ErrorCode::NotFound),
        "no BAR"
    );
    assert_eq!(
        probe.call("pci_bar", device, 6, 0, 0),
        code(ErrorCode::BadArgument)
    );
    let irq = probe.call("pci_irq", device, 0, 0, 0) as i32;
    assert!(irq >= 0);
    assert_eq!(probe.call("pci_irq", device, 0, 0, 0) as i32, irq);
    assert_eq!(probe.call("irq_enable", irq, 0, 0, 0), 0);
    assert!(probe.platform.irq_enabled(11));
}

#[test]
fn dma_buffers_are_allocated_for_the_granted_device_and_freed_with_it() {
    let mut probe = probe();
    let pool = probe.handle(1);
    let buffer = probe.call("dma_alloc", pool, 4096, 0, 0) as i32;
    let address = probe.call("dma_address", buffer, 0, 0, 0) as u64;
    assert_eq!(probe.platform.dma_device(address), Some(Some(DISK)));
    assert_eq!(probe.call("dma_free", buffer, 0, 0, 0), 0);
    assert_eq!(probe.platform.dma_device(address), None);
}

/// The bus as the kernel found it: two functions.
fn found() -> Arc<[pci::Function]> {
    let mut disk = pci::Function {
        device: 3,
        vendor_id: 0x1af4,
        device_id: 0x1042,
        class: 1,
        irq_line: 11,
        ..pci::Function::default()
    };
    disk.bars[4] = pci::Bar {
        kind: pci::BarKind::Memory64,
        address: BAR4,
        size: 0x4000,
        prefetchable: true,
    };
    let bridge = pci::Function {
        vendor_id: 0x8086,
        device_id: 0x29c0,
        class: 6,
        ..pci::Function::default()
    };
    Arc::from([bridge, disk])
}

#[test]
fn the_bus_capability_lists_the_functions_found_and_reaches_no_device() {
    let grant = Grant::new().pci_bus(found()).dma_bytes(4096);
    let mut probe = Probe::start_granted(runtime(), platform(), "pci-bus\ndma 4096\n", &grant);
    let bus = probe.handle(0);
    let pool = probe.handle(1);
    let buffer = probe.call("dma_alloc", pool, 4096, 0, 0) as i32;
    let address = probe.call("dma_address", buffer, 0, 0, 0) as u64;
    for (index, expected) in found().iter().enumerate() {
        let length = probe.call("pci_bus_function", bus, index as i32, 0x800, 256);
        assert!(length > 0, "function {index}: {length}");
        // Copy the record out through the DMA buffer to read it here.
        assert_eq!(probe.call("dma_write", buffer, 0, 0x800, length), 0);
        let record = probe.platform.dma_peek(address, length as usize).unwrap();
        assert_eq!(&wire::decode::<pci::Function>(&record).unwrap(), expected);
    }
    assert_eq!(
        probe.call("pci_bus_function", bus, 2, 0x800, 256),
        code(ErrorCode::NotFound)
    );
    assert_eq!(
        probe.call("pci_bus_function", bus, 1, 0x800, 8),
        code(ErrorCode::TooLong)
    );
    assert_eq!(
        probe.call("pci_bus_function", bus, 0, 0xffff, 256),
        code(ErrorCode::BadPointer)
    );
    assert_eq!(
        probe.call("pci_config_write", bus, 4, 2, 6),
        code(ErrorCode::Denied),
        "the bus is no device"
    );
    assert_eq!(
        probe.call("pci_config_read", bus, 0, 4, 0),
        code(ErrorCode::Denied)
    );
}

#[test]
fn a_request_for_another_device_or_the_bus_does_not_load() {
    let grant = Grant::new().pci_function(disk());
    let wasm = common::wasm("probe", "pci 0x1af4 0x1041\n", &common::probe_body());
    let error = runtime().load("probe", &wasm, &grant).unwrap_err();
    assert!(error.to_string().contains("pci 0x1af4 0x1041"), "{error}");
    let wasm = common::wasm("probe", "pci-bus\n", &common::probe_body());
    let error = runtime().load("probe", &wasm, &grant).unwrap_err();
    assert!(error.to_string().contains("pci-bus"), "{error}");
}

/// The command register of the disk's configuration space, read from outside.
fn command_register(platform: &SimulatedPlatform) -> u32 {
    let mut platform = platform.clone();
    cella_wasm_host::Platform::pci_config_read(&mut platform, DISK, 4, Width::Word)
}

#[test]
fn an_instance_that_faults_or_ends_turns_its_devices_bus_mastering_off_and_frees_its_dma() {
    for round in 0..20 {
        let mut probe = probe();
        let device = probe.handle(0);
        let pool = probe.handle(1);
        assert_eq!(probe.call("pci_config_write", device, 4, 2, 0x6), 0);
        assert!(probe.call("dma_alloc", pool, 4096, 0, 0) >= 0);
        assert_eq!(probe.platform.dma_in_use(), 4096);
        assert_eq!(command_register(&probe.platform), 0x6, "round {round}");
        let platform = probe.platform.clone();
        if round % 2 == 0 {
            probe
                .sandbox
                .fault_by_embedder(cella_wasm_host::Entry::None, "a test fault".into());
            assert!(!probe.sandbox.is_alive());
        } else {
            // Stopped or removed: the instance is dropped.
            drop(probe);
        }
        assert_eq!(
            command_register(&platform),
            0x2,
            "round {round}: memory space stays on, bus mastering is off"
        );
        assert_eq!(
            platform.dma_in_use(),
            0,
            "round {round}: its buffers are freed"
        );
    }
}

/// A driver of the disk that sets bus mastering in `init` and whose `restore_state` answers
/// `verdict`.
fn swappable_driver(verdict: i32) -> Vec<u8> {
    common::wasm(
        "disk-driver",
        "pci 0x1af4 0x1042\n",
        &format!(
            r#"
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "pci_config_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    (drop (call $write (call $cap_handle (i32.const 0)) (i32.const 4) (i32.const 2) (i32.const 6)))
    (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const {verdict}))
"#
        ),
    )
}

#[test]
fn a_swap_committed_or_failed_leaves_the_shared_devices_bus_mastering_on() {
    let mut runtime = runtime();
    let platform = platform();
    let grant = Grant::new().pci_function(disk());
    let old = runtime
        .load("disk-driver", &swappable_driver(0), &grant)
        .expect("loads");
    let refusing = runtime
        .load("disk-driver", &swappable_driver(-6), &grant)
        .expect("loads");
    let mut sandbox = runtime
        .start(&old, platform.clone(), cella_wasm_host::QueueOutbox::new(4))
        .expect("starts");
    assert_eq!(command_register(&platform), 0x6);
    for round in 0..20 {
        runtime.swap(&mut sandbox, &old).expect("the swap commits");
        assert_eq!(
            command_register(&platform),
            0x6,
            "round {round}: the old instance left the device to the new one"
        );
        assert!(runtime.swap(&mut sandbox, &refusing).is_err());
        assert_eq!(
            command_register(&platform),
            0x6,
            "round {round}: the refused successor left the device to the old instance"
        );
        assert!(sandbox.is_alive());
    }
}

/// The probe on a disk with a two-entry MSI-X table (capability at 0x98).
fn msix_probe() -> Probe {
    let probe = probe();
    probe.platform.attach_msix(DISK, 2);
    probe
}

#[test]
fn msix_vectors_come_from_the_kernel_per_entry_and_behave_as_irq_lines() {
    let mut probe = msix_probe();
    let device = probe.handle(0);
    let vector = probe.call("pci_msix", device, 0, 0, 0) as i32;
    assert!(vector >= 0, "{vector}");
    assert_eq!(probe.call("pci_msix", device, 0, 0, 0) as i32, vector);
    assert_eq!(probe.platform.msix_vectors(), [(16, DISK, 0)]);
    for entry in [2, -1, 0x1_0000] {
        assert_eq!(
            probe.call("pci_msix", device, entry, 0, 0),
            code(ErrorCode::BadArgument),
            "entry {entry}"
        );
    }
    assert_eq!(probe.call("irq_enable", vector, 0, 0, 0), 0);
    assert!(probe.platform.irq_enabled(16));
    assert_eq!(probe.call("irq_ack", vector, 0, 0, 0), 0);
    assert!(
        probe
            .platform
            .accesses()
            .contains(&Access::IrqAcknowledge { line: 16 })
    );
    let shown: Vec<String> = probe
        .sandbox
        .capabilities()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown.contains(&"irq 16 msi-x entry 0 (unmasked)".to_string()),
        "{shown:?}"
    );
    assert_eq!(probe.call("irq_disable", vector, 0, 0, 0), 0);
    assert!(!probe.platform.irq_enabled(16));
    // A second entry takes a second vector; the INTx line stays its own.
    let second = probe.call("pci_msix", device, 1, 0, 0) as i32;
    assert!(second >= 0 && second != vector);
    assert_eq!(probe.platform.msix_vectors().len(), 2);
    // A pool handle is no device.
    let pool = probe.handle(1);
    assert_eq!(
        probe.call("pci_msix", pool, 0, 0, 0),
        code(ErrorCode::Denied)
    );
}

#[test]
fn a_device_without_msix_answers_not_found_and_the_driver_keeps_intx() {
    let mut function = disk();
    function.msix_capability = None;
    let grant = Grant::new().pci_function(function).dma_bytes(8192);
    let mut probe = Probe::start_granted(
        runtime(),
        platform(),
        "pci 0x1af4 0x1042\ndma 8192\n",
        &grant,
    );
    let device = probe.handle(0);
    assert_eq!(
        probe.call("pci_msix", device, 0, 0, 0),
        code(ErrorCode::NotFound)
    );
    assert!(probe.call("pci_irq", device, 0, 0, 0) >= 0);
    assert!(probe.platform.msix_vectors().is_empty());
}

#[test]
fn the_msix_capability_is_the_kernels_to_write() {
    let mut probe = msix_probe();
    let device = probe.handle(0);
    for (offset, width) in [(0x98, 4), (0x9a, 2), (0x9b, 1), (0xa0, 4), (0xa3, 1)] {
        assert_eq!(
            probe.call("pci_config_write", device, offset, width, 0),
            code(ErrorCode::Denied),
            "offset {offset:#x}"
        );
    }
    assert_eq!(probe.call("pci_config_write", device, 0xa4, 4, 0), 0);
    assert_eq!(probe.call("pci_config_write", device, 0x94, 4, 0), 0);
    assert_eq!(probe.call("pci_config_read", device, 0x9a, 2, 0), 0);
}

#[test]
fn msix_vectors_go_back_to_the_kernel_when_an_instance_faults_or_ends_many_times() {
    for round in 0..25 {
        let mut probe = msix_probe();
        let device = probe.handle(0);
        let vector = probe.call("pci_msix", device, 0, 0, 0) as i32;
        assert!(vector >= 0, "round {round}");
        assert_eq!(probe.call("irq_enable", vector, 0, 0, 0), 0);
        assert_eq!(
            probe.platform.msix_vectors(),
            [(16, DISK, 0)],
            "round {round}"
        );
        let platform = probe.platform.clone();
        if round % 2 == 0 {
            probe
                .sandbox
                .fault_by_embedder(cella_wasm_host::Entry::None, "a test fault".into());
        } else {
            drop(probe);
        }
        assert!(platform.msix_vectors().is_empty(), "round {round}");
        assert!(!platform.irq_enabled(16), "round {round}: masked");
    }
}
