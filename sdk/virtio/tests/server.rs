//! The `block` interface served over the device model: typed requests in,
//! typed answers out with their ids, at once when refused and after the
//! device finished otherwise.

mod model;

use cella_interfaces::block::{
    self, BlockError, Capacity, Data, Done, Failed, MAX_LENT_SECTORS, MAX_TRANSFER_BYTES,
};
use cella_interfaces::wire::WireError;
use cella_virtio::block::Disk;
use cella_virtio::platform::{DmaMemory, DmaRegion};
use cella_virtio::server::{BlockServer, Handled, Lent, Next, Polled};
use model::*;

type Server = BlockServer<FakeWindow, FakeBuffer, u32>;

fn serve(model: &Model) -> Server {
    let disk =
        Disk::start(&model.pci(), &model.dma(), MAX_TRANSFER_BYTES as u32).expect("comes up");
    BlockServer::new(disk)
}

/// Answers collected from a poll: (token, reply bytes).
fn poll(server: &mut Server) -> (Polled, Vec<(u32, Vec<u8>)>) {
    let mut answers = Vec::new();
    let polled = server.poll(|token, reply| answers.push((token, reply.to_vec())));
    (polled, answers)
}

fn ask(server: &mut Server, token: u32, request: &[u8]) -> Result<Vec<u8>, Handled> {
    ask_lending(server, token, request, None)
}

fn ask_lending(
    server: &mut Server,
    token: u32,
    request: &[u8],
    loan: Option<Lent>,
) -> Result<Vec<u8>, Handled> {
    let mut reply = [0; 4096];
    match server.request(token, request, loan, &mut reply) {
        Handled::Answered(length) => Ok(reply[..length].to_vec()),
        other => Err(other),
    }
}

fn write_request(id: u32, sector: u64, bytes: &[u8]) -> Vec<u8> {
    let mut buffer = [0; 4096];
    let length = block::write::request(&mut buffer, id, sector, bytes).unwrap();
    buffer[..length].to_vec()
}

fn read_request(id: u32, sector: u64, count: u16) -> Vec<u8> {
    let mut buffer = [0; 64];
    let length = block::read::request(&mut buffer, id, sector, count).unwrap();
    buffer[..length].to_vec()
}

#[test]
fn capacity_is_answered_at_once() {
    let model = Model::new(100, OFFERED);
    let mut server = serve(&model);
    let reply = ask(&mut server, 1, b"capacity").expect("answered");
    assert_eq!(
        block::capacity::reply(&reply),
        Ok(Ok(Capacity {
            sectors: 100,
            sector_size: 512
        }))
    );
}

#[test]
fn writes_and_reads_are_answered_when_the_device_is_done_with_their_ids() {
    let model = Model::new(100, OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut server = serve(&model);
    let data: Vec<u8> = (0..MAX_TRANSFER_BYTES).map(|at| (at * 13) as u8).collect();
    assert_eq!(
        ask(&mut server, 70, &write_request(900, 20, &data)),
        Err(Handled::Pending)
    );
    assert_eq!(poll(&mut server), (Polled::InFlight(1), vec![]), "not yet");
    model.serve();
    let (polled, answers) = poll(&mut server);
    assert_eq!(polled, Polled::InFlight(0));
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 70, "the token the request came with");
    assert_eq!(block::write::reply(&answers[0].1), Ok(Ok(Done { id: 900 })));

    assert_eq!(
        ask(&mut server, 71, &read_request(901, 20, 7)),
        Err(Handled::Pending)
    );
    model.serve();
    let (_, answers) = poll(&mut server);
    assert_eq!(answers[0].0, 71);
    assert_eq!(
        block::read::reply(&answers[0].1),
        Ok(Ok(Data {
            id: 901,
            bytes: &data[..]
        }))
    );
}

#[test]
fn refused_requests_are_answered_at_once_and_never_reach_the_device() {
    let model = Model::new(100, OFFERED);
    let mut server = serve(&model);
    let cases = [
        (read_request(1, 99, 2), BlockError::OutOfRange),
        (read_request(2, 0, 8), BlockError::TooLong),
        (read_request(3, 0, 0), BlockError::BadLength),
        (write_request(4, 0, &[0; 100]), BlockError::BadLength),
        (write_request(5, 100, &[0; 512]), BlockError::OutOfRange),
    ];
    for (request, error) in cases {
        let reply = ask(&mut server, 0, &request).expect("answered at once");
        let id = block::Request::decode(&request).unwrap().id().unwrap();
        assert_eq!(
            block::write::reply(&reply),
            Ok(Err(Failed { id, error })),
            "{error}"
        );
    }
    assert_eq!(model.device.borrow().served, 0);
    assert_eq!(
        ask(&mut server, 0, b"format"),
        Err(Handled::Malformed(WireError::UnknownOperation))
    );
}

