//! Swaps and faults under traffic: the `network_faults` scenario runs the system while this
//! test moves 16 MiB each way through the HTTP server (`GET /download/N`, `POST /upload`) on
//! the port QEMU forwards to the guest's port 80. During the first pair of transfers
//! virtio-net is swapped v1 -> v2 -> v1 twice, during the second it is faulted, during the
//! third the TCP/IP server is faulted. Each transfer either completes with the right bytes
//! (TCP sends again what a driver's restart lost) or fails with a clear error; none ever
//! gives wrong bytes; the swaps and the driver's fault lose no transfer; afterwards the
//! server answers a download and `/api/ps` again, and the kernel heap has not grown.

use cella_qemu_tests::http::{self, Response};
use cella_qemu_tests::{Network, Session};
use std::thread;
use std::time::{Duration, Instant};

/// Each transfer's size.
const TRANSFER_BYTES: u64 = 16 * 1024 * 1024;
/// How long the scenario may take to get ready, and each phase to end.
const PHASE_WAIT: Duration = Duration::from_secs(400);
/// How long the whole session may take.
const SESSION_LIMIT: Duration = Duration::from_secs(1200);
/// How long a transfer may stall before the client gives up.
const STALL: Duration = Duration::from_secs(60);
/// As long, once the TCP/IP server's fault has ended every connection it held (QEMU keeps
/// the host's side of one open until it gives up on the guest).
const STALL_AFTER_THE_SERVER_FAULT: Duration = Duration::from_secs(10);

/// Byte `offset` of every `/download/N` body (modules/httpd's pattern).
fn pattern_byte(offset: u64) -> u8 {
    ((offset.wrapping_mul(31) + offset / 4096) % 251) as u8
}

/// Byte `offset` of the bodies this test uploads: another pattern than the download's.
fn upload_byte(offset: u64) -> u8 {
    ((offset.wrapping_mul(7) ^ (offset >> 12)) % 253) as u8
}

fn fnv1a_of(length: u64, byte: impl Fn(u64) -> u8) -> u32 {
    (0..length).fold(0x811c_9dc5, |hash: u32, offset| {
        (hash ^ u32::from(byte(offset))).wrapping_mul(0x0100_0193)
    })
}

/// How one transfer ended.
enum Outcome {
    /// The right bytes arrived.
    Complete,
    /// It failed, with the client's sentence for why.
    Failed(String),
}

/// Downloads [`TRANSFER_BYTES`]; wrong bytes are a test failure, a broken connection an
/// [`Outcome::Failed`].
fn download(port: u16, stall: Duration) -> Outcome {
    match http::get(port, &format!("/download/{TRANSFER_BYTES}"), stall) {
        Ok(Response {
            status: 200, body, ..
        }) => {
            assert_eq!(
                body.len() as u64,
                TRANSFER_BYTES,
                "the download's length is wrong"
            );
            if let Some(offset) =
                (0..TRANSFER_BYTES).find(|&at| body[at as usize] != pattern_byte(at))
            {
                panic!(
                    "WRONG BYTES: the download differs at byte {offset}: {:#04x}, not {:#04x}",
                    body[offset as usize],
                    pattern_byte(offset)
                );
            }
            Outcome::Complete
        }
        Ok(response) => {
            Outcome::Failed(format!("answered {}: {}", response.status, response.text()))
        }
        Err(error) => Outcome::Failed(error),
    }
}

/// Uploads [`TRANSFER_BYTES`]; the server's byte count and checksum must be the test's.
fn upload(port: u16, stall: Duration) -> Outcome {
    let fill = |offset: u64, chunk: &mut [u8]| {
        for (index, byte) in chunk.iter_mut().enumerate() {
            *byte = upload_byte(offset + index as u64);
        }
    };
    match http::post(port, "/upload", TRANSFER_BYTES, fill, stall) {
        Ok(Response {
            status: 200, body, ..
        }) => {
            let text = String::from_utf8_lossy(&body).into_owned();
            let expected = format!(
                "{{\"bytes\":{TRANSFER_BYTES},\"fnv1a\":\"{:08x}\"}}",
                fnv1a_of(TRANSFER_BYTES, upload_byte)
            );
            assert_eq!(
                text.trim(),
                expected,
                "WRONG BYTES: the server's count and checksum of the upload"
            );
            Outcome::Complete
        }
        Ok(response) => {
            Outcome::Failed(format!("answered {}: {}", response.status, response.text()))
        }
        Err(error) => Outcome::Failed(error),
    }
}

