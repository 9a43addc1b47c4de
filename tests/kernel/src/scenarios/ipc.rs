//! IPC scenario: a kernel-thread server and client exchange 10,000 calls with
//! checksums; a full queue refuses the next send (back-pressure); a closed
//! endpoint answers its waiting caller; then the calls kernel code makes
//! without blocking (see `super::watched_calls`).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use cella_kernel::ipc::{self, IpcError, QUEUE_CAPACITY};
use cella_kernel::sched::{self, Priority};
use cella_kernel::{fnv::fnv1a_64, irq, kprintln, time};
use core::sync::atomic::{AtomicU64, Ordering};

const CALLS: u64 = 10_000;

/// The reply the server computes for a request: its FNV-1a hash, as bytes.
fn answer(request: &[u8]) -> [u8; 8] {
    fnv1a_64(request).to_le_bytes()
}

pub fn run() -> Result<(), String> {
    irq::start();
    let endpoint =
        ipc::create_endpoint(Some("checksum")).map_err(|error| format!("create: {error:?}"))?;
    if ipc::create_endpoint(Some("checksum")) != Err(IpcError::NameTaken) {
        return Err(String::from("a second `checksum` endpoint was registered"));
    }
    let served = Arc::new(AtomicU64::new(0));
    {
        let served = Arc::clone(&served);
        sched::spawn("checksum-server", Priority::Normal, move || {
            while let Ok(message) = ipc::receive(endpoint, true) {
                if message.token != 0 && ipc::reply(message.token, &answer(&message.bytes)).is_ok()
                {
                    served.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .map_err(|error| format!("spawn: {error}"))?;
    }
    let found = ipc::lookup("checksum").map_err(|error| format!("lookup: {error:?}"))?;
    let started = time::now_nanoseconds();
    let mut wrong = 0;
    let mut failed = 0;
    for index in 0..CALLS {
        let mut request = [0u8; 32];
        request[..8].copy_from_slice(&index.to_le_bytes());
        request[8..16].copy_from_slice(&(index.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
        match ipc::call(found, &request, None) {
            Ok(reply) if reply == answer(&request) => {}
            Ok(_) => wrong += 1,
            Err(_) => failed += 1,
        }
    }
    let elapsed = time::now_nanoseconds() - started;
    kprintln!(
        "ipc: {CALLS} calls between kernel threads: {} served, {wrong} wrong replies, {failed} failed; {} ns per round trip",
        served.load(Ordering::Relaxed),
        elapsed / CALLS
    );
    if wrong != 0 || failed != 0 || served.load(Ordering::Relaxed) != CALLS {
        return Err(String::from("messages were lost or corrupted"));
    }
    // Back-pressure: nobody receives on this one; the queue fills and refuses.
    let quiet = ipc::create_endpoint(None).map_err(|error| format!("create: {error:?}"))?;
    let mut accepted = 0;
    let refusal = loop {
        match ipc::send(quiet, b"fill") {
            Ok(()) => accepted += 1,
            Err(error) => break error,
        }
        if accepted > QUEUE_CAPACITY {
            break IpcError::BadToken;
        }
    };
    kprintln!("ipc: a queue without a receiver took {accepted} messages, then: {refusal:?}");
    if accepted != QUEUE_CAPACITY || refusal != IpcError::Full {
        return Err(format!("expected {QUEUE_CAPACITY} then Full"));
    }
    if ipc::send(quiet, &[0; ipc::MAX_MESSAGE_BYTES + 1]) != Err(IpcError::TooLong) {
        return Err(String::from("an oversized message was accepted"));
    }
    if ipc::reply(123_456, b"x") != Err(IpcError::BadToken) {
        return Err(String::from("a reply with an unknown token was accepted"));
    }
    // A caller waiting on an endpoint that closes gets an error, not a hang.
    let lonely = ipc::create_endpoint(None).map_err(|error| format!("create: {error:?}"))?;
    sched::spawn("closer", Priority::Normal, move || {
        sched::sleep_for(5_000_000);
        ipc::close_endpoint(lonely);
    })
    .map_err(|error| format!("spawn: {error}"))?;
    let closed = ipc::call(
        lonely,
        b"anyone?",
        Some(time::now_nanoseconds() + 1_000_000_000),
    );
    kprintln!(
        "ipc: call to an endpoint closed while waiting: {:?}",
        closed.as_ref().err()
    );
    if closed != Err(IpcError::Closed) {
        return Err(String::from("the caller was not told its endpoint closed"));
    }
    let quiet = quiet_reader();
    let timed = ipc::call(quiet, b"late", Some(time::now_nanoseconds() + 3_000_000));
    kprintln!(
        "ipc: call with a 3 ms deadline and no server: {:?}",
        timed.as_ref().err()
    );
    if timed != Err(IpcError::TimedOut) {
        return Err(String::from("a call without a server did not time out"));
    }
    // Nobody waits for it any more: its message left the queue.
    let left = ipc::queued(quiet);
    kprintln!("ipc: messages queued after the timed-out call: {left:?}");
    if left != Ok(0) {
        return Err(String::from("a timed-out call was left on the queue"));
    }
    super::watched_calls::run()
}

/// An endpoint nobody serves, with room in its queue.
fn quiet_reader() -> ipc::EndpointId {
    ipc::create_endpoint(None).unwrap_or(0)
}