#[test]
fn a_fifth_request_in_flight_is_answered_busy() {
    let model = Model::new(100, OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut server = serve(&model);
    for token in 0..4 {
        assert_eq!(
            ask(&mut server, token, &read_request(token, 0, 1)),
            Err(Handled::Pending)
        );
    }
    let reply = ask(&mut server, 4, &read_request(4, 0, 1)).expect("answered at once");
    assert_eq!(
        block::read::reply(&reply),
        Ok(Err(Failed {
            id: 4,
            error: BlockError::Busy
        }))
    );
    assert!(
        ask(&mut server, 5, b"capacity").is_ok(),
        "capacity needs no slot"
    );
    model.serve();
    let (polled, answers) = poll(&mut server);
    assert_eq!(polled, Polled::InFlight(0));
    let mut tokens: Vec<u32> = answers.iter().map(|(token, _)| *token).collect();
    tokens.sort();
    assert_eq!(tokens, vec![0, 1, 2, 3]);
}

#[test]
fn five_hundred_round_trips_in_a_row_leave_nothing_in_flight() {
    let model = Model::new(100, OFFERED);
    let mut server = serve(&model);
    for round in 0..500u32 {
        let data = vec![round as u8; 1024];
        assert_eq!(
            ask(
                &mut server,
                round,
                &write_request(round, u64::from(round % 98), &data)
            ),
            Err(Handled::Pending)
        );
        let (_, answers) = poll(&mut server);
        assert_eq!(
            block::write::reply(&answers[0].1),
            Ok(Ok(Done { id: round }))
        );
        assert_eq!(
            ask(
                &mut server,
                round,
                &read_request(round, u64::from(round % 98), 2)
            ),
            Err(Handled::Pending)
        );
        let (polled, answers) = poll(&mut server);
        assert_eq!(polled, Polled::InFlight(0));
        assert_eq!(
            block::read::reply(&answers[0].1),
            Ok(Ok(Data {
                id: round,
                bytes: &data[..]
            }))
        );
    }
    assert_eq!(server.in_flight(), 0);
}

#[test]
fn garbage_answers_everything_in_flight_and_later_with_device_error() {
    let model = Model::new(100, OFFERED);
    model.device.borrow_mut().deferred = true;
    model.device.borrow_mut().garbage = Some(Garbage::IdOutOfRange);
    let mut server = serve(&model);
    for token in 0..3 {
        assert_eq!(
            ask(&mut server, token, &read_request(10 + token, 0, 1)),
            Err(Handled::Pending)
        );
    }
    model.serve();
    let (polled, answers) = poll(&mut server);
    assert!(matches!(
        polled,
        Polled::GaveUp(cella_virtio::Error::UsedIdOutOfRange { .. })
    ));
    assert_eq!(answers.len(), 3);
    for (token, reply) in answers {
        assert_eq!(
            block::read::reply(&reply),
            Ok(Err(Failed {
                id: 10 + token,
                error: BlockError::DeviceError
            }))
        );
    }
    assert!(server.gave_up());
    assert_eq!(model.status(), 0, "the device was reset");
    let reply = ask(&mut server, 9, &read_request(9, 0, 1)).expect("answered at once");
    assert_eq!(
        block::read::reply(&reply),
        Ok(Err(Failed {
            id: 9,
            error: BlockError::DeviceError
        }))
    );
    let reply = ask(&mut server, 9, b"capacity").expect("answered at once");
    assert_eq!(
        block::capacity::reply(&reply),
        Ok(Err(BlockError::DeviceError))
    );
    assert_eq!(poll(&mut server).1, vec![], "nothing is answered twice");
}

#[test]
fn a_flush_the_device_does_not_take_is_refused() {
    let model = Model::new(8, VERSION_1);
    let mut server = serve(&model);
    let mut buffer = [0; 16];
    let length = block::flush::request(&mut buffer, 3).unwrap();
    let reply = ask(&mut server, 0, &buffer[..length]).expect("answered at once");
    assert_eq!(
        block::flush::reply(&reply),
        Ok(Err(Failed {
            id: 3,
            error: BlockError::Unsupported
        }))
    );
}

#[test]
fn reading_the_interrupt_status_acknowledges_it() {
    let model = Model::new(8, OFFERED);
    let mut server = serve(&model);
    assert_eq!(server.interrupt_status(), Ok(0), "nothing happened yet");
    assert_eq!(
        ask(&mut server, 1, &read_request(1, 0, 1)),
        Err(Handled::Pending)
    );
    assert_eq!(server.interrupt_status(), Ok(1), "the queue was used");
    assert_eq!(server.interrupt_status(), Ok(0), "and the read cleared it");
    assert_eq!(poll(&mut server).1.len(), 1);
}

#[test]
fn every_kind_of_garbage_restarts_the_driver_after_answering_what_is_in_flight() {
    let kinds = [
        Garbage::IndexAhead,
        Garbage::IdOutOfRange,
        Garbage::IdNotOutstanding,
        Garbage::LengthTooLong,
    ];
    for garbage in kinds {
        let model = Model::new(100, OFFERED);
        model.device.borrow_mut().deferred = true;
        model.device.borrow_mut().garbage = Some(garbage);
        let mut server = serve(&model);
        for token in 0..4 {
            assert_eq!(
                ask(&mut server, token, &read_request(40 + token, 0, 1)),
                Err(Handled::Pending)
            );
        }
        model.serve();
        let (polled, answers) = poll(&mut server);
        assert_eq!(
            polled.next(),
            Next::Restart,
            "{garbage:?}: the driver ends its instance"
        );
        let mut tokens: Vec<u32> = answers.iter().map(|(token, _)| *token).collect();
        tokens.sort_unstable();
        assert_eq!(tokens, vec![0, 1, 2, 3], "{garbage:?}: all answered first");
        for (token, reply) in answers {
            assert_eq!(
                block::read::reply(&reply),
                Ok(Err(Failed {
                    id: 40 + token,
                    error: BlockError::DeviceError
                }))
            );
        }
        assert_eq!(
            server.waiting().count(),
            0,
            "{garbage:?}: nothing left over"
        );
        assert_eq!(model.status(), 0, "{garbage:?}: the device was reset");
    }
}

#[test]
fn a_healthy_device_is_polled_while_requests_are_in_flight_and_left_alone_after() {
    let model = Model::new(100, OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut server = serve(&model);
    for round in 0..200u32 {
        assert_eq!(
            ask(&mut server, round, &read_request(round, 3, 1)),
            Err(Handled::Pending)
        );
        assert_eq!(poll(&mut server).0.next(), Next::Poll, "round {round}");
        model.serve();
        let (polled, answers) = poll(&mut server);
        assert_eq!(polled.next(), Next::Idle, "round {round}");
        assert_eq!(answers.len(), 1, "round {round}");
    }
}

#[test]
fn the_requests_in_flight_are_listed_with_their_tokens_and_ids_for_the_next_version() {
    let model = Model::new(100, OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut server = serve(&model);
    for round in 0..100u32 {
        let data = vec![round as u8; 512];
        assert_eq!(
            ask(&mut server, 7, &write_request(round, 5, &data)),
            Err(Handled::Pending)
        );
        assert_eq!(
            ask(&mut server, 8, &read_request(round + 1000, 6, 2)),
            Err(Handled::Pending)
        );
        let mut waiting: Vec<(u32, u32)> = server.waiting().collect();
        waiting.sort_unstable();
        assert_eq!(
            waiting,
            vec![(7, round), (8, round + 1000)],
            "round {round}"
        );
        model.serve();
        assert_eq!(poll(&mut server).1.len(), 2, "round {round}");
        assert_eq!(server.waiting().count(), 0, "round {round}: answered");
    }
}

/// A caller's buffer of `size` bytes in the model's DMA memory, as a loan.
fn lent_buffer(model: &Model, size: u32, writable: bool) -> (FakeBuffer, Lent) {
    // The caller's pool, not the driver's.
    model.memory.borrow_mut().budget_left += size;
    let buffer = model.dma().allocate(size).expect("room for the loan");
    let loan = Lent {
        address: buffer.device_address().unwrap(),
        size: u64::from(size),
        writable,
    };
    (buffer, loan)
}

fn lent_request(write: bool, id: u32, sector: u64, count: u16) -> Vec<u8> {
    let mut buffer = [0; 64];
    let length = if write {
        block::write_lent::request(&mut buffer, id, sector, count)
    } else {
        block::read_lent::request(&mut buffer, id, sector, count)
    }
    .unwrap();
    buffer[..length].to_vec()
}

#[test]
fn lent_requests_move_64_kib_straight_between_the_disk_and_the_callers_buffer() {
    let model = Model::new(1024, OFFERED);
    let mut server = serve(&model);
    let bytes = usize::from(MAX_LENT_SECTORS) * 512;
    let (source, source_loan) = lent_buffer(&model, bytes as u32, false);
    let data: Vec<u8> = (0..bytes).map(|at| (at * 7 + at / 512) as u8).collect();
    source.write(0, &data).unwrap();
    let request = lent_request(true, 40, 256, MAX_LENT_SECTORS);
    assert_eq!(
        ask_lending(&mut server, 1, &request, Some(source_loan)),
        Err(Handled::Pending)
    );
    model.serve();
    let (_, answers) = poll(&mut server);
    assert_eq!(
        block::write_lent::reply(&answers[0].1),
        Ok(Ok(Done { id: 40 }))
    );

    let (target, target_loan) = lent_buffer(&model, bytes as u32, true);
    let request = lent_request(false, 41, 256, MAX_LENT_SECTORS);
    assert_eq!(
        ask_lending(&mut server, 2, &request, Some(target_loan)),
        Err(Handled::Pending)
    );
    model.serve();
    let (_, answers) = poll(&mut server);
    assert_eq!(answers[0].0, 2);
    assert_eq!(
        block::read_lent::reply(&answers[0].1),
        Ok(Ok(Done { id: 41 }))
    );
    let mut read = vec![0; bytes];
    target.read(0, &mut read).unwrap();
    assert_eq!(read, data, "the sectors landed in the caller's buffer");
    // The same sectors read the plain way agree.
    ask(&mut server, 3, &read_request(42, 256 + 9, 7)).unwrap_err();
    model.serve();
    let (_, answers) = poll(&mut server);
    let Ok(Ok(plain)) = block::read::reply(&answers[0].1) else {
        panic!("read failed");
    };
    assert_eq!(plain.bytes, &data[9 * 512..16 * 512]);
}

#[test]
fn lent_requests_without_a_fitting_loan_are_refused_at_once() {
    let model = Model::new(1024, OFFERED);
    let mut server = serve(&model);
    let (_, read_only) = lent_buffer(&model, 4096, false);
    let (_, small) = lent_buffer(&model, 4096, true);
    let (_, big) = lent_buffer(&model, 128 * 1024, true);
    let cases = [
        (lent_request(false, 1, 0, 8), None, BlockError::NoLoan),
        (lent_request(true, 2, 0, 8), None, BlockError::NoLoan),
        // The device would write a buffer lent read-only.
        (
            lent_request(false, 3, 0, 8),
            Some(read_only),
            BlockError::NoLoan,
        ),
        // More sectors than the buffer holds.
        (
            lent_request(false, 4, 0, 9),
            Some(small),
            BlockError::TooLong,
        ),
        (
            lent_request(true, 5, 0, 9),
            Some(small),
            BlockError::TooLong,
        ),
        // More than one request moves.
        (
            lent_request(false, 6, 0, MAX_LENT_SECTORS + 1),
            Some(big),
            BlockError::TooLong,
        ),
        (
            lent_request(false, 7, 1020, 8),
            Some(small),
            BlockError::OutOfRange,
        ),
        (
            lent_request(false, 8, 0, 0),
            Some(small),
            BlockError::BadLength,
        ),
    ];
    for (request, loan, error) in cases {
        let reply = ask_lending(&mut server, 0, &request, loan).expect("answered at once");
        let id = block::Request::decode(&request).unwrap().id().unwrap();
        assert_eq!(
            block::read_lent::reply(&reply),
            Ok(Err(Failed { id, error })),
            "{error}"
        );
    }
    assert_eq!(model.device.borrow().served, 0);
}
