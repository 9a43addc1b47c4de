//! Push from the host: modules sent over the guest's second serial port are hot-swapped in or
//! loaded new, and oversized, invalid, corrupted or truncated uploads are refused with a reason
//! and change nothing — the console keeps echoing throughout.

use cella::archive::read_ustar;
use cella::push::{Answer, send};
use cella_kernel::push_protocol::{IDLE_TIMEOUT_NANOSECONDS, MAX_UPLOAD_BYTES, RESULT, header};
use cella_qemu_tests::{Session, environment};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn boot_with_push_port() -> (Session, PathBuf) {
    let socket = std::env::temp_dir().join(format!("cella-push-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let serial = format!("unix:{},server=on,wait=off", socket.display());
    let session = Session::start("push", "", None, &["-serial", &serial]);
    session.wait_for("cella: all modules up (5 of 5 started)", WAIT);
    session.wait_for("shell: ready", WAIT);
    (session, socket)
}

/// Sends raw bytes (a possibly broken upload) and returns the kernel's answer line.
fn send_raw(session: &Session, socket: &Path, wire: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).expect("push socket");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.write_all(wire).expect("send");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        match reader.read_line(&mut line) {
            Ok(0) => session.fail("the push connection closed without an answer"),
            Ok(_) if line.starts_with(RESULT) => return line,
            Ok(_) => line.clear(),
            Err(error) => session.fail(format!("no answer to a raw upload: {error}")),
        }
    }
}

fn archive_module(name: &str) -> Vec<u8> {
    let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
    read_ustar(&archive)
        .expect("ustar")
        .into_iter()
        .find(|entry| entry.name == format!("modules/{name}.wasm"))
        .unwrap_or_else(|| panic!("modules/{name}.wasm in the boot archive"))
        .bytes
}

fn expect_answer(session: &Session, answer: &Answer, accepted: bool, needle: &str) {
    if answer.accepted != accepted || !answer.text.contains(needle) {
        session.fail(format!(
            "answer {answer:?}: expected accepted={accepted} and `{needle}`"
        ));
    }
}

#[test]
fn pushed_modules_swap_in_or_load_new_and_bad_uploads_change_nothing() {
    let (mut session, socket) = boot_with_push_port();

    // A new version of a running driver (here: the same build) is hot-swapped in.
    let uart = archive_module("uart16550");
    let answer = send(&socket, "uart16550", &uart, WAIT).expect("push");
    expect_answer(&session, &answer, true, "uart16550: swapped 1.0.0 -> 1.0.0");

    // Invalid Wasm: refused at load, nothing changes.
    let answer = send(&socket, "pci", b"\0asm\x01\0\0\0garbage", WAIT).expect("push");
    expect_answer(&session, &answer, false, "refused at load");

    // Operators after a function's final `end` (29 bytes): wasmi 2.0.0 alone panics on them;
    // the loader's full validation refuses them first, with the validator's message.
    let after_end = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03,
        0x02, 0x01, 0x00, 0x0a, 0x07, 0x01, 0x05, 0x00, 0x0b, 0x03, 0x40, 0x0b,
    ];
    let answer = send(&socket, "evil", &after_end, WAIT).expect("push");
    expect_answer(
        &session,
        &answer,
        false,
        "operators remaining after end of function",
    );

    // A store wasmi 2.0.0's translator panics on unless the loader rewrites it (address and value
    // the same local, offset above 0xffff): it loads, runs and stores the right value.
    let store_offset = wat::parse_str(
        r#"(module
            (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
            (memory (export "memory") 2)
            (data (i32.const 0) "store-offset stored")
            (func (export "init") (result i32) (local i32)
              (i32.and (i32.const 64) (i32.const 64))
              local.tee 0
              local.get 0
              i32.store offset=65536
              (if (i32.ne (i32.load offset=65536 (local.get 0)) (i32.const 64))
                (then (return (i32.const 1))))
              (drop (call $log (i32.const 3) (i32.const 0) (i32.const 19)))
              (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname store-offset\nversion 0.1.0\n"))"#,
    )
    .expect("valid WAT");
    let answer = send(&socket, "store-offset", &store_offset, WAIT).expect("push");
    expect_answer(
        &session,
        &answer,
        true,
        "store-offset 0.1.0 loaded new and started",
    );
    session.wait_for("store-offset: store-offset stored", WAIT);

    // A module asking for more than the target's grant: refused, naming the capability.
    let answer = send(&socket, "cmos-rtc", &uart, WAIT).expect("push");
    expect_answer(&session, &answer, false, "port 0x3f8");

    // Corrupted in transit: the checksum does not match.
    let mut wire = header("pci", b"0123456789").into_bytes();
    wire.extend_from_slice(b"0123456780");
    let answer = send_raw(&session, &socket, &wire);
    if !answer.contains("error") || !answer.contains("checksum mismatch") {
        session.fail(format!("corrupted upload answered `{answer}`"));
    }

    // Oversized: refused from the header alone.
    let oversized = format!(
        "CELLA-PUSH 1 pci {} 0000000000000000\n",
        MAX_UPLOAD_BYTES + 1
    );
    let answer = send_raw(&session, &socket, oversized.as_bytes());
    if !answer.contains("error") || !answer.contains("exceeds the limit") {
        session.fail(format!("oversized upload answered `{answer}`"));
    }

    // After refusing a header the kernel skips the body it announced (so those bytes are never
    // read as a header) until the line has been idle for the protocol's timeout.
    std::thread::sleep(Duration::from_nanos(IDLE_TIMEOUT_NANOSECONDS) + Duration::from_millis(500));

    // Truncated: the header promises 1000 bytes, 10 arrive, then nothing.
    let mut wire = header("pci", &[0u8; 1000]).into_bytes();
    wire.extend_from_slice(&[0u8; 10]);
    let answer = send_raw(&session, &socket, &wire);
    if !answer.contains("error") || !answer.contains("truncated") {
        session.fail(format!("truncated upload answered `{answer}`"));
    }

    // A module the system does not know is loaded new, with no capabilities beyond log and time.
    let hello = wat::parse_str(
        r#"(module
            (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "hello from a pushed module")
            (func (export "init") (result i32)
              (drop (call $log (i32.const 3) (i32.const 0) (i32.const 26)))
              (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname hello\nversion 0.1.0\n"))"#,
    )
    .expect("valid WAT");
    let answer = send(&socket, "hello", &hello, WAIT).expect("push");
    expect_answer(
        &session,
        &answer,
        true,
        "hello 0.1.0 loaded new and started",
    );
    session.wait_for("hello: hello from a pushed module", WAIT);

    // Through all of it the console kept working, through the swapped UART driver.
    std::thread::sleep(Duration::from_millis(300));
    let from = session.output().len();
    session.write_serial(b"stillhere");
    session.wait_for_from(from, "stillhere", WAIT);
    session.write_serial(b"\r");
    let _ = std::fs::remove_file(socket);
}
