//! Installing a module the running system does not know, with its manifest entry
//! (`cargo cella push NAME --grant`): the entry is read and compiled by the tool's own code,
//! sent signed with the module, checked by the kernel against everything the running system
//! grants, and the module runs with that grant (`ps`, `caps`). An entry that overlaps another
//! holder is refused with the rule and the holder, and changes nothing; a name the system does
//! not know, pushed without an entry, is refused with the way to send one. Twenty pushes of
//! the installed module in a row, and twenty removals each followed by an install, leave the
//! kernel heap where it was.

use cella::installed::compiled_entry;
use cella::push::{Answer, send, send_install};
use cella::system_manifest::SystemPlan;
use cella_qemu_tests::{Session, environment};
use cella_system::push_authority::{KEY_ARCHIVE_ENTRY, PushKey};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// The test system booted with COM2 on a socket of its own, at its first prompt.
fn boot_with_push_port(label: &str) -> (Session, PathBuf) {
    let socket = std::env::temp_dir().join(format!(
        "cella-install-test-{label}-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&socket);
    let serial = format!("unix:{},server=on,wait=off", socket.display());
    let session = Session::start(label, "", None, &["-serial", &serial]);
    session.wait_for_boot(WAIT);
    session.wait_for("shell: ready", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    (session, socket)
}

/// The key the build packed into the boot archive: the one `cargo cella push` signs with.
fn system_key() -> PushKey {
    let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
    let entry = cella::archive::read_ustar(&archive)
        .expect("ustar")
        .into_iter()
        .find(|entry| entry.name == KEY_ARCHIVE_ENTRY)
        .expect("a push key in the boot archive");
    PushKey::from_hex(&entry.bytes).expect("a valid key")
}

/// `blink`: asks for ports 0x510-0x511, logs a line when it starts, counts its messages and
/// carries the count across a swap.
fn blink() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname blink\nversion 1.0.0\nstate 1\nport 0x510 2\n")
  (import "cella" "log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x100) "blink: installed and running")
  (func (export "init") (result i32)
    (drop (call $log (i32.const 3) (i32.const 0x100) (i32.const 28)))
    (i32.const 0))
  (func (export "on_message") (param i32 i32)
    (i32.store (i32.const 0x10) (i32.add (i32.load (i32.const 0x10)) (i32.const 1))))
  (func (export "save_state") (result i64)
    (i64.or (i64.shl (i64.const 4) (i64.const 32)) (i64.const 0x10)))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x80))
  (func (export "restore_state") (param $pointer i32) (param i32) (param i32) (result i32)
    (i32.store (i32.const 0x10) (i32.load (local.get $pointer)))
    (i32.const 0)))"#,
    )
    .expect("valid WAT")
}

/// `toml` (one `[[module]]` table, as an author writes it) compiled as `cargo cella push
/// --grant` sends it.
fn entry(toml: &str) -> String {
    let spec = SystemPlan::parse_entry(toml, "blink.toml").expect("a valid entry");
    compiled_entry(&spec)
}

const BLINK_ENTRY: &str = "[[module]]\nname = \"blink\"\nserve = [\"blink\"]\nports = [{ base = 0x510, count = 2 }]\nendpoints = [\"console\"]\n";

/// Types `line` and Enter; returns the output from the echo up to the next prompt.
fn run(session: &mut Session, line: &str) -> String {
    session.type_line(line)
}

fn expect_answer(session: &Session, what: &str, answer: &Answer, accepted: bool, needle: &str) {
    if answer.accepted != accepted || !answer.text.contains(needle) {
        session.fail(format!(
            "{what}: answered (accepted: {}) `{}`; expected accepted: {accepted} and `{needle}`",
            answer.accepted, answer.text
        ));
    }
}

