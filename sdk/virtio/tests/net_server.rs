//! The `net` interface served over the device model: typed requests in,
//! typed answers out; a waiting `receive` answered by the next frame or by
//! its deadline, one at a time; the device given up on after garbage; a
//! `receive_lent` packing its frames into the lent bytes, answered at once
//! or held.

mod model;

use cella_interfaces::net::{
    self, Frames, Info, Lent, MAX_LENT_BYTES, MAX_WAIT_MS, NetError, Sent,
};
use cella_interfaces::wire::WireError;
use cella_virtio::net::Nic;
use cella_virtio::net_server::{self, MAX_REPLY_BYTES, NetServer, Polled};
use cella_virtio::server::Handled;
use model::*;

type Server = NetServer<FakeWindow, FakeBuffer, u32>;

const MILLISECOND: u64 = 1_000_000;

fn serve(model: &Model) -> Server {
    NetServer::new(Nic::start(&model.pci(), &model.dma(), None).expect("comes up"))
}

fn ask(server: &mut Server, token: u32, request: &[u8], now: u64) -> Result<Vec<u8>, Handled> {
    let mut reply = [0; MAX_REPLY_BYTES];
    match server.request(token, request, now, &mut reply, &mut []) {
        Handled::Answered(length) => Ok(reply[..length].to_vec()),
        other => Err(other),
    }
}

/// As [`ask`], with `lent` bytes lent: the answer and what it packed there.
fn ask_lending(
    server: &mut Server,
    token: u32,
    request: &[u8],
    now: u64,
    lent: usize,
) -> Result<(Vec<u8>, Vec<u8>), Handled> {
    let mut reply = [0; MAX_REPLY_BYTES];
    let mut buffer = vec![0u8; lent];
    match server.request(token, request, now, &mut reply, &mut buffer) {
        Handled::Answered(length) => {
            let written = net_server::lent_bytes(&reply[..length]);
            Ok((reply[..length].to_vec(), buffer[..written].to_vec()))
        }
        other => Err(other),
    }
}

fn poll(server: &mut Server, now: u64) -> (Polled, Vec<(u32, Vec<u8>)>) {
    let (polled, answers) = poll_lending(server, now, 0);
    let answers = answers
        .into_iter()
        .map(|(token, reply, _)| (token, reply))
        .collect();
    (polled, answers)
}

/// An answer from a poll: its token, its bytes and what it packed into the
/// lent bytes.
type LentAnswer = (u32, Vec<u8>, Vec<u8>);

/// A poll with `lent` bytes for a waiting `receive_lent`: the answers, each
/// with what it packed there.
fn poll_lending(server: &mut Server, now: u64, lent: usize) -> (Polled, Vec<LentAnswer>) {
    let mut answers = Vec::new();
    let mut buffer = vec![0u8; lent];
    let polled = server.poll(now, &mut buffer, |token, reply, written| {
        answers.push((token, reply.to_vec(), written.to_vec()))
    });
    (polled, answers)
}

fn receive_lent_request(wait_ms: u32) -> Vec<u8> {
    let mut buffer = [0; 32];
    let length = net::receive_lent::request(&mut buffer, wait_ms).unwrap();
    buffer[..length].to_vec()
}

/// The frames a `receive_lent` answer says were packed into `written`.
fn lent_frames_of(reply: &[u8], written: &[u8]) -> (Vec<Vec<u8>>, Lent) {
    let lent = net::receive_lent::reply(reply)
        .unwrap()
        .expect("frames lent");
    assert_eq!(lent.bytes as usize, written.len());
    let list = lent
        .frames(written)
        .map(|frame| frame.expect("decodes").to_vec())
        .collect();
    (list, lent)
}

fn receive_request(wait_ms: u32) -> Vec<u8> {
    let mut buffer = [0; 32];
    let length = net::receive::request(&mut buffer, wait_ms).unwrap();
    buffer[..length].to_vec()
}

fn send_request(frame: &[u8]) -> Vec<u8> {
    let mut buffer = [0; 2048];
    let length = net::send::request(&mut buffer, frame).unwrap();
    buffer[..length].to_vec()
}

