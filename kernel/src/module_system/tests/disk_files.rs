//! Module files on the file system, with the kernel mocked and a file
//! server written in WAT that speaks the `fs` interface's wire form: `swap
//! NAME /PATH` and `start /PATH` read the module through it and load it as
//! any module; a push with `persist` writes the module there, and what was
//! written reads back as the same module; a missing file or no file server
//! is a clear refusal that changes nothing.

use super::*;
use crate::module_system::services::PushRequest;

/// Bytes as a WAT string.
fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("\\{byte:02x}")).collect()
}

/// A file server with one file, `file` (every path but `/missing`, which
/// is not found): `open` answers its size (and empties it when opened to
/// truncate), `read` its bytes at the offset, `write` stores bytes at the
/// offset, `close` answers done. Requests are decoded by hand from the
/// interface's wire form: the operation's name, a zero byte, the arguments.
fn file_server(file: &[u8]) -> Vec<u8> {
    let text = format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname fs\nversion 1\nstate 1\n")
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (import "cella" "ipc_reply" (func $reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0x20) "{size}")
  (data (i32.const 0x8000) "{file}")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (local $first i32) (local $offset i32) (local $count i32)
    (drop (call $receive (i32.const 0x1000) (i32.const 0x1000)))
    (local.set $first (i32.load8_u (i32.const 0x1000)))
    ;; open: path length at 0x1005, the path, then the mode.
    (if (i32.eq (local.get $first) (i32.const 0x6f))
      (then
        (if (i32.eq (i32.load16_u (i32.const 0x1005)) (i32.const 8))
          (then
            (i32.store8 (i32.const 0x2000) (i32.const 1))
            (i32.store8 (i32.const 0x2001) (i32.const 1))
            (drop (call $reply (local.get $request) (i32.const 0x2000) (i32.const 2)))
            (return)))
        (if (i32.eq
              (i32.load8_u (i32.add (i32.const 0x1007) (i32.load16_u (i32.const 0x1005))))
              (i32.const 4))
          (then (i32.store (i32.const 0x20) (i32.const 0))))
        (i32.store8 (i32.const 0x2000) (i32.const 0))
        (i32.store (i32.const 0x2001) (i32.const 3))
        (i32.store (i32.const 0x2005) (i32.const 9))
        (i64.store (i32.const 0x2009) (i64.extend_i32_u (i32.load (i32.const 0x20))))
        (drop (call $reply (local.get $request) (i32.const 0x2000) (i32.const 17)))
        (return)))
    ;; read: offset (u64) at 0x100d, length at 0x1015.
    (if (i32.eq (local.get $first) (i32.const 0x72))
      (then
        (local.set $offset (i32.load (i32.const 0x100d)))
        (local.set $count (i32.sub (i32.load (i32.const 0x20)) (local.get $offset)))
        (if (i32.gt_u (local.get $count) (i32.load (i32.const 0x1015)))
          (then (local.set $count (i32.load (i32.const 0x1015)))))
        (i32.store8 (i32.const 0x2000) (i32.const 0))
        (i32.store16 (i32.const 0x2001) (local.get $count))
        (memory.copy (i32.const 0x2003) (i32.add (i32.const 0x8000) (local.get $offset))
          (local.get $count))
        (drop (call $reply (local.get $request) (i32.const 0x2000)
          (i32.add (i32.const 3) (local.get $count))))
        (return)))
    ;; write: offset at 0x100e, the bytes' length at 0x1016, the bytes at 0x1018.
    (if (i32.eq (local.get $first) (i32.const 0x77))
      (then
        (local.set $offset (i32.load (i32.const 0x100e)))
        (local.set $count (i32.load16_u (i32.const 0x1016)))
        (memory.copy (i32.add (i32.const 0x8000) (local.get $offset)) (i32.const 0x1018)
          (local.get $count))
        (i32.store (i32.const 0x20) (i32.add (local.get $offset) (local.get $count)))
        (i32.store8 (i32.const 0x2000) (i32.const 0))
        (i32.store (i32.const 0x2001) (local.get $count))
        (i64.store (i32.const 0x2005) (i64.extend_i32_u (i32.load (i32.const 0x20))))
        (drop (call $reply (local.get $request) (i32.const 0x2000) (i32.const 13)))
        (return)))
    ;; close: done.
    (i32.store8 (i32.const 0x2000) (i32.const 0))
    (i32.store8 (i32.const 0x2001) (i32.const 1))
    (drop (call $reply (local.get $request) (i32.const 0x2000) (i32.const 2)))))"#,
        size = wat_bytes(&(file.len() as u32).to_le_bytes()),
        file = wat_bytes(file),
    );
    wat::parse_str(text).expect("file server assembles")
}