/// KiB of kernel heap in use, from `mem`.
fn heap_kib(session: &mut Session) -> u64 {
    let answer = run(session, "mem");
    answer
        .lines()
        .find_map(|line| line.strip_prefix("heap: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| session.fail(format!("no heap line in `mem`:\n{answer}")))
}

#[test]
fn a_module_pushed_with_its_entry_joins_the_running_system_and_conflicts_change_nothing() {
    let (mut session, socket) = boot_with_push_port("install");
    let key = system_key();

    // A name the system does not know, without its entry: refused with the way to send one.
    let answer = send(&socket, &key, "blink", &blink(), false, WAIT).expect("an answer");
    expect_answer(
        &session,
        "a push of an unknown name without --grant",
        &answer,
        false,
        "`blink` is missing from the running system's manifest, so it has no grant; send its manifest entry with it: `cargo cella push blink --grant`",
    );

    // An entry granting the UART driver's ports: refused, naming the rule and the holder.
    let overlapping = entry(
        "[[module]]\nname = \"blink\"\nports = [{ base = 0x3f8, count = 2 }, { base = 0x510, count = 2 }]\n",
    );
    let answer =
        send_install(&socket, &key, "blink", &overlapping, &blink(), WAIT).expect("an answer");
    expect_answer(
        &session,
        "an overlapping entry",
        &answer,
        false,
        "the manifest entry of blink does not fit the running system: module `uart16550` and module `blink` are both granted ports 0x3f8..0x3fa",
    );
    // An entry serving the shell's endpoint: refused the same way.
    let serving = entry(
        "[[module]]\nname = \"blink\"\nserve = [\"console\"]\nports = [{ base = 0x510, count = 2 }]\n",
    );
    let answer = send_install(&socket, &key, "blink", &serving, &blink(), WAIT).expect("an answer");
    expect_answer(
        &session,
        "an entry serving a served endpoint",
        &answer,
        false,
        "endpoint `console` is served by 2",
    );
    // Nothing changed: no module `blink`, and the refused ones never started.
    let listed = run(&mut session, "ps");
    if listed.contains("blink") || session.output().contains("blink: installed and running") {
        session.fail(format!(
            "a refused install left something behind:\n{listed}"
        ));
    }

    // The entry that fits: installed with its grant and started.
    let answer = send_install(&socket, &key, "blink", &entry(BLINK_ENTRY), &blink(), WAIT)
        .expect("an answer");
    expect_answer(
        &session,
        "a fitting entry",
        &answer,
        true,
        "blink 1.0.0 installed and started: grants [port 0x510 2, endpoint console]; serves [blink]",
    );
    session.wait_for("blink: installed and running", WAIT);
    let listed = run(&mut session, "ps");
    if !listed
        .lines()
        .any(|line| line.starts_with("blink ") && line.contains("running"))
    {
        session.fail(format!("`ps` does not list blink running:\n{listed}"));
    }
    let caps = run(&mut session, "caps blink");
    for needle in [
        "port 0x510 2",
        "endpoint console",
        "serves blink",
        "  endpoint blink (receive)",
    ] {
        if !caps.contains(needle) {
            session.fail(format!("`caps blink` lacks `{needle}`:\n{caps}"));
        }
    }

    // Pushed again with the same entry, forty times: each a hot swap; the heap ends where it
    // was (measured after five warm-up swaps, so one-time allocations are behind it), within
    // the one KiB `mem` rounds to: a reading near a KiB boundary moves by one with whatever
    // the kernel holds for a moment (200 swaps in a row read 3600, 3601, 3601, 3600, 3601
    // KiB), while a leak of 52 bytes a swap would show as two or more.
    let again =
        |socket: &PathBuf| send_install(socket, &key, "blink", &entry(BLINK_ENTRY), &blink(), WAIT);
    for warm_up in 0..5 {
        let answer = again(&socket).expect("an answer");
        expect_answer(
            &session,
            &format!("warm-up swap {warm_up}"),
            &answer,
            true,
            "blink: swapped 1.0.0 -> 1.0.0",
        );
    }
    let before = heap_kib(&mut session);
    for round in 0..40 {
        let answer = again(&socket).expect("an answer");
        expect_answer(
            &session,
            &format!("swap {round}"),
            &answer,
            true,
            "blink: swapped 1.0.0 -> 1.0.0",
        );
    }
    let after = heap_kib(&mut session);
    println!(
        "kernel heap: {before} KiB before 40 swaps of the installed module, {after} KiB after"
    );
    if after > before + 1 {
        session.fail(format!(
            "the kernel heap grew from {before} KiB to {after} KiB over 40 swaps"
        ));
    }

    // Removed and installed again, twenty times after a first round that warms the
    // kernel's tables up: each time the module is gone from `ps`, its ports are free for
    // the next install, and the heap ends where it was after the first round.
    let mut before = 0;
    for round in 0..21 {
        if round == 1 {
            before = heap_kib(&mut session);
        }
        let removed = run(&mut session, "remove blink");
        if !removed.contains("blink: removed (stopped and unloaded; its grants are released)") {
            session.fail(format!("remove {round} answered:\n{removed}"));
        }
        let listed = run(&mut session, "ps");
        if listed
            .lines()
            .any(|line| line.starts_with("blink ") && line.contains("running"))
        {
            session.fail(format!("blink still runs after remove {round}:\n{listed}"));
        }
        let answer = again(&socket).expect("an answer");
        if !answer.accepted {
            session.fail(format!(
                "install {round} after a remove was refused: {}",
                answer.text
            ));
        }
    }
    let listed = run(&mut session, "ps");
    if !listed
        .lines()
        .any(|line| line.starts_with("blink ") && line.contains("running"))
    {
        session.fail(format!(
            "blink does not run after the last install:\n{listed}"
        ));
    }
    let after = heap_kib(&mut session);
    println!(
        "kernel heap: {before} KiB before 20 removals and installs of blink, {after} KiB after"
    );
    if after > before {
        session.fail(format!(
            "the kernel heap grew from {before} KiB to {after} KiB over 20 removals and installs"
        ));
    }
    let _ = std::fs::remove_file(socket);
}

/// `disk2`: a driver that asks for the virtio-blk PCI function (and nothing else).
fn disk_driver() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname disk2\nversion 1.0.0\npci 0x1af4 0x1042\n")
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0)))"#,
    )
    .expect("valid WAT")
}