fn frame(number: u8) -> Vec<u8> {
    let mut frame = vec![number; 60];
    frame[..6].copy_from_slice(&[0xff; 6]);
    frame
}

/// The frames of a `receive` answer, and its dropped count.
fn frames_of(reply: &[u8]) -> (Vec<Vec<u8>>, u32) {
    let frames: Frames<'_> = net::receive::reply(reply).unwrap().expect("frames");
    let list = frames
        .frames()
        .map(|frame| frame.expect("decodes").to_vec())
        .collect();
    (list, frames.dropped)
}

#[test]
fn info_names_the_mac_mtu_and_link() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    let reply = ask(&mut server, 1, b"info", 0).expect("answered");
    assert_eq!(
        net::info::reply(&reply),
        Ok(Ok(Info {
            mac: MODEL_MAC,
            mtu: 1500,
            link_up: true
        }))
    );
}

#[test]
fn send_is_answered_at_once_and_the_frame_reaches_the_device() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    let reply = ask(&mut server, 1, &send_request(&frame(4)), 0).expect("answered");
    assert_eq!(net::send::reply(&reply), Ok(Ok(Sent { length: 60 })));
    assert_eq!(&model.sent()[0][12..], &frame(4)[..]);
    let reply = ask(&mut server, 2, &send_request(&[0; 10]), 0).expect("answered");
    assert_eq!(net::send::reply(&reply), Ok(Err(NetError::BadLength)));
    model.device.borrow_mut().net.as_mut().unwrap().link_up = false;
    let reply = ask(&mut server, 3, &send_request(&frame(5)), 0).expect("answered");
    assert_eq!(net::send::reply(&reply), Ok(Err(NetError::LinkDown)));
    assert_eq!(model.sent().len(), 1);
}

#[test]
fn send_answers_busy_while_the_transmit_queue_is_full() {
    let model = Model::net(NET_OFFERED);
    model.device.borrow_mut().deferred = true;
    let mut server = serve(&model);
    let mut answers = Vec::new();
    for number in 0..9 {
        let reply = ask(&mut server, 0, &send_request(&frame(number)), 0).unwrap();
        answers.push(net::send::reply(&reply).unwrap());
    }
    assert!(answers[..8].iter().all(Result::is_ok));
    assert_eq!(answers[8], Err(NetError::Busy));
    model.transmit();
    let reply = ask(&mut server, 0, &send_request(&frame(9)), 0).unwrap();
    assert!(net::send::reply(&reply).unwrap().is_ok());
}

#[test]
fn frames_that_arrived_are_answered_at_once() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    assert!(model.deliver(&frame(1)) && model.deliver(&frame(2)));
    let reply = ask(&mut server, 1, &receive_request(500), 0).expect("answered at once");
    assert_eq!(frames_of(&reply), (vec![frame(1), frame(2)], 0));
    let reply = ask(&mut server, 2, &receive_request(0), 0).expect("no wait: at once");
    assert_eq!(frames_of(&reply), (vec![], 0));
}

#[test]
fn a_held_receive_is_answered_by_the_frame_that_arrives() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    assert_eq!(
        ask(&mut server, 7, &receive_request(1000), 0),
        Err(Handled::Pending)
    );
    assert_eq!(server.deadline(), Some(1000 * MILLISECOND));
    assert_eq!(
        poll(&mut server, 5 * MILLISECOND),
        (Polled::Running, vec![])
    );
    assert!(model.deliver(&frame(3)));
    let (polled, answers) = poll(&mut server, 6 * MILLISECOND);
    assert_eq!(polled, Polled::Running);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 7, "the token the receive came with");
    assert_eq!(frames_of(&answers[0].1), (vec![frame(3)], 0));
    assert_eq!(server.deadline(), None);
    assert_eq!(
        poll(&mut server, 2000 * MILLISECOND).1,
        vec![],
        "answered once"
    );
}