/// Runs a download and an upload side by side, each given up after `stall` without
/// progress; their outcomes, and how long each took.
fn both(port: u16, stall: Duration) -> ((Outcome, Duration), (Outcome, Duration)) {
    let timed = |transfer: fn(u16, Duration) -> Outcome| {
        move || {
            let started = Instant::now();
            (transfer(port, stall), started.elapsed())
        }
    };
    let downloading = thread::spawn(timed(download));
    let uploading = thread::spawn(timed(upload));
    (
        downloading.join().expect("the download panicked"),
        uploading.join().expect("the upload panicked"),
    )
}

fn describe(what: &str, (outcome, time): &(Outcome, Duration)) -> String {
    let seconds = time.as_secs_f64();
    match outcome {
        Outcome::Complete => format!(
            "{what}: complete, bytes right, in {seconds:.1} s ({:.2} MB/s)",
            TRANSFER_BYTES as f64 / 1e6 / seconds
        ),
        Outcome::Failed(why) => format!("{what}: failed after {seconds:.1} s: {why}"),
    }
}

#[test]
fn transfers_through_swaps_and_faults_of_the_network_modules_never_give_wrong_bytes() {
    let port = cella::qemu::free_host_port(0).expect("a free port of the loopback");
    let network = Network {
        host_port: Some(port),
        ..Network::default()
    };
    let mut session =
        Session::start_on_network("network_faults", "test=network_faults", None, &[], network)
            .at_least(SESSION_LIMIT);
    session.wait_for("network_faults: ready", PHASE_WAIT);

    let (downloaded, uploaded) = both(port, STALL);
    println!("swaps: {}", describe("download", &downloaded));
    println!("swaps: {}", describe("upload", &uploaded));
    let swaps_over = session.wait_for("network_faults: swaps over", PHASE_WAIT);
    for (outcome, _) in [&downloaded, &uploaded] {
        if let Outcome::Failed(why) = outcome {
            session.fail(format!(
                "a transfer failed across the driver's swaps: {why}"
            ));
        }
    }

    let (downloaded, uploaded) = both(port, STALL);
    println!("driver fault: {}", describe("download", &downloaded));
    println!("driver fault: {}", describe("upload", &uploaded));
    let driver_fault_over =
        session.wait_for_from(swaps_over, "network_faults: driver fault over", PHASE_WAIT);
    for (outcome, _) in [&downloaded, &uploaded] {
        if let Outcome::Failed(why) = outcome {
            session.fail(format!(
                "a transfer failed across the driver's fault: {why}"
            ));
        }
    }

    // The TCP/IP server's fault ends every connection it held: a transfer may fail then,
    // with an error, never with wrong bytes (checked in `download` and `upload`).
    let (downloaded, uploaded) = both(port, STALL_AFTER_THE_SERVER_FAULT);
    println!("server fault: {}", describe("download", &downloaded));
    println!("server fault: {}", describe("upload", &uploaded));
    session.wait_for_from(
        driver_fault_over,
        "network_faults: serving until the host has fetched again",
        PHASE_WAIT,
    );

    // The HTTP server makes its listener again on the restarted TCP/IP server within a
    // poll or two: a refused connection is tried again for a few seconds.
    let mut tries = 0;
    let after = loop {
        match http::get(port, "/download/1048576", STALL) {
            Ok(answer) => break answer,
            Err(error) if tries < 20 => {
                println!("after the faults: {error}; trying again");
                tries += 1;
                thread::sleep(Duration::from_millis(500));
            }
            Err(error) => session.fail(format!("no download after the faults: {error}")),
        }
    };
    assert_eq!(after.status, 200, "after the faults: {}", after.head);
    assert!(
        after
            .body
            .iter()
            .enumerate()
            .all(|(offset, &byte)| byte == pattern_byte(offset as u64)),
        "the download after the faults has wrong bytes"
    );
    let table = http::get(port, "/api/ps", STALL)
        .unwrap_or_else(|error| session.fail(format!("no /api/ps after the faults: {error}")));
    let text = table.text();
    for module in ["virtio-net", "netstack", "httpd"] {
        assert!(
            text.contains(&format!("\"{module}\"")),
            "/api/ps after the faults does not name {module}: {text}"
        );
    }

    // The verdict is QEMU's exit status: 33 when the scenario passed.
    let status = session.wait_exit();
    if status != 33 {
        session.fail(format!(
            "the scenario ended with QEMU status {status}, not 33 (passed)"
        ));
    }
    let output = session.output();
    for needle in [
        "swapped 1.0.0 -> 2.0.0 under traffic",
        "swapped 2.0.0 -> 1.0.0 under traffic",
        "faulted virtio-net under traffic",
        "faulted netstack under traffic",
        "network_faults: kernel heap",
    ] {
        assert!(
            output.contains(needle),
            "no line with `{needle}`:\n{output}"
        );
    }
    for line in output
        .lines()
        .filter(|line| line.contains("network_faults:"))
    {
        println!("{line}");
    }
}
