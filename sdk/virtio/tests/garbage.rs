//! A device that writes garbage into the used ring: each kind is its own
//! error, never a panic or an index out of bounds, the queue takes no more
//! work, and abandoning the device hands back the requests in flight.

mod model;

use cella_virtio::block::{Disk, Kind, Refusal};
use cella_virtio::{DmaRegion, Error};
use model::*;

fn garbage_after_one_request(
    garbage: Garbage,
) -> (Model, Result<(), Error>, Disk<FakeWindow, impl DmaRegion>) {
    let model = Model::new(64, OFFERED);
    model.device.borrow_mut().garbage = Some(garbage);
    let mut disk = Disk::start(&model.pci(), &model.dma(), 7 * 512).expect("comes up");
    disk.submit_read(1, 4, 2).expect("taken");
    let result = disk.complete().map(|_| ());
    (model, result, disk)
}

#[test]
fn each_kind_of_used_ring_garbage_is_its_own_error() {
    let cases = [
        (Garbage::IndexAhead, Error::UsedIndexAhead { ahead: 17 }),
        (Garbage::IdOutOfRange, Error::UsedIdOutOfRange { id: 19 }),
        (
            Garbage::IdNotOutstanding,
            Error::UsedIdNotOutstanding { id: 1 },
        ),
        (
            Garbage::LengthTooLong,
            Error::UsedLengthTooLong {
                id: 0,
                written: 2 * 512 + 2,
                offered: 2 * 512 + 1,
            },
        ),
    ];
    for (garbage, expected) in cases {
        let (_model, result, disk) = garbage_after_one_request(garbage);
        assert_eq!(result, Err(expected), "{garbage:?}");
        assert!(disk.is_broken(), "{garbage:?}");
    }
}

#[test]
fn a_broken_queue_takes_no_more_work_and_abandoning_frees_the_slots() {
    let (model, result, mut disk) = garbage_after_one_request(Garbage::LengthTooLong);
    assert!(result.is_err());
    assert_eq!(disk.complete(), Err(Error::QueueBroken));
    assert_eq!(disk.complete(), Err(Error::QueueBroken), "and again");
    assert_eq!(
        disk.submit_read(0, 0, 1),
        Err(Refusal::Device(Error::QueueBroken))
    );
    let abandoned = disk.abandon();
    assert_eq!(abandoned, [None, Some(Kind::Read), None, None]);
    assert_eq!(model.status(), 0, "the device was reset");
    assert_eq!(disk.in_flight(), 0);
    assert_eq!(disk.abandon(), [None; 4], "nothing is handed back twice");
}

#[test]
fn a_used_index_that_wraps_around_is_read_modulo_and_checked() {
    // 70,000 requests move both indices past 65,535: the distance between
    // them is what is checked, so the wrap is no garbage.
    let model = Model::new(8, OFFERED);
    let mut disk = Disk::start(&model.pci(), &model.dma(), 512).expect("comes up");
    for _ in 0..70_000 {
        disk.submit_read(0, 0, 1).expect("taken");
        assert!(disk.complete().expect("no garbage").is_some());
    }
    assert_eq!(
        model.device.borrow().used_index,
        (70_000u32 % 65_536) as u16
    );
}