#[test]
fn a_held_receive_is_answered_with_no_frames_at_its_deadline() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    assert_eq!(
        ask(&mut server, 8, &receive_request(20), 100 * MILLISECOND),
        Err(Handled::Pending)
    );
    assert_eq!(poll(&mut server, 119 * MILLISECOND).1, vec![], "not yet");
    let (_, answers) = poll(&mut server, 120 * MILLISECOND);
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 8);
    assert_eq!(frames_of(&answers[0].1), (vec![], 0));
}

#[test]
fn a_second_waiting_receive_is_answered_already_waiting() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    assert_eq!(
        ask(&mut server, 1, &receive_request(100), 0),
        Err(Handled::Pending)
    );
    let reply = ask(&mut server, 2, &receive_request(100), 0).expect("answered at once");
    assert_eq!(
        net::receive::reply(&reply).map(|answer| answer.err()),
        Ok(Some(NetError::AlreadyWaiting))
    );
    assert_eq!(server.waiting(), Some(1), "the first still waits");
}

#[test]
fn a_wait_past_the_limit_and_a_malformed_request_are_answered_at_once() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    let reply = ask(&mut server, 1, &receive_request(MAX_WAIT_MS + 1), 0).unwrap();
    assert_eq!(
        net::receive::reply(&reply).map(|answer| answer.err()),
        Ok(Some(NetError::BadArgument))
    );
    assert_eq!(server.deadline(), None);
    assert_eq!(
        ask(&mut server, 2, b"reboot", 0),
        Err(Handled::Malformed(WireError::UnknownOperation))
    );
}

#[test]
fn two_thousand_held_receives_in_a_row_each_answered_once() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    let mut now = 0;
    for round in 0..2000u32 {
        assert_eq!(
            ask(&mut server, round, &receive_request(10), now),
            Err(Handled::Pending)
        );
        now += MILLISECOND;
        let (polled, answers) = if round % 2 == 0 {
            assert!(model.deliver(&frame(round as u8)));
            poll(&mut server, now)
        } else {
            poll(&mut server, now + 10 * MILLISECOND)
        };
        assert_eq!(polled, Polled::Running);
        assert_eq!(answers.len(), 1, "round {round}");
        assert_eq!(answers[0].0, round);
        let expected = if round % 2 == 0 {
            vec![frame(round as u8)]
        } else {
            vec![]
        };
        assert_eq!(frames_of(&answers[0].1), (expected, 0), "round {round}");
    }
    assert_eq!(server.nic().map(Nic::held), Some(0));
}

#[test]
fn garbage_gives_the_device_up_and_the_waiting_receive_is_answered_device_error() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    assert_eq!(
        ask(&mut server, 9, &receive_request(100), 0),
        Err(Handled::Pending)
    );
    model.device.borrow_mut().garbage = Some(Garbage::LengthTooShort);
    assert!(model.deliver(&frame(1)));
    let (polled, answers) = poll(&mut server, MILLISECOND);
    assert!(matches!(polled, Polled::GaveUp(_)));
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, 9);
    assert_eq!(
        net::receive::reply(&answers[0].1).map(|answer| answer.err()),
        Ok(Some(NetError::DeviceError))
    );
    assert_eq!(model.status(), 0, "the device was reset");
    let reply = ask(&mut server, 10, &send_request(&frame(2)), 0).unwrap();
    assert_eq!(net::send::reply(&reply), Ok(Err(NetError::DeviceError)));
    let reply = ask(&mut server, 11, &receive_request(100), 0).unwrap();
    assert_eq!(
        net::receive::reply(&reply).map(|answer| answer.err()),
        Ok(Some(NetError::DeviceError)),
        "nothing waits on a device given up"
    );
}

#[test]
fn garbage_met_serving_a_receive_is_answered_device_error_and_named_by_the_next_poll() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    model.device.borrow_mut().garbage = Some(Garbage::IndexAhead);
    assert!(model.deliver(&frame(1)));
    let reply = ask(&mut server, 1, &receive_request(0), 0).expect("answered at once");
    assert_eq!(
        net::receive::reply(&reply).map(|answer| answer.err()),
        Ok(Some(NetError::DeviceError))
    );
    assert!(server.nic().is_some_and(Nic::is_broken));
    let (polled, answers) = poll(&mut server, 0);
    assert_eq!(
        polled,
        Polled::GaveUp(cella_virtio::Error::UsedIndexAhead { ahead: 33 }),
        "the garbage itself, not the broken queue it left"
    );
    assert!(answers.is_empty(), "nothing waited");
    assert_eq!(model.status(), 0, "the device was reset");
}

