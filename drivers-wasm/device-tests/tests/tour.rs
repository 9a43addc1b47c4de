//! The SDK tour module: MMIO (including the 64-bit read through a pointer),
//! DMA copies both ways, a one-shot timer and a request, each checked at the
//! device.

use cella_device_tests::{log_messages, replies_to, start};
use cella_wasm_host::{
    Access, DMA_BASE, Delivery, Device, Event, Grant, Registers, SimulatedPlatform, Width,
};

#[test]
fn mmio_dma_timer_and_request() {
    let platform = SimulatedPlatform::new();
    let mut registers = Registers::new(0x1000);
    registers.write(0, Width::Qword, 0x1234_5678_9abc_def0);
    platform.attach_mmio(0xfeb0_0000, 0x1000, registers);
    platform.set_now(5_000);
    let grant = Grant::new()
        .mmio_region(0xfeb0_0000, 0x1000)
        .dma_bytes(8192)
        .timers(1);
    let mut sandbox = start("cella-tour", &grant, &platform);

    let mmio: Vec<Access> = platform
        .accesses()
        .into_iter()
        .filter(|access| matches!(access, Access::MmioRead { .. } | Access::MmioWrite { .. }))
        .collect();
    assert_eq!(
        mmio,
        [
            Access::MmioRead {
                region: 0xfeb0_0000,
                offset: 0,
                width: Width::Qword,
                value: 0x1234_5678_9abc_def0
            },
            Access::MmioWrite {
                region: 0xfeb0_0000,
                offset: 0x8,
                width: Width::Qword,
                value: DMA_BASE
            },
            Access::MmioWrite {
                region: 0xfeb0_0000,
                offset: 0x10,
                width: Width::Dword,
                value: 13
            },
        ]
    );
    assert_eq!(platform.dma_peek(DMA_BASE, 13).unwrap(), b"hello, device");
    assert_eq!(
        log_messages(&platform),
        [format!(
            "device 0x123456789abcdef0: buffer at {DMA_BASE:#x} holds \"hello, device\""
        )]
    );
    assert_eq!(sandbox.next_timer_deadline(), Some(1_005_000));

    assert_eq!(sandbox.deliver(Event::Timer).unwrap(), Delivery::NothingDue);
    platform.set_now(1_005_000);
    assert_eq!(
        sandbox.deliver(Event::Timer).unwrap(),
        Delivery::Handled { count: 1 }
    );
    assert!(platform.accesses().contains(&Access::MmioWrite {
        region: 0xfeb0_0000,
        offset: 0x14,
        width: Width::Byte,
        value: 1
    }));
    sandbox
        .deliver(Event::Message {
            request: 3,
            bytes: b"rings?",
        })
        .unwrap();
    assert_eq!(
        replies_to(&sandbox.outbox().drain(), 3),
        [1u32.to_le_bytes().to_vec()]
    );
}
