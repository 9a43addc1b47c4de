//! virtio-net against the device model: the handshake and the features
//! taken, frames sent with their header, frames received, held, dropped
//! and counted, a full transmit queue, and every bad value the device can
//! write into a used ring answered with an error.

mod model;

use cella_interfaces::wire::Reader;
use cella_virtio::Error;
use cella_virtio::net::{
    HELD_FRAMES, Nic, RECEIVE_BUFFERS, SendRefusal, TRANSMIT_IN_FLIGHT, Taken,
};
use model::*;

type Device = Nic<FakeWindow, FakeBuffer>;

fn start(model: &Model) -> Device {
    Nic::start(&model.pci(), &model.dma(), Some(0)).expect("the device comes up")
}

/// A frame whose bytes say which it is.
fn frame(number: u8, length: usize) -> Vec<u8> {
    let mut frame = vec![number; length];
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame
}

/// The frames `take` packed.
fn unpack(packed: &[u8], taken: Taken) -> Vec<Vec<u8>> {
    let mut reader = Reader::new(&packed[..taken.bytes]);
    let frames: Vec<Vec<u8>> = (0..taken.count)
        .map(|_| {
            let frame: &[u8] = cella_interfaces::wire::Wire::decode(&mut reader).unwrap();
            frame.to_vec()
        })
        .collect();
    reader.finish().expect("nothing after the frames");
    frames
}

fn take_all(nic: &mut Device) -> (Vec<Vec<u8>>, u32) {
    let mut packed = [0u8; 4096];
    nic.receive().expect("no garbage");
    let taken = nic.take(&mut packed).expect("taken");
    (unpack(&packed, taken), taken.dropped)
}

#[test]
fn the_handshake_takes_the_mac_and_status_and_no_offload() {
    let model = Model::net(NET_OFFERED);
    let nic = start(&model);
    assert_eq!(nic.mac(), MODEL_MAC);
    assert_eq!(nic.link_up(), Ok(true));
    let device = model.device.borrow();
    assert_eq!(device.status, 1 | 2 | 8 | 4);
    assert_eq!(
        device.driver_features,
        VERSION_1 | ACCESS_PLATFORM | NET_MAC | NET_STATUS,
        "checksum offload, mergeable buffers, the control queue, packed rings and event index refused"
    );
    assert_eq!(device.queue_size, RECEIVE_BUFFERS);
    let transmit = &device.net.as_ref().unwrap().transmit;
    assert!(device.queue_enabled && transmit.enabled);
    assert_eq!(usize::from(transmit.size), TRANSMIT_IN_FLIGHT);
    assert_eq!(
        (device.queue_vector, transmit.vector),
        (0, 0),
        "MSI-X entry 0"
    );
    assert_eq!(nic.msix_entry(), Some(0));
    let posted = device.memory.borrow().u16_at(device.driver_ring + 2);
    assert_eq!(posted, Some(RECEIVE_BUFFERS), "every receive buffer posted");
}

#[test]
fn without_the_mac_feature_the_fallback_address_is_used_and_the_link_reads_up() {
    let model = Model::net(VERSION_1);
    let nic = start(&model);
    assert_eq!(model.device.borrow().driver_features, VERSION_1);
    assert_eq!(nic.mac(), cella_virtio::net::FALLBACK_MAC);
    model.device.borrow_mut().net.as_mut().unwrap().link_up = false;
    assert_eq!(
        nic.link_up(),
        Ok(true),
        "no status feature: nothing to read"
    );
}

#[test]
fn the_link_state_is_read_from_the_device() {
    let model = Model::net(NET_OFFERED);
    let nic = start(&model);
    model.device.borrow_mut().net.as_mut().unwrap().link_up = false;
    assert_eq!(nic.link_up(), Ok(false));
}

#[test]
fn a_frame_sent_reaches_the_device_after_a_zero_header() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    let sent = frame(7, 342);
    nic.send(&sent).expect("sent");
    let kept = model.sent();
    assert_eq!(kept.len(), 1);
    assert_eq!(&kept[0][..12], &[0u8; 12], "no offload asked for");
    assert_eq!(&kept[0][12..], &sent[..]);
    assert_eq!(nic.reclaim(), Ok(1));
    assert_eq!(nic.sending(), 0);
}

