//! virtio-net given bad input by the device: frames too short or too long
//! for Ethernet are dropped and counted, and the good frames around them
//! arrive whole; each kind of used-ring garbage (an id out of range, an
//! index that jumps past the queue's size, a length past the buffer, a
//! length shorter than the header, a completion of a buffer already
//! completed) is an error, never a panic, and a fresh start on the same
//! device, as the restarted driver makes, receives good frames again.

mod model;

use cella_interfaces::net::{MAX_FRAME_BYTES, MIN_FRAME_BYTES};
use cella_interfaces::wire::{Reader, Wire};
use cella_virtio::Error;
use cella_virtio::net::{Nic, RECEIVE_BUFFERS, Taken};
use model::*;

type Device = Nic<FakeWindow, FakeBuffer>;

/// Starts the driver as a module instance does, with its whole DMA grant
/// (a restarted instance gets its grant anew, and its predecessor's
/// buffers are gone).
fn start(model: &Model) -> Device {
    let mut memory = model.memory.borrow_mut();
    memory.budget_left = 96 * 1024;
    memory.next = memory.base;
    drop(memory);
    Nic::start(&model.pci(), &model.dma(), Some(0)).expect("the device comes up")
}

/// A frame of `length` bytes whose bytes say which it is.
fn frame(number: u8, length: usize) -> Vec<u8> {
    let mut frame = vec![number; length];
    let header = length.min(14);
    frame[..header].fill(0xff);
    frame
}

/// Every frame waiting, and the dropped count handed over.
fn take_all(nic: &mut Device) -> (Vec<Vec<u8>>, u32) {
    let mut packed = [0u8; 4096];
    let mut frames = Vec::new();
    let mut dropped = 0;
    loop {
        nic.receive().expect("no garbage");
        let Taken {
            count,
            bytes,
            dropped: more,
        } = nic.take(&mut packed).expect("taken");
        dropped += more;
        if count == 0 {
            return (frames, dropped);
        }
        let mut reader = Reader::new(&packed[..bytes]);
        for _ in 0..count {
            let frame: &[u8] = Wire::decode(&mut reader).unwrap();
            frames.push(frame.to_vec());
        }
    }
}

#[test]
fn frames_too_long_for_ethernet_are_dropped_and_counted_not_cut() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    // The receive buffer holds 1,524 bytes of frame: more than Ethernet's 1,514.
    for length in [MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES + 10] {
        assert!(model.deliver(&frame(1, length)), "{length}");
        let (frames, dropped) = take_all(&mut nic);
        assert_eq!((frames.len(), dropped), (0, 1), "{length} bytes");
    }
    assert!(model.deliver(&frame(2, MAX_FRAME_BYTES)));
    let (frames, dropped) = take_all(&mut nic);
    assert_eq!(dropped, 0);
    assert_eq!(frames, [frame(2, MAX_FRAME_BYTES)]);
}

#[test]
fn runts_and_giants_among_a_thousand_good_frames_leave_every_good_one_whole() {
    let model = Model::net(NET_OFFERED);
    let mut nic = start(&model);
    let mut dropped_expected = 0;
    let mut dropped_seen = 0;
    for round in 0..1_000u32 {
        let number = round as u8;
        let bad = match round % 3 {
            0 => frame(number, (round as usize) % MIN_FRAME_BYTES),
            1 => frame(number, MAX_FRAME_BYTES + 1 + (round as usize) % 10),
            _ => Vec::new(),
        };
        if round % 3 != 2 {
            assert!(model.deliver(&bad), "round {round}");
            dropped_expected += 1;
        }
        let good = frame(number, MIN_FRAME_BYTES + (round as usize * 13) % 1400);
        assert!(model.deliver(&good), "round {round}");
        let (frames, dropped) = take_all(&mut nic);
        dropped_seen += dropped;
        assert_eq!(frames, [good], "round {round}");
    }
    assert_eq!(dropped_seen, dropped_expected);
    assert_eq!(nic.held(), 0);
    assert!(!nic.is_broken());
}

#[test]
fn after_each_kind_of_garbage_a_fresh_start_receives_good_frames() {
    let kinds = [
        Garbage::IdOutOfRange,
        Garbage::IndexAhead,
        Garbage::LengthTooLong,
        Garbage::LengthTooShort,
        Garbage::IdNotOutstanding,
    ];
    let model = Model::net(NET_OFFERED);
    for round in 0..20 {
        for garbage in kinds {
            let mut nic = start(&model);
            if garbage == Garbage::IdNotOutstanding {
                // A completion of the buffer the driver holds: the same id twice.
                assert!(model.deliver(&frame(1, 60)));
                assert_eq!(nic.receive(), Ok(1));
            }
            model.device.borrow_mut().garbage = Some(garbage);
            assert!(model.deliver(&frame(2, 60)));
            let error = nic.receive().expect_err("garbage is an error");
            assert!(
                matches!(
                    error,
                    Error::UsedIdOutOfRange { .. }
                        | Error::UsedIndexAhead { .. }
                        | Error::UsedLengthTooLong { .. }
                        | Error::UsedLengthTooShort { .. }
                        | Error::UsedIdNotOutstanding { .. }
                ),
                "round {round}, {garbage:?}: {error:?}"
            );
            assert!(nic.is_broken());
            nic.abandon();
            model.device.borrow_mut().garbage = None;
            let mut fresh = start(&model);
            for number in 0..RECEIVE_BUFFERS as u8 + 4 {
                assert!(model.deliver(&frame(number, 100)), "round {round}");
                let (frames, dropped) = take_all(&mut fresh);
                assert_eq!(frames, [frame(number, 100)], "round {round}, {garbage:?}");
                assert_eq!(dropped, 0);
            }
            fresh.abandon();
        }
    }
}
