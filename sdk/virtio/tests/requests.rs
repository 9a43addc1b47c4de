//! virtio-blk requests through the split queue against the device model:
//! reads and writes that round-trip, many in a row without leaking a
//! descriptor, requests refused before they reach the device, and the limit
//! on requests in flight.

mod model;

use cella_virtio::DmaRegion;
use cella_virtio::block::{Completion, Disk, Kind, Outcome, REQUESTS_IN_FLIGHT, Refusal};
use model::*;

const LARGEST: u32 = 7 * 512;

fn start(model: &Model) -> Disk<FakeWindow, impl DmaRegion> {
    Disk::start(&model.pci(), &model.dma(), LARGEST).expect("the device comes up")
}

fn pattern(seed: u8, length: usize) -> Vec<u8> {
    (0..length)
        .map(|at| (at as u8).wrapping_mul(7) ^ seed)
        .collect()
}

fn completed<W: cella_virtio::RegisterWindow, B: DmaRegion>(disk: &mut Disk<W, B>) -> Completion {
    disk.complete()
        .expect("no device garbage")
        .expect("a request finished")
}

#[test]
fn a_write_then_a_read_round_trip_through_the_disk() {
    let model = Model::new(64, OFFERED);
    let mut disk = start(&model);
    let data = pattern(0x5a, 3 * 512);
    disk.submit_write(0, 10, &data).expect("taken");
    let done = completed(&mut disk);
    assert_eq!(
        done,
        Completion {
            slot: 0,
            kind: Kind::Write,
            outcome: Outcome::Done,
            bytes: 3 * 512
        }
    );
    assert_eq!(&model.device.borrow().disk[10 * 512..13 * 512], &data[..]);

    disk.submit_read(1, 10, 3).expect("taken");
    let done = completed(&mut disk);
    assert_eq!(
        (done.slot, done.kind, done.outcome),
        (1, Kind::Read, Outcome::Done)
    );
    let mut back = vec![0; 3 * 512];
    disk.read_data(1, &mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(disk.complete(), Ok(None), "nothing else finished");
}

#[test]
fn a_read_returns_what_the_disk_holds() {
    let model = Model::new(64, OFFERED);
    let mut disk = start(&model);
    disk.submit_read(2, 63, 1).expect("the last sector");
    assert_eq!(completed(&mut disk).outcome, Outcome::Done);
    let mut back = vec![0; 512];
    disk.read_data(2, &mut back).unwrap();
    assert_eq!(back, model.device.borrow().disk[63 * 512..].to_vec());
}

#[test]
fn a_thousand_requests_in_a_row_leak_no_descriptor_or_slot() {
    let model = Model::new(64, OFFERED);
    let mut disk = start(&model);
    for round in 0..1000u32 {
        let sector = u64::from(round % 57);
        let data = pattern(round as u8, 7 * 512);
        disk.submit_write(0, sector, &data).expect("taken");
        assert_eq!(completed(&mut disk).outcome, Outcome::Done);
        disk.submit_read(0, sector, 7).expect("taken");
        assert_eq!(completed(&mut disk).outcome, Outcome::Done);
        let mut back = vec![0; 7 * 512];
        disk.read_data(0, &mut back).unwrap();
        assert_eq!(back, data, "round {round}");
        disk.submit_flush(0).expect("taken");
        assert_eq!(completed(&mut disk).kind, Kind::Flush);
    }
    assert_eq!(disk.in_flight(), 0);
    assert_eq!(model.device.borrow().served, 3000);
}

#[test]
fn requests_the_disk_cannot_take_are_refused_before_the_device_sees_them() {
    let model = Model::new(64, OFFERED);
    let mut disk = start(&model);
    assert_eq!(disk.submit_read(0, 62, 3), Err(Refusal::OutOfRange));
    assert_eq!(disk.submit_read(0, u64::MAX, 1), Err(Refusal::OutOfRange));
    assert_eq!(disk.submit_read(0, 64, 1), Err(Refusal::OutOfRange));
    assert_eq!(disk.submit_read(0, 0, 8), Err(Refusal::TooLong));
    assert_eq!(disk.submit_read(0, 0, u32::MAX), Err(Refusal::TooLong));
    assert_eq!(disk.submit_read(0, 0, 0), Err(Refusal::BadLength));
    assert_eq!(disk.submit_write(0, 0, &[1; 100]), Err(Refusal::BadLength));
    assert_eq!(disk.submit_write(0, 0, &[]), Err(Refusal::BadLength));
    assert_eq!(
        disk.submit_write(0, 0, &[1; 8 * 512]),
        Err(Refusal::TooLong)
    );
    assert_eq!(
        disk.submit_write(0, 63, &[1; 1024]),
        Err(Refusal::OutOfRange)
    );
    assert_eq!(
        disk.submit_read(REQUESTS_IN_FLIGHT, 0, 1),
        Err(Refusal::Busy)
    );
    assert_eq!(model.device.borrow().served, 0, "none reached the device");
    assert_eq!(disk.in_flight(), 0);
}

#[test]
fn a_read_only_disk_refuses_writes_and_one_without_flush_refuses_flushes() {
    let model = Model::new(8, VERSION_1 | BLOCK_READ_ONLY);
    let mut disk = start(&model);
    assert_eq!(disk.submit_write(0, 0, &[1; 512]), Err(Refusal::ReadOnly));
    assert_eq!(disk.submit_flush(0), Err(Refusal::Unsupported));
    assert_eq!(model.device.borrow().served, 0);
    disk.submit_read(0, 0, 1).expect("reads still go");
    assert_eq!(completed(&mut disk).outcome, Outcome::Done);
}

#[test]
fn requests_in_flight_are_limited_and_finish_in_any_slot() {
    let model = Model::new(64, OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut disk = start(&model);
    for slot in 0..REQUESTS_IN_FLIGHT {
        assert_eq!(disk.free_slot(), Some(slot));
        disk.submit_read(slot, slot as u64, 1).expect("taken");
    }
    assert_eq!(disk.free_slot(), None);
    assert_eq!(
        disk.submit_read(0, 0, 1),
        Err(Refusal::Busy),
        "slot 0 is in use"
    );
    assert_eq!(disk.submit_flush(3), Err(Refusal::Busy));
    assert_eq!(disk.complete(), Ok(None), "the device has not served yet");
    model.serve();
    let mut slots: Vec<usize> = (0..REQUESTS_IN_FLIGHT)
        .map(|_| completed(&mut disk).slot)
        .collect();
    slots.sort();
    assert_eq!(slots, vec![0, 1, 2, 3]);
    assert_eq!(disk.free_slot(), Some(0));
}

#[test]
fn a_device_error_status_is_reported_not_trusted() {
    let model = Model::new(64, OFFERED);
    let mut disk = start(&model);
    // The model answers IOERR for sectors past its disk: shrink the disk
    // behind the driver's back.
    model.device.borrow_mut().disk.truncate(8 * 512);
    disk.submit_read(0, 20, 1)
        .expect("taken: the driver's capacity is 64");
    assert_eq!(completed(&mut disk).outcome, Outcome::DeviceError);
    disk.submit_read(0, 0, 1).expect("the slot is free again");
    assert_eq!(completed(&mut disk).outcome, Outcome::Done);
}