#[test]
fn frames_of_the_wrong_length_are_refused_and_never_reach_the_device() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    assert_eq!(nic.send(&[0; 13]), Err(SendRefusal::BadLength));
    assert_eq!(nic.send(&[0; 1515]), Err(SendRefusal::BadLength));
    assert!(model.sent().is_empty());
    nic.send(&frame(1, 1514)).expect("the longest frame goes");
}

#[test]
fn a_full_transmit_queue_answers_busy_until_the_device_sends() {
    let model = Model::net(NET_OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut nic = start(&model);
    for number in 0..TRANSMIT_IN_FLIGHT {
        nic.send(&frame(number as u8, 60)).expect("room");
    }
    assert_eq!(nic.send(&frame(99, 60)), Err(SendRefusal::Busy));
    model.transmit();
    nic.send(&frame(100, 60)).expect("room again once sent");
    model.transmit();
    let numbers: Vec<u8> = model.sent().iter().map(|frame| frame[12 + 14]).collect();
    let mut expected: Vec<u8> = (0..TRANSMIT_IN_FLIGHT as u8).collect();
    expected.push(100);
    assert_eq!(numbers, expected, "the refused frame never went");
}

#[test]
fn frames_delivered_come_out_of_take_in_order_and_their_buffers_go_back() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    let delivered = [frame(1, 60), frame(2, 1514), frame(3, 342)];
    for frame in &delivered {
        assert!(model.deliver(frame));
    }
    assert_eq!(nic.receive(), Ok(3));
    assert_eq!(nic.held(), 3);
    let mut packed = [0u8; 4096];
    let taken = nic.take(&mut packed).expect("taken");
    assert_eq!(unpack(&packed, taken), delivered.to_vec());
    assert_eq!(taken.dropped, 0);
    assert_eq!(nic.held(), 0);
    let device = model.device.borrow();
    let posted = device.memory.borrow().u16_at(device.driver_ring + 2);
    assert_eq!(
        posted,
        Some(RECEIVE_BUFFERS + 3),
        "the three buffers posted again"
    );
}

#[test]
fn take_packs_only_whole_frames_that_fit_and_keeps_the_rest() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    for number in 0..3 {
        assert!(model.deliver(&frame(number, 1514)));
    }
    nic.receive().unwrap();
    let mut packed = [0u8; 3100];
    let taken = nic.take(&mut packed).unwrap();
    assert_eq!(taken.count, 2, "two of 1,516 packed bytes fit in 3,100");
    assert_eq!(nic.held(), 1);
    let (rest, _) = take_all(&mut nic);
    assert_eq!(rest, vec![frame(2, 1514)]);
}

#[test]
fn frames_nobody_takes_drop_the_oldest_and_are_counted_once() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    let extra = 5;
    for number in 0..(HELD_FRAMES + extra) as u8 {
        assert!(
            model.deliver(&frame(number, 60)),
            "the device always has buffers"
        );
        nic.receive().unwrap();
    }
    assert_eq!(nic.held(), HELD_FRAMES);
    assert_eq!(nic.dropped(), extra as u32);
    let (frames, dropped) = take_all(&mut nic);
    assert_eq!(dropped, extra as u32);
    let first: Vec<u8> = frames.iter().map(|frame| frame[20]).collect();
    let expected: Vec<u8> = (extra as u8..(HELD_FRAMES + extra) as u8).collect();
    assert_eq!(first, expected, "the newest kept, oldest first");
    let (frames, dropped) = take_all(&mut nic);
    assert!(frames.is_empty());
    assert_eq!(
        dropped, 0,
        "the count starts again after it was handed over"
    );
}

#[test]
fn ten_thousand_frames_in_and_out_leave_every_buffer_posted() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    for round in 0..10_000u32 {
        let number = round as u8;
        assert!(model.deliver(&frame(number, 60 + (round % 1400) as usize)));
        nic.send(&frame(number, 60)).expect("sent");
        let (frames, dropped) = take_all(&mut nic);
        assert_eq!((frames.len(), dropped), (1, 0), "round {round}");
        assert_eq!(frames[0][20], number);
    }
    assert_eq!(nic.held(), 0);
    assert_eq!(nic.reclaim(), Ok(1), "the last frame's slot comes back");
    assert_eq!(nic.sending(), 0, "every sent frame's slot came back");
    assert_eq!(model.sent().len(), 10_000);
}

