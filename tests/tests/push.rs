//! Push from the host: signed modules sent over the guest's second serial port are hot-swapped
//! in or, sent with their manifest entry, installed new; uploads with a wrong key, a changed byte, a used nonce (a replay), too many
//! bytes or too few are refused with a reason and change nothing; a system whose manifest does
//! not grant the channel refuses every upload. The console keeps echoing throughout.

use cella::archive::{ArchiveEntry, read_ustar};
use cella::push::{Answer, send, send_install};
use cella_qemu_tests::{Session, default_archive_with, environment};
use cella_system::push_authority::{KEY_ARCHIVE_ENTRY, KEY_BYTES, PushKey};
use cella_system::push_protocol::{
    HELLO, IDLE_TIMEOUT_NANOSECONDS, MAX_UPLOAD_BYTES, NONCE, RESULT, header,
};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn boot_with_push_port(label: &str, archive: Option<PathBuf>) -> (Session, PathBuf) {
    let socket = std::env::temp_dir().join(format!(
        "cella-push-test-{label}-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&socket);
    let serial = format!("unix:{},server=on,wait=off", socket.display());
    let session = Session::start(label, "", archive, &["-serial", &serial]);
    session.wait_for("shell: ready", WAIT);
    (session, socket)
}

/// A connection to the push port that reads the kernel's lines.
struct Channel<'a> {
    session: &'a Session,
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl<'a> Channel<'a> {
    fn open(session: &'a Session, socket: &Path) -> Self {
        let stream = UnixStream::connect(socket).expect("push socket");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Channel {
            session,
            stream,
            reader,
        }
    }

    fn write(&mut self, wire: &[u8]) {
        self.stream.write_all(wire).expect("send");
    }

    /// The next nonce or result line.
    fn line(&mut self) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            match self.reader.read_line(&mut line) {
                Ok(0) => self
                    .session
                    .fail("the push connection closed without an answer"),
                Ok(_) if line.starts_with(RESULT) || line.starts_with(NONCE) => {
                    return line.trim_end().to_owned();
                }
                Ok(_) => {}
                Err(error) => self
                    .session
                    .fail(format!("no answer on the push port: {error}")),
            }
        }
    }

    /// Asks for a nonce.
    fn nonce(&mut self) -> String {
        self.write(format!("{HELLO}\n").as_bytes());
        let line = self.line();
        match line.strip_prefix(NONCE) {
            Some(nonce) => nonce.trim().to_owned(),
            None => self
                .session
                .fail(format!("asked for a nonce, got `{line}`")),
        }
    }

    /// Asks for a nonce after the kernel refused a header and skips the body it announced:
    /// as the protocol says, a sender resynchronises by staying idle for the timeout. The
    /// kernel measures the idle time from when it polls the port, which a loaded machine
    /// delays, so a `HELLO` it still took for body bytes is sent again after another idle
    /// spell (at most five times).
    fn nonce_after_skip(&mut self) -> String {
        let idle = Duration::from_nanos(IDLE_TIMEOUT_NANOSECONDS);
        self.stream
            .set_read_timeout(Some(idle * 2))
            .expect("timeout");
        for _ in 0..5 {
            std::thread::sleep(idle + Duration::from_millis(500));
            self.write(format!("{HELLO}\n").as_bytes());
            let mut line = String::new();
            loop {
                line.clear();
                match self.reader.read_line(&mut line) {
                    Ok(0) => self
                        .session
                        .fail("the push connection closed without an answer"),
                    Ok(_) if line.starts_with(NONCE) => {
                        self.stream.set_read_timeout(Some(WAIT)).expect("timeout");
                        return line[NONCE.len()..].trim().to_owned();
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        self.session
            .fail("no nonce after five idle spells past the refused header")
    }

    /// Sends `wire` and expects a refusal containing `needle`.
    fn expect_refused(&mut self, wire: &[u8], what: &str, needle: &str) {
        self.write(wire);
        let answer = self.line();
        if !answer.starts_with(&format!("{RESULT} error")) || !answer.contains(needle) {
            self.session.fail(format!(
                "{what} was answered `{answer}`, expected an error with `{needle}`"
            ));
        }
    }
}

fn archive_entries() -> Vec<ArchiveEntry> {
    let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
    read_ustar(&archive).expect("ustar")
}

fn archive_entry(name: &str) -> Vec<u8> {
    archive_entries()
        .into_iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("{name} in the boot archive"))
        .bytes
}

fn archive_module(name: &str) -> Vec<u8> {
    archive_entry(&format!("modules/{name}.wasm"))
}

/// The key the build packed into the boot archive: the one `cargo cella push` signs with.
fn system_key() -> PushKey {
    PushKey::from_hex(&archive_entry(KEY_ARCHIVE_ENTRY)).expect("a push key in the boot archive")
}

/// A signed upload as it goes on the wire.
fn upload(key: &PushKey, nonce: &str, target: &str, bytes: &[u8]) -> Vec<u8> {
    let mut wire = header(key, target, bytes, false, nonce).into_bytes();
    wire.extend_from_slice(bytes);
    wire
}

/// Sends `bytes` as a new module `target` with a manifest entry that grants nothing.
fn install(socket: &Path, key: &PushKey, target: &str, bytes: &[u8]) -> Answer {
    let entry = format!("cella-system 1\nmodule {target} installed/{target}.wasm\n");
    send_install(socket, key, target, &entry, bytes, WAIT).expect("an answer")
}

fn expect_answer(session: &Session, answer: &Answer, accepted: bool, needle: &str) {
    if answer.accepted != accepted || !answer.text.contains(needle) {
        session.fail(format!(
            "answer {answer:?}: expected accepted={accepted} and `{needle}`"
        ));
    }
}

/// Types into the console and waits for the echo.
fn expect_console_echoes(session: &mut Session, text: &str) {
    std::thread::sleep(Duration::from_millis(300));
    let from = session.output().len();
    session.write_serial(text.as_bytes());
    session.wait_for_from(from, text, WAIT);
    session.write_serial(b"\r");
}

#[test]
fn pushed_modules_swap_in_or_load_new_and_bad_uploads_change_nothing() {
    let (mut session, socket) = boot_with_push_port("push", None);
    let key = system_key();

    // A new version of a running driver (here: the same build) is hot-swapped in.
    let uart = archive_module("uart16550");
    let answer = send(&socket, &key, "uart16550", &uart, false, WAIT).expect("push");
    expect_answer(&session, &answer, true, "uart16550: swapped 1.0.0 -> 1.0.0");

    // Invalid Wasm: refused at load, nothing changes.
    let answer = send(&socket, &key, "pci", b"\0asm\x01\0\0\0garbage", false, WAIT).expect("push");
    expect_answer(&session, &answer, false, "refused at load");

    // A module named after a part of the kernel would log lines that read as the kernel's:
    // refused, by its target name and by the name in its own manifest.
    let answer = install(&socket, &key, "boot", &memory_hog("boot"));
    expect_answer(&session, &answer, false, "a name of the kernel's own");
    let answer = install(&socket, &key, "impostor", &memory_hog("sched"));
    expect_answer(&session, &answer, false, "a name of the kernel's own");

    // Operators after a function's final `end` (29 bytes): wasmi 2.0.0 alone panics on them;
    // the loader's full validation refuses them first, with the validator's message.
    let after_end = [
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03,
        0x02, 0x01, 0x00, 0x0a, 0x07, 0x01, 0x05, 0x00, 0x0b, 0x03, 0x40, 0x0b,
    ];
    let answer = install(&socket, &key, "evil", &after_end);
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
    let answer = install(&socket, &key, "store-offset", &store_offset);
    expect_answer(
        &session,
        &answer,
        true,
        "store-offset 0.1.0 installed and started",
    );
    session.wait_for("store-offset: store-offset stored", WAIT);

    // A module asking for more than the target's grant: refused, naming the capability.
    let answer = send(&socket, &key, "cmos-rtc", &uart, false, WAIT).expect("push");
    expect_answer(&session, &answer, false, "port 0x3f8");

    let mut channel = Channel::open(&session, &socket);

    // Signed with another key: refused.
    let nonce = channel.nonce();
    let stranger = PushKey::new([0x5a; KEY_BYTES]);
    channel.expect_refused(
        &upload(&stranger, &nonce, "uart16550", &uart),
        "an upload signed with another key",
        "authentication failed",
    );

    // Changed in transit: one byte of the body flipped after signing.
    let nonce = channel.nonce();
    let mut wire = upload(&key, &nonce, "pci", b"0123456789");
    let last = wire.len() - 1;
    wire[last] ^= 1;
    channel.expect_refused(&wire, "a corrupted upload", "authentication failed");

    // Replayed: a good upload recorded on the wire and sent again, with and without a fresh
    // hello in between. The first time it swaps the driver; never again.
    let nonce = channel.nonce();
    let recorded = upload(&key, &nonce, "uart16550", &uart);
    channel.write(&recorded);
    let answer = channel.line();
    if !answer.contains("ok uart16550: swapped") {
        session.fail(format!("the signed upload was answered `{answer}`"));
    }
    channel.expect_refused(&recorded, "a replayed upload", "replayed");
    channel.nonce();
    channel.expect_refused(&recorded, "a replayed upload after a hello", "replayed");

    // Oversized: refused from the header alone.
    let nonce = channel.nonce();
    let oversized = format!(
        "CELLA-PUSH 2 pci {} {nonce} {}\n",
        MAX_UPLOAD_BYTES + 1,
        "0".repeat(64)
    );
    channel.expect_refused(
        oversized.as_bytes(),
        "an oversized upload",
        "exceeds the limit",
    );

    // After refusing a header the kernel skips the body it announced (so those bytes are never
    // read as a header) until the line has been idle for the protocol's timeout.
    // Truncated: the header promises 1000 bytes, 10 arrive, then nothing.
    let nonce = channel.nonce_after_skip();
    let wire = upload(&key, &nonce, "pci", &[0u8; 1000]);
    let cut = wire.len() - 990;
    channel.expect_refused(&wire[..cut], "a truncated upload", "truncated");
    drop(channel);

    // A module the system does not know is refused without its manifest entry, and installed
    // with it (here an entry that grants nothing: logging and time only).
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
    let answer = send(&socket, &key, "hello", &hello, false, WAIT).expect("push");
    expect_answer(&session, &answer, false, "cargo cella push hello --grant");
    let answer = install(&socket, &key, "hello", &hello);
    expect_answer(
        &session,
        &answer,
        true,
        "hello 0.1.0 installed and started: grants []; serves []",
    );
    session.wait_for("hello from a pushed module", WAIT);

    // Through all of it the console kept working, through the swapped UART driver, and the
    // refused uploads left nothing behind: the driver swapped exactly twice.
    expect_console_echoes(&mut session, "stillhere");
    let swaps = session.output().matches("push: uart16550: swapped").count();
    if swaps != 2 {
        session.fail(format!(
            "the UART driver was swapped {swaps} times, expected 2"
        ));
    }
    let _ = std::fs::remove_file(socket);
}

/// The default archive with the system manifest's `push` line taken out.
fn archive_without_push_grant() -> PathBuf {
    default_archive_with(
        "no-push",
        |text| {
            if !text.lines().any(|line| line.starts_with("push ")) {
                panic!("the default system manifest grants no push channel:\n{text}");
            }
            let kept: Vec<&str> = text
                .lines()
                .filter(|line| !line.starts_with("push "))
                .collect();
            format!("{}\n", kept.join("\n"))
        },
        Vec::new(),
    )
}

#[test]
fn without_a_push_grant_every_upload_is_refused_and_nothing_changes() {
    let archive = archive_without_push_grant();
    let (mut session, socket) = boot_with_push_port("push-off", Some(archive.clone()));
    session.wait_for(
        "push: off: push is not granted by the system manifest",
        WAIT,
    );
    let key = system_key();
    let uart = archive_module("uart16550");
    let answer = send(&socket, &key, "uart16550", &uart, false, WAIT).expect("an answer");
    expect_answer(
        &session,
        &answer,
        false,
        "not granted by the system manifest",
    );

    // A header without a hello, correctly signed for a made-up nonce: refused as well.
    let mut channel = Channel::open(&session, &socket);
    let wire = upload(&key, &"0".repeat(32), "uart16550", &uart);
    channel.expect_refused(&wire, "an upload to a closed channel", "not granted");
    drop(channel);
    if session.output().contains("swapped") {
        session.fail("a module was swapped through a channel the manifest did not grant");
    }
    expect_console_echoes(&mut session, "stillclosed");
    let _ = std::fs::remove_file(socket);
    let _ = std::fs::remove_file(archive);
}

/// A module whose linear memory starts at the sandbox's largest size (16 pages, 1 MiB).
fn memory_hog(name: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") 16)
            (func (export "init") (result i32) (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname {name}\nversion 1.0.0\n"))"#
    ))
    .expect("valid WAT")
}

#[test]
fn pushing_modules_until_the_heap_is_full_ends_in_refusals_not_a_panic() {
    let (mut session, socket) = boot_with_push_port("push-hogs", None);
    let key = system_key();
    let mut loaded = 0;
    let mut refusals = Vec::new();
    for index in 0..60 {
        let name = format!("hog{index}");
        let answer = install(&socket, &key, &name, &memory_hog(&name));
        if answer.accepted {
            loaded += 1;
        } else {
            refusals.push(answer.text);
        }
        if refusals.len() == 3 {
            break;
        }
    }
    println!(
        "{loaded} modules of 1 MiB loaded; then: {}",
        refusals.join(" | ")
    );
    if refusals.len() < 3 || loaded < 5 {
        session.fail(format!(
            "expected several modules to load and then refusals: {loaded} loaded, refusals {refusals:?}"
        ));
    }
    for refusal in &refusals {
        if !refusal.contains("memory") {
            session.fail(format!("a refusal that does not say why: `{refusal}`"));
        }
    }
    // The kernel kept its reserve: it still answers and echoes.
    expect_console_echoes(&mut session, "stillserving");
    if session.output().contains("PANIC") || session.output().contains("heap exhausted") {
        session.fail("the kernel ran out of heap");
    }
    let _ = std::fs::remove_file(socket);
}

/// A module of about 450 KB whose code costs wasmi's compiler far more than
/// ordinary code: 38 functions of 4,000 nested loops each (about 75 bytes of
/// heap per byte of input at the compile's peak, 34 MB in all).
fn compiler_hog(name: &str) -> Vec<u8> {
    let nested = format!("{}{}", "(loop ".repeat(4000), ")".repeat(4000));
    let functions: String = (0..38).map(|_| format!("(func {nested})")).collect();
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") 1)
            (func (export "init") (result i32) (i32.const 0))
            {functions}
            (@custom "cella.manifest" "cella 1\nname {name}\nversion 1.0.0\n"))"#
    ))
    .expect("valid WAT")
}

#[test]
fn a_module_whose_compile_would_outgrow_the_heap_is_refused_before_it_starts() {
    let (mut session, socket) = boot_with_push_port("push-compiler-hog", None);
    let key = system_key();
    let module = compiler_hog("nest");
    // Within its kernel memory limit by the usual estimate (8 bytes per byte),
    // far beyond the heap at the compile's peak.
    assert!(module.len() * 8 < 4 << 20 && module.len() * 75 > 32 << 20);
    let answer = install(&socket, &key, "nest", &module);
    println!("{} bytes pushed: {}", module.len(), answer.text);
    if answer.accepted || !answer.text.contains("KiB are needed") {
        session.fail(format!(
            "a {} byte module that needs more heap to compile than there is: `{}`",
            module.len(),
            answer.text
        ));
    }
    expect_console_echoes(&mut session, "stillcompiling");
    if session.output().contains("PANIC") || session.output().contains("heap exhausted") {
        session.fail("the kernel ran out of heap");
    }
    let _ = std::fs::remove_file(socket);
}
