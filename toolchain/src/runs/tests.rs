//! Two runs at once, with fake listeners standing for their QEMU processes.

use super::*;
use crate::push::{self, Answer};
use cella_system::push_authority::PushKey;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("cella-runs-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// A fake system on `socket`: answers one push hello with `CELLA-PUSH-RESULT error TEXT`.
fn fake_system(socket: &Path, text: &'static str) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), cella_system::push_protocol::HELLO);
        let mut stream = stream;
        writeln!(
            stream,
            "{} error {text}",
            cella_system::push_protocol::RESULT
        )
        .unwrap();
    })
}

fn ask(socket: &Path) -> Answer {
    push::send(
        socket,
        &PushKey::new([7; 32]),
        "demo",
        b"\0asm",
        false,
        Duration::from_secs(10),
    )
    .unwrap()
}

/// A process id that no longer exists (a child that has exited and been reaped).
fn ended_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn a_second_run_gets_its_own_socket_and_push_says_which_it_talks_to() {
    let cella = scratch("two");
    // Two live processes stand for two QEMUs: this test and its parent.
    let first_pid = std::os::unix::process::parent_id();
    let second_pid = std::process::id();
    let first = register(&cella, first_pid, 1_000, "production").unwrap();
    let first_system = fake_system(&first.socket, "first system");
    let second = register(&cella, second_pid, 2_000, "teaching").unwrap();
    let second_system = fake_system(&second.socket, "second system");

    assert_ne!(first.socket, second.socket);
    assert!(
        first.socket.exists(),
        "registering the second run left the first one's socket alone"
    );
    assert_eq!(live(&cella), [first.clone(), second.clone()]);

    // By default: the newest, with a note naming the other and how to choose.
    let chosen = choose(&cella, None).unwrap();
    assert_eq!(chosen.socket, second.socket);
    assert!(
        chosen.description.starts_with(&format!(
            "run {second_pid} (teaching system, started 1970-01-01T00:33:20Z, socket "
        )),
        "{}",
        chosen.description
    );
    let note = chosen.note.unwrap();
    assert!(
        note.contains("2 systems are running")
            && note.contains(&first_pid.to_string())
            && note.contains("--system PID"),
        "{note}"
    );
    assert_eq!(ask(&chosen.socket).text, "second system");
    second_system.join().unwrap();

    // The first is still reachable, by its process id.
    let chosen = choose(&cella, Some(&first_pid.to_string())).unwrap();
    assert_eq!(chosen.socket, first.socket);
    assert!(chosen.note.is_none());
    assert!(chosen.description.contains("production system"));
    assert_eq!(ask(&chosen.socket).text, "first system");
    first_system.join().unwrap();

    // By socket path, and a process id that is not a run.
    let by_path = choose(&cella, Some(first.socket.to_str().unwrap())).unwrap();
    assert_eq!(by_path.description, first.describe());
    let error = choose(&cella, Some("1")).unwrap_err().to_string();
    assert!(
        error.contains("no system runs as process 1") && error.contains(&second_pid.to_string()),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(&cella);
}

#[test]
fn runs_that_ended_are_forgotten_and_no_run_is_a_clear_error() {
    let cella = scratch("ended");
    let error = choose(&cella, None).unwrap_err().to_string();
    assert!(
        error.contains("no system is running") && error.contains("cargo cella run"),
        "{error}"
    );
    // A run whose process ended, and one whose process id another process has now.
    let ended_pid = ended_pid();
    let ended = Run {
        pid: ended_pid,
        started: 5,
        system: "production".into(),
        process_start: 1,
        socket: socket_path(&cella, ended_pid),
    };
    let parent = std::os::unix::process::parent_id();
    let reused = Run {
        pid: parent,
        process_start: process_start(parent).unwrap() + 1,
        socket: socket_path(&cella, parent),
        ..ended.clone()
    };
    std::fs::create_dir_all(runs_directory(&cella)).unwrap();
    for run in [&ended, &reused] {
        std::fs::write(run.record_path(), run.to_text()).unwrap();
        std::fs::write(&run.socket, b"").unwrap();
    }
    // Registered but not listening yet: not a target, but kept.
    let starting = register(&cella, std::process::id(), 6, "production").unwrap();
    assert!(live(&cella).is_empty());
    assert!(!ended.socket.exists() && !record_path(&ended.socket).exists());
    assert!(!reused.socket.exists() && !record_path(&reused.socket).exists());
    assert!(record_path(&starting.socket).exists());
    let error = choose(&cella, None).unwrap_err().to_string();
    assert!(error.contains("no system is running"), "{error}");
    unregister(&starting);
    assert!(!record_path(&starting.socket).exists());
    let _ = std::fs::remove_dir_all(&cella);
}
