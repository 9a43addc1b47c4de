//! The `block` interface served over the device model: typed requests in,
//! typed answers out with their ids, at once when refused and after the
//! device finished otherwise.

mod model;

use cella_interfaces::block::{self, BlockError, Capacity, Data, Done, Failed, MAX_TRANSFER_BYTES};
use cella_interfaces::wire::WireError;
use cella_virtio::block::Disk;
use cella_virtio::server::{BlockServer, Handled, Next, Polled};
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
    let mut reply = [0; 4096];
    match server.request(token, request, &mut reply) {
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
