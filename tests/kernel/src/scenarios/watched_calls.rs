//! Watched calls (`ipc::call_watched`), the calls kernel code opens without blocking (the
//! event loop's calls to native processes for modules), in the running kernel's IPC: 1,000
//! answered in a row, each kept by its token and announced to the watcher; one failed by its
//! receiver; a full queue refusing the next; the endpoint closing with calls queued and
//! received, each failed with `Closed`; a withdrawn call whose late reply is refused. No
//! call and no answer is left afterwards.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_kernel::fnv::fnv1a_64;
use cella_kernel::ipc::{self, EndpointId, IpcError, QUEUE_CAPACITY};
use cella_kernel::kprintln;
use core::sync::atomic::{AtomicU64, Ordering};

/// Calls answered in a row.
const ROUNDS: u32 = 1_000;

/// Answers announced to the watcher.
static ANNOUNCED: AtomicU64 = AtomicU64::new(0);

fn announced() {
    ANNOUNCED.fetch_add(1, Ordering::Relaxed);
}

fn failed(what: &str, error: IpcError) -> String {
    format!("{what}: {error}")
}

/// Takes the next message of `endpoint`, which must carry `token`.
fn receive_call(endpoint: EndpointId, token: u64) -> Result<Vec<u8>, String> {
    let message = ipc::receive(endpoint, false).map_err(|error| failed("receive", error))?;
    if message.token != token {
        return Err(String::from("the receiver got another call's token"));
    }
    Ok(message.bytes)
}

/// Expects exactly `expected` among the answers kept, in any order.
fn expect_answers(mut expected: Vec<(u64, Result<Vec<u8>, IpcError>)>) -> Result<(), String> {
    let mut answers = ipc::take_watched_answers();
    answers.sort_by_key(|(token, _)| *token);
    expected.sort_by_key(|(token, _)| *token);
    if answers != expected {
        return Err(format!(
            "{} answers kept, {} expected, or not the expected ones",
            answers.len(),
            expected.len()
        ));
    }
    Ok(())
}

pub fn run() -> Result<(), String> {
    ipc::watch_answers(announced);
    let server = ipc::create_endpoint(None).map_err(|error| failed("create", error))?;
    for round in 0..ROUNDS {
        let request = round.to_le_bytes();
        let token = ipc::call_watched(server, &request).map_err(|error| failed("call", error))?;
        let bytes = receive_call(server, token)?;
        let reply = fnv1a_64(&bytes).to_le_bytes();
        ipc::reply(token, &reply).map_err(|error| failed("reply", error))?;
        expect_answers(alloc::vec![(token, Ok(reply.to_vec()))])
            .map_err(|why| format!("round {round}: {why}"))?;
    }
    let announced = ANNOUNCED.load(Ordering::Relaxed);
    kprintln!("watched calls: {ROUNDS} answered by token, {announced} announced");
    if announced != u64::from(ROUNDS) {
        return Err(String::from("not every answer was announced"));
    }

    let token = ipc::call_watched(server, b"fail").map_err(|error| failed("call", error))?;
    receive_call(server, token)?;
    ipc::fail(token, IpcError::Full).map_err(|error| failed("fail", error))?;
    expect_answers(alloc::vec![(token, Err(IpcError::Full))])?;
    kprintln!("watched calls: a call its receiver failed: answered Full");

    let closing = ipc::create_endpoint(None).map_err(|error| failed("create", error))?;
    let mut open = Vec::new();
    for _ in 0..QUEUE_CAPACITY {
        open.push(ipc::call_watched(closing, b"queued").map_err(|error| failed("call", error))?);
    }
    let refused = ipc::call_watched(closing, b"one too many");
    if refused != Err(IpcError::Full) {
        return Err(String::from("a full queue took another watched call"));
    }
    receive_call(closing, open[0])?;
    ipc::close_endpoint(closing);
    expect_answers(
        open.iter()
            .map(|&token| (token, Err(IpcError::Closed)))
            .collect(),
    )?;
    kprintln!(
        "watched calls: a full queue refused the next call; the endpoint closed with {} calls open (1 received): each answered Closed",
        open.len()
    );

    // Withdrawn before anyone received it: it leaves the queue.
    let token = ipc::call_watched(server, b"withdrawn").map_err(|error| failed("call", error))?;
    ipc::withdraw_watched(token);
    match ipc::receive(server, false) {
        Err(IpcError::Empty) => {
            kprintln!("watched calls: a call withdrawn while queued left the queue");
        }
        _ => return Err(String::from("a withdrawn call was still received")),
    }
    // Withdrawn after its receiver took it: the late reply reaches no one.
    let token = ipc::call_watched(server, b"withdrawn").map_err(|error| failed("call", error))?;
    receive_call(server, token)?;
    ipc::withdraw_watched(token);
    let late = ipc::reply(token, b"late");
    expect_answers(Vec::new())?;
    match late {
        Err(IpcError::BadToken) => {
            kprintln!("watched calls: the reply to a withdrawn call was refused: BadToken");
        }
        _ => return Err(String::from("the reply to a withdrawn call was taken")),
    }
    let (calls, answers) = ipc::watched_counts();
    kprintln!("watched calls: {calls} open and {answers} answers kept at the end");
    if (calls, answers) != (0, 0) {
        return Err(String::from("watched calls left records behind"));
    }
    ipc::close_endpoint(server);
    Ok(())
}