#[test]
fn a_driver_whose_device_grant_no_free_function_matches_is_refused_naming_the_grant() {
    let (mut session, socket) = boot_with_push_port("install-device");
    let key = system_key();
    // A grant of a device the machine does not have.
    let wrong =
        entry("[[module]]\nname = \"disk2\"\ndevices = [{ vendor = 0x1af4, device = 0x1041 }]\n");
    let answer =
        send_install(&socket, &key, "disk2", &wrong, &disk_driver(), WAIT).expect("an answer");
    expect_answer(
        &session,
        "a grant of a device the machine does not have",
        &answer,
        false,
        "disk2: no free PCI function matches its grant `device 0x1af4 0x1041`; nothing changed",
    );
    // A grant of the disk the virtio-blk driver holds: taken, refused the same way.
    let taken =
        entry("[[module]]\nname = \"disk2\"\ndevices = [{ vendor = 0x1af4, device = 0x1042 }]\n");
    let answer =
        send_install(&socket, &key, "disk2", &taken, &disk_driver(), WAIT).expect("an answer");
    expect_answer(
        &session,
        "a grant of a device another module holds",
        &answer,
        false,
        "disk2: no free PCI function matches its grant `device 0x1af4 0x1042`; nothing changed",
    );
    // Nothing changed: no module disk2, and the disk still answers through its driver.
    let listing = run(&mut session, "ps");
    if listing.contains("disk2") {
        session.fail(format!(
            "a refused install left a module behind:\n{listing}"
        ));
    }
    let capacity = run(&mut session, "call block capacity");
    if !capacity.contains("sectors of 512 bytes") {
        session.fail(format!("the disk driver stopped answering: {capacity}"));
    }
}