#[test]
fn a_lent_receive_packs_every_waiting_frame_into_the_buffer_at_once() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    // More than one answer's two full-size frames: the lent buffer takes them all.
    let big = |number: u8| {
        let mut frame = vec![number; 1514];
        frame[..6].copy_from_slice(&[0xff; 6]);
        frame
    };
    for number in 1..=5 {
        assert!(model.deliver(&big(number)));
    }
    let (reply, written) = ask_lending(
        &mut server,
        1,
        &receive_lent_request(500),
        0,
        MAX_LENT_BYTES,
    )
    .expect("at once");
    let (frames, lent) = lent_frames_of(&reply, &written);
    assert_eq!(frames, (1..=5).map(big).collect::<Vec<_>>());
    assert_eq!((lent.count, lent.dropped), (5, 0));
    assert!(
        reply.len() < 16,
        "the answer carries no frame: {} bytes",
        reply.len()
    );
    // A buffer that holds one frame takes one; the rest wait for the next call.
    assert!(model.deliver(&frame(6)) && model.deliver(&frame(7)));
    let (reply, written) =
        ask_lending(&mut server, 2, &receive_lent_request(0), 0, 70).expect("at once");
    assert_eq!(lent_frames_of(&reply, &written).0, vec![frame(6)]);
    let (reply, written) =
        ask_lending(&mut server, 3, &receive_lent_request(0), 0, 70).expect("at once");
    assert_eq!(lent_frames_of(&reply, &written).0, vec![frame(7)]);
}

#[test]
fn a_held_lent_receive_is_answered_into_the_buffer_by_the_frame_that_arrives() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    assert_eq!(
        ask_lending(&mut server, 9, &receive_lent_request(1000), 0, 4096),
        Err(Handled::Pending)
    );
    assert_eq!(poll_lending(&mut server, MILLISECOND, 4096).1, vec![]);
    assert!(model.deliver(&frame(4)) && model.deliver(&frame(5)));
    let (polled, answers) = poll_lending(&mut server, 2 * MILLISECOND, MAX_LENT_BYTES);
    assert_eq!(polled, Polled::Running);
    assert_eq!(answers.len(), 1);
    let (token, reply, written) = &answers[0];
    assert_eq!(*token, 9);
    assert_eq!(lent_frames_of(reply, written).0, vec![frame(4), frame(5)]);
    // Its deadline passed with nothing: answered with no frames.
    assert_eq!(
        ask_lending(&mut server, 10, &receive_lent_request(5), 0, 4096),
        Err(Handled::Pending)
    );
    let answers = poll_lending(&mut server, 6 * MILLISECOND, 4096).1;
    assert_eq!(
        lent_frames_of(&answers[0].1, &answers[0].2).0,
        Vec::<Vec<u8>>::new()
    );
}

#[test]
fn a_lent_receive_with_nothing_lent_is_answered_no_loan_and_never_held() {
    let model = Model::net(NET_OFFERED);
    let mut server = serve(&model);
    for wait in [0, 1000] {
        let (reply, written) =
            ask_lending(&mut server, 1, &receive_lent_request(wait), 0, 0).expect("at once");
        assert_eq!(net::receive_lent::reply(&reply), Ok(Err(NetError::NoLoan)));
        assert!(written.is_empty());
    }
    assert_eq!(server.deadline(), None);
    // The frame waits for a call that lends a buffer.
    assert!(model.deliver(&frame(8)));
    let (reply, _) = ask_lending(&mut server, 2, &receive_lent_request(0), 0, 0).expect("at once");
    assert_eq!(net::receive_lent::reply(&reply), Ok(Err(NetError::NoLoan)));
    let (reply, written) =
        ask_lending(&mut server, 3, &receive_lent_request(0), 0, 200).expect("at once");
    assert_eq!(lent_frames_of(&reply, &written).0, vec![frame(8)]);
}