#[test]
fn a_runt_frame_is_dropped_and_counted() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    assert!(model.deliver(&[1; 10]));
    assert_eq!(nic.receive(), Ok(0));
    let (frames, dropped) = take_all(&mut nic);
    assert!(frames.is_empty());
    assert_eq!(dropped, 1);
}

#[test]
fn each_bad_receive_used_entry_is_an_error_and_the_device_is_given_up() {
    let cases = [
        (Garbage::IndexAhead, Error::UsedIndexAhead { ahead: 33 }),
        (Garbage::IdOutOfRange, Error::UsedIdOutOfRange { id: 35 }),
        (
            Garbage::LengthTooLong,
            Error::UsedLengthTooLong {
                id: 0,
                written: 4096,
                offered: 1536,
            },
        ),
        (
            Garbage::LengthTooShort,
            Error::UsedLengthTooShort {
                id: 0,
                written: 11,
                least: 12,
            },
        ),
    ];
    for (garbage, expected) in cases {
        let model = Model::net(NET_OFFERED);
        let mut nic = start(&model);
        model.device.borrow_mut().garbage = Some(garbage);
        assert!(model.deliver(&frame(1, 60)));
        assert_eq!(nic.receive(), Err(expected), "{garbage:?}");
        assert!(nic.is_broken());
        assert_eq!(nic.receive(), Err(Error::QueueBroken), "{garbage:?}");
        let mut packed = [0u8; 64];
        assert_eq!(nic.take(&mut packed), Err(Error::QueueBroken));
        assert_eq!(
            nic.send(&frame(2, 60)),
            Err(SendRefusal::Device(Error::QueueBroken))
        );
    }
}

#[test]
fn a_receive_id_not_in_flight_is_an_error() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    assert!(model.deliver(&frame(1, 60)));
    assert_eq!(nic.receive(), Ok(1), "its buffer is held, out of the ring");
    model.device.borrow_mut().garbage = Some(Garbage::IdNotOutstanding);
    assert!(model.deliver(&frame(2, 60)));
    assert_eq!(
        nic.receive(),
        Err(Error::UsedIdNotOutstanding { id: 0 }),
        "the device named the held buffer again"
    );
}

#[test]
fn each_bad_transmit_used_entry_is_an_error() {
    let cases = [
        (Garbage::IndexAhead, Error::UsedIndexAhead { ahead: 9 }),
        (Garbage::IdOutOfRange, Error::UsedIdOutOfRange { id: 11 }),
        (
            Garbage::IdNotOutstanding,
            Error::UsedIdNotOutstanding { id: 1 },
        ),
        (
            Garbage::LengthTooLong,
            Error::UsedLengthTooLong {
                id: 0,
                written: 4096,
                offered: 0,
            },
        ),
    ];
    for (garbage, expected) in cases {
        let model = Model::net(NET_OFFERED);
        let mut nic = start(&model);
        model.device.borrow_mut().garbage = Some(garbage);
        nic.send(&frame(1, 60)).expect("taken");
        assert_eq!(nic.reclaim(), Err(expected), "{garbage:?}");
        assert!(nic.is_broken());
        assert_eq!(
            nic.send(&frame(2, 60)),
            Err(SendRefusal::Device(Error::QueueBroken))
        );
    }
}

#[test]
fn abandoning_resets_the_device_and_forgets_the_frames() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    assert!(model.deliver(&frame(1, 60)));
    nic.receive().unwrap();
    nic.abandon();
    assert_eq!(model.status(), 0, "reset");
    assert_eq!(nic.held(), 0);
    assert_eq!(nic.receive(), Err(Error::QueueBroken));
}

#[test]
fn a_device_with_too_small_a_queue_is_refused_and_told_failed() {
    let model = Model::net(NET_OFFERED);
    model.device.borrow_mut().queue_size_offered = 16;
    model.device.borrow_mut().queue_size = 16;
    let started = Nic::start(&model.pci(), &model.dma(), None);
    assert_eq!(started.err(), Some(Error::NoSuchQueue { index: 0 }));
    assert_eq!(model.status() & 128, 128, "FAILED");
}

#[test]
fn a_dma_budget_too_small_is_an_error_not_a_panic() {
    let model = Model::net(NET_OFFERED);
    model.memory.borrow_mut().budget_left = 32 * 1024;
    let started = Nic::start(&model.pci(), &model.dma(), None);
    assert!(matches!(started.err(), Some(Error::Platform(_))));
    assert_eq!(model.status() & 128, 128, "FAILED");
}