/// `bytes` with a custom section of `extra` bytes appended, so the file
/// takes several reads (and writes) of the interface's largest size.
fn padded(mut bytes: Vec<u8>, extra: usize) -> Vec<u8> {
    let name = b"padding";
    let size = 1 + name.len() + extra;
    bytes.push(0);
    let mut left = size;
    loop {
        let byte = (left & 0x7f) as u8;
        left >>= 7;
        if left == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.resize(bytes.len() + extra, 0xa5);
    bytes
}

/// Boots `counter` (version 1) and the file server `fs` holding counter
/// version `on_disk`.
fn boot_with_disk(on_disk: u32) -> System {
    let counter = plan("counter", &[]);
    let mut server = plan("fs", &[]);
    server.serves = alloc::vec![String::from("fs")];
    let files = [
        (
            String::from("counter.wasm"),
            module("counter", 1, Behaviour::default()),
        ),
        (
            String::from("fs.wasm"),
            file_server(&padded(
                module("counter", on_disk, Behaviour::default()),
                10_000,
            )),
        ),
    ];
    let mut system = boot_files(alloc::vec![counter, server], &files);
    settle(&mut system);
    system
}

fn counter_version(system: &System) -> String {
    let at = index(system, "counter");
    String::from(
        system.table.slots[at]
            .module
            .as_ref()
            .map_or("-", |module| module.version()),
    )
}

#[test]
fn a_swap_reads_the_new_version_from_the_file_server() {
    let mut system = boot_with_disk(2);
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)));
    let swapped = run(&mut system, swap("counter", "/modules/counter.wasm"));
    assert!(matches!(swapped, Ok(Report::Swapped(_))), "{swapped:?}");
    assert_eq!(counter_version(&system), "2");
    assert_eq!(
        ask(&mut system, "counter"),
        Ok((2, 2)),
        "the state came along"
    );
}

#[test]
fn start_with_a_path_replaces_the_module_the_file_names() {
    let mut system = boot_with_disk(3);
    assert!(run(&mut system, stop("counter")).is_ok());
    let started = run(
        &mut system,
        Command::StartFile {
            path: String::from("/modules/counter.wasm"),
        },
    );
    assert!(started.is_ok(), "{started:?}");
    assert_eq!(counter_version(&system), "3");
    assert_eq!(ask(&mut system, "counter"), Ok((1, 3)));
}

#[test]
fn a_missing_file_or_no_file_server_is_refused_and_changes_nothing() {
    let mut system = boot_with_disk(2);
    let missing = run(&mut system, swap("counter", "/missing"));
    assert_eq!(
        crate::supervisor::report_text::text_of(&missing),
        "error: /missing: no such file or directory; nothing changed\n"
    );
    assert!(run(&mut system, stop("fs")).is_ok());
    let no_server = run(&mut system, swap("counter", "/modules/counter.wasm"));
    assert!(
        matches!(&no_server, Err(CommandError::Refused(why)) if why.contains("no file server runs")),
        "{no_server:?}"
    );
    assert_eq!(counter_version(&system), "1");
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)));
}

#[test]
fn a_persisted_push_is_written_and_reads_back_as_the_same_module() {
    let mut system = boot_with_disk(1);
    system.kernel.pushes.push_back(PushRequest::Install {
        target: String::from("counter"),
        bytes: padded(module("counter", 4, Behaviour::default()), 12_000),
        persist: true,
    });
    settle(&mut system);
    let answers = system.kernel.push_answers.clone();
    assert_eq!(answers.len(), 1, "{answers:?}");
    let answer = answers[0].as_ref().expect("the push succeeded");
    assert!(
        answer.ends_with("; kept in /modules/counter.wasm"),
        "{answer}"
    );
    assert_eq!(counter_version(&system), "4");
    // What was written is version 4: swap to it from the disk after a
    // swap back to the archive's version 1.
    assert!(run(&mut system, swap("counter", "counter.wasm")).is_ok());
    assert_eq!(counter_version(&system), "1");
    assert!(run(&mut system, swap("counter", "/modules/counter.wasm")).is_ok());
    assert_eq!(counter_version(&system), "4");
}

#[test]
fn a_module_whose_entry_names_a_file_starts_from_it_after_the_boot() {
    let mut counter = plan("counter", &[]);
    counter.file = String::from("/modules/counter.wasm");
    let mut server = plan("fs", &[]);
    server.serves = alloc::vec![String::from("fs")];
    let mut missing = plan("absent", &[]);
    missing.file = String::from("/missing");
    let files = [(
        String::from("fs.wasm"),
        file_server(&padded(module("counter", 5, Behaviour::default()), 5_000)),
    )];
    let mut system = boot_files(alloc::vec![server, counter, missing], &files);
    settle(&mut system);
    assert_eq!(counter_version(&system), "5");
    assert_eq!(ask(&mut system, "counter"), Ok((1, 5)));
    let absent = index(&system, "absent");
    assert!(!system.table.slots[absent].is_running());
    // Started by hand, the missing file is named again.
    let started = run(&mut system, start("absent"));
    assert_eq!(
        crate::supervisor::report_text::text_of(&started),
        "error: module absent not started: /missing: no such file or directory\n"
    );
}
