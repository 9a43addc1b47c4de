//! The virtio-net driver's built module against a virtio-net function model: its `init`
//! brings the card up (features, both queues, every receive buffer posted), and a `send`
//! leaves the frame behind a zero header on the transmit queue, where the device finds it;
//! a ninth frame while the device sends none is answered `Busy`.

use cella_device_tests::models::{
    VIRTIO_NET_ADDRESS, VIRTIO_NET_BAR_BASE, VIRTIO_NET_BAR_LENGTH, VirtioNet,
};
use cella_device_tests::{TestSandbox, log_messages, replies_to, start};
use cella_interfaces::net::{self, NetError, Sent};
use cella_wasm_host::{Event, Grant, SimulatedPlatform};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];

fn machine() -> (SimulatedPlatform, VirtioNet) {
    let platform = SimulatedPlatform::new();
    let card = VirtioNet::new(MAC);
    platform.attach_pci(VIRTIO_NET_ADDRESS, card.config_space());
    platform.attach_mmio(VIRTIO_NET_BAR_BASE, VIRTIO_NET_BAR_LENGTH, card.registers());
    (platform, card)
}

fn grant() -> Grant {
    Grant::new()
        .pci_function(VirtioNet::function())
        .dma_bytes(65536)
        .timers(1)
}

fn u16_at(platform: &SimulatedPlatform, address: u64) -> u16 {
    let bytes = platform.dma_peek(address, 2).expect("inside a DMA buffer");
    u16::from_le_bytes([bytes[0], bytes[1]])
}

/// Sends `frame` through the `net` interface; the answer.
fn send(sandbox: &mut TestSandbox, request: u32, frame: &[u8]) -> Result<Sent, NetError> {
    let mut bytes = [0; 2048];
    let length = net::send::request(&mut bytes, frame).unwrap();
    sandbox
        .deliver(Event::Message {
            request,
            bytes: &bytes[..length],
        })
        .unwrap();
    let replies = replies_to(&sandbox.outbox().drain(), request);
    assert_eq!(replies.len(), 1, "one answer");
    net::send::reply(&replies[0]).expect("an answer of `send`")
}

#[test]
fn init_brings_the_card_up_with_every_receive_buffer_posted() {
    let (platform, card) = machine();
    let _sandbox = start("cella-virtio-net", &grant(), &platform);
    assert_eq!(
        card.status(),
        1 | 2 | 8 | 4,
        "ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK"
    );
    assert_eq!(
        card.driver_features(),
        1 << 32 | 1 << 33 | 1 << 5 | 1 << 16,
        "VERSION_1, ACCESS_PLATFORM, MAC, STATUS; no checksum offload, no control queue"
    );
    let receive = card.queue(0);
    assert!(receive.enabled && card.queue(1).enabled);
    assert_eq!((receive.size, card.queue(1).size), (32, 8));
    assert_eq!(
        u16_at(&platform, receive.driver_ring + 2),
        32,
        "every receive buffer posted"
    );
    assert!(
        card.notified().contains(&0),
        "the receive queue was notified"
    );
    let messages = log_messages(&platform);
    assert!(
        messages
            .iter()
            .any(|line| line.starts_with("MAC 52:54:00:ab:cd:ef, MTU 1500, link up")),
        "{messages:?}"
    );
}

#[test]
fn a_frame_sent_lies_behind_a_zero_header_on_the_transmit_queue_and_a_ninth_is_busy() {
    let (platform, card) = machine();
    let mut sandbox = start("cella-virtio-net", &grant(), &platform);
    let mut frame = vec![0xffu8; 6];
    frame.extend_from_slice(&MAC);
    frame.extend_from_slice(&[0x08, 0x06]);
    frame.extend((0..46).map(|at| at as u8));
    assert_eq!(send(&mut sandbox, 1, &frame), Ok(Sent { length: 60 }));
    let transmit = card.queue(1);
    assert_eq!(
        u16_at(&platform, transmit.driver_ring + 2),
        1,
        "one frame available"
    );
    let head = u16_at(&platform, transmit.driver_ring + 4);
    let descriptor = platform
        .dma_peek(transmit.descriptors + 16 * u64::from(head), 16)
        .expect("the descriptor");
    let address = u64::from_le_bytes(descriptor[0..8].try_into().unwrap());
    let length = u32::from_le_bytes(descriptor[8..12].try_into().unwrap());
    let flags = u16::from_le_bytes(descriptor[12..14].try_into().unwrap());
    assert_eq!(length, 12 + 60);
    assert_eq!(flags, 0, "one buffer the device reads");
    let bytes = platform.dma_peek(address, 72).expect("the frame's buffer");
    assert_eq!(&bytes[..12], &[0u8; 12], "no offload asked for");
    assert_eq!(&bytes[12..], &frame[..]);
    assert_eq!(
        card.notified().last(),
        Some(&1),
        "the transmit queue was notified"
    );
    // The model sends nothing: seven more fill the queue, and the ninth waits for room.
    for request in 2..9 {
        assert_eq!(send(&mut sandbox, request, &frame), Ok(Sent { length: 60 }));
    }
    assert_eq!(send(&mut sandbox, 9, &frame), Err(NetError::Busy));
    assert_eq!(u16_at(&platform, transmit.driver_ring + 2), 8);
}
