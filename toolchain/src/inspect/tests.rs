//! The tool against a fake system that runs the kernel's own receiver for the channel.

use super::*;
use cella_system::command_protocol::answer_header;
use cella_system::push_authority::{KEY_BYTES, PushGrant};
use cella_system::push_protocol::{NONCE, PushAccess, PushEvent, PushReceiver};
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

fn socket(name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("cella-inspect-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A system on `socket` for `connections` connections: a nonce for each hello, and for each
/// command the text `answer` gives (refusals as the kernel frames them).
fn fake_system(
    socket: &Path,
    connections: usize,
    answer: fn(&str) -> (bool, String),
) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let mut receiver = PushReceiver::new(
            PushAccess::Granted {
                key: PushKey::new([7; KEY_BYTES]),
                grant: PushGrant {
                    targets: vec!["*".into()],
                },
            },
            3,
        );
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().unwrap();
            let mut input = BufReader::new(stream.try_clone().unwrap());
            let mut byte = [0u8];
            while input.read(&mut byte).unwrap() == 1 {
                let reply = match receiver.feed(byte[0], 1) {
                    None => continue,
                    Some(PushEvent::Challenge(nonce)) => format!("{NONCE} {nonce}\r\n"),
                    Some(PushEvent::Command { line }) => {
                        let (accepted, text) = answer(&line);
                        format!(
                            "INFO a log line on the port\r\n{}{text}",
                            answer_header(accepted, &text)
                        )
                    }
                    Some(PushEvent::CommandRejected(reason)) => {
                        let text = format!("error: command rejected: {reason}\n");
                        format!("{}{text}", answer_header(false, &text))
                    }
                    Some(other) => panic!("unexpected {other:?}"),
                };
                stream.write_all(reply.as_bytes()).unwrap();
            }
        }
    })
}

fn shell(line: &str) -> (bool, String) {
    match line {
        "ps" => (
            true,
            "NAME  STATE\nuart16550  running\npci  running\n".into(),
        ),
        _ => (false, format!("error: unknown command `{line}`\n")),
    }
}

#[test]
fn a_command_is_answered_with_the_whole_text_many_times_in_a_row() {
    let path = socket("answers");
    let system = fake_system(&path, 52, shell);
    let key = PushKey::new([7; KEY_BYTES]);
    for _ in 0..50 {
        let answer = ask(&path, &key, "ps", Duration::from_secs(10)).unwrap();
        assert_eq!(
            answer,
            Answer {
                accepted: true,
                text: "NAME  STATE\nuart16550  running\npci  running\n".into()
            }
        );
    }
    let answer = ask(&path, &key, "frobnicate", Duration::from_secs(10)).unwrap();
    assert!(!answer.accepted);
    assert_eq!(answer.text, "error: unknown command `frobnicate`\n");
    // Signed with another key: the system refuses it, and the tool passes the refusal on.
    let stranger = PushKey::new([8; KEY_BYTES]);
    let answer = ask(&path, &stranger, "ps", Duration::from_secs(10)).unwrap();
    assert!(!answer.accepted);
    assert!(
        answer
            .text
            .starts_with("error: command rejected: authentication failed"),
        "{}",
        answer.text
    );
    system.join().unwrap();
    let _ = std::fs::remove_file(path);
}

#[test]
fn no_system_and_an_unframable_command_are_errors_of_the_tool() {
    let path = socket("absent");
    let key = PushKey::new([7; KEY_BYTES]);
    let error = ask(&path, &key, "ps", Duration::from_secs(1)).unwrap_err();
    assert!(
        error.message().contains("cannot reach the running system"),
        "{error}"
    );
    let path = socket("unframable");
    let system = fake_system(&path, 1, shell);
    let error = ask(&path, &key, &"x".repeat(300), Duration::from_secs(10)).unwrap_err();
    assert!(error.message().contains("too long"), "{error}");
    assert_eq!(error.exit_code(), 2);
    drop(system);
    let _ = std::fs::remove_file(path);
}
