//! The command request through the push receiver, and the host's reading of framed answers.

use super::*;
use crate::push_authority::KEY_BYTES;
use crate::push_protocol::PushReceiver;
use crate::test_link::{feed_all, hello, key, receiver};

fn refused(events: &[PushEvent], needle: &str) -> bool {
    matches!(events, [PushEvent::CommandRejected(reason)] if reason.contains(needle))
}

fn command(line: &str) -> PushEvent {
    PushEvent::Command { line: line.into() }
}

#[test]
fn a_signed_command_arrives_with_its_words() {
    let mut receiver = receiver();
    for line in ["ps", "caps uart16550", "remove --force pci", "log 7"] {
        let nonce = hello(&mut receiver);
        let wire = request(&key(), &nonce, line).unwrap();
        assert_eq!(feed_all(&mut receiver, wire.as_bytes()), [command(line)]);
        assert!(!receiver.busy());
    }
}

#[test]
fn a_wrong_key_a_changed_word_a_replay_and_no_nonce_are_refused() {
    let mut receiver = receiver();
    let nonce = hello(&mut receiver);
    let stranger = PushKey::new([8; KEY_BYTES]);
    let wire = request(&stranger, &nonce, "ps").unwrap();
    let events = feed_all(&mut receiver, wire.as_bytes());
    assert!(refused(&events, "authentication failed"), "{events:?}");

    // Signed for `caps pci`, changed to `remove pci` on the way.
    let nonce = hello(&mut receiver);
    let wire = request(&key(), &nonce, "caps pci").unwrap();
    let events = feed_all(&mut receiver, wire.replace("caps", "remove").as_bytes());
    assert!(refused(&events, "authentication failed"), "{events:?}");

    // A good request, recorded and sent again, with and without a fresh hello.
    let nonce = hello(&mut receiver);
    let recorded = request(&key(), &nonce, "remove pci").unwrap();
    assert_eq!(
        feed_all(&mut receiver, recorded.as_bytes()),
        [command("remove pci")]
    );
    let events = feed_all(&mut receiver, recorded.as_bytes());
    assert!(refused(&events, "replayed"), "{events:?}");
    hello(&mut receiver);
    let events = feed_all(&mut receiver, recorded.as_bytes());
    assert!(refused(&events, "replayed"), "{events:?}");

    // A push's nonce line does not sign a command: a signature over an
    // upload's header is not a command's.
    let nonce = hello(&mut receiver);
    let upload = crate::push_protocol::header(&key(), "pci", b"ps", false, &nonce);
    let signature = upload.trim_end().rsplit(' ').next().unwrap();
    let forged = format!("{MAGIC} {VERSION} {nonce} {signature} ps\n");
    let events = feed_all(&mut receiver, forged.as_bytes());
    assert!(refused(&events, "authentication failed"), "{events:?}");

    let nonce = hello(&mut receiver);
    let wire = request(&key(), &nonce, "ps").unwrap();
    assert_eq!(feed_all(&mut receiver, wire.as_bytes()), [command("ps")]);
}

#[test]
fn malformed_requests_and_a_closed_channel_are_refused_with_the_reason() {
    let mut receiver = receiver();
    let zeros = "0".repeat(64);
    for (bad, needle) in [
        (format!("{MAGIC} 1 NONCE {zeros}\n"), "bad command request"),
        (format!("{MAGIC} 2 NONCE {zeros} ps\n"), "version `2`"),
        (format!("{MAGIC} 1 NONCE xyz ps\n"), "is not 64 hex digits"),
        (format!("{MAGIC} 1 0123 {zeros} ps\n"), "was not issued"),
    ] {
        let nonce = hello(&mut receiver);
        let events = feed_all(&mut receiver, bad.replace("NONCE", &nonce).as_bytes());
        assert!(refused(&events, needle), "{bad}: {events:?}");
    }
    let nonce = hello(&mut receiver);
    let wire = request(&key(), &nonce, "list").unwrap();
    assert_eq!(feed_all(&mut receiver, wire.as_bytes()), [command("list")]);

    let mut closed = PushReceiver::new(
        PushAccess::Closed(String::from("push is not granted by the system manifest")),
        1,
    );
    let wire = request(&key(), &"0".repeat(32), "ps").unwrap();
    let events = feed_all(&mut closed, wire.as_bytes());
    assert!(
        refused(&events, "not granted by the system manifest"),
        "{events:?}"
    );
}

#[test]
fn the_host_refuses_to_send_a_command_it_cannot_frame() {
    let nonce = "0".repeat(32);
    assert!(request(&key(), &nonce, "  ").unwrap_err().contains("empty"));
    assert!(
        request(&key(), &nonce, "ps\nremove pci")
            .unwrap_err()
            .contains("line break")
    );
    let long = format!("send uart {}", "x".repeat(MAX_HEADER_BYTES));
    assert!(
        request(&key(), &nonce, &long)
            .unwrap_err()
            .contains("too long")
    );
}

fn read_all(reader: &mut ReplyReader, bytes: &[u8]) -> Vec<Reply> {
    bytes
        .iter()
        .filter_map(|&byte| reader.feed(byte).unwrap())
        .collect()
}

#[test]
fn a_multi_line_answer_is_read_whole_by_its_length() {
    let text = "NAME VERSION STATE\nuart16550 1.0.0 running\n\nCELLA-COMMAND-RESULT ok 3\nshell 1.0.0 running\n";
    let mut wire = String::from("INFO a console line that is not an answer\r\n");
    wire.push_str(&answer_header(true, text));
    wire.push_str(text);
    wire.push_str(&answer_header(false, "error: no module named nope\n"));
    wire.push_str("error: no module named nope\n");
    wire.push_str(&answer_header(true, ""));
    let mut reader = ReplyReader::default();
    assert_eq!(
        read_all(&mut reader, wire.as_bytes()),
        [
            Reply::Answer {
                accepted: true,
                text: text.into()
            },
            Reply::Answer {
                accepted: false,
                text: "error: no module named nope\n".into()
            },
            Reply::Answer {
                accepted: true,
                text: String::new()
            },
        ]
    );
    // Cut short: nothing until the last byte.
    let mut reader = ReplyReader::default();
    let framed = format!("{}{text}", answer_header(true, text));
    let (most, last) = framed.as_bytes().split_at(framed.len() - 1);
    assert!(read_all(&mut reader, most).is_empty());
    assert_eq!(read_all(&mut reader, last).len(), 1);
}

#[test]
fn nonces_push_refusals_and_bad_frames_are_read_as_such() {
    let mut reader = ReplyReader::default();
    let wire = format!(
        "{NONCE} 00112233445566778899aabbccddeeff\r\n{RESULT} error upload rejected: header longer than 256 bytes\n"
    );
    assert_eq!(
        read_all(&mut reader, wire.as_bytes()),
        [
            Reply::Nonce("00112233445566778899aabbccddeeff".into()),
            Reply::Answer {
                accepted: false,
                text: "error: upload rejected: header longer than 256 bytes\n".into()
            }
        ]
    );
    for bad in [
        format!("{COMMAND_RESULT} ok many\n"),
        format!("{COMMAND_RESULT} maybe 3\n"),
        format!("{COMMAND_RESULT} ok {}\n", MAX_ANSWER_BYTES + 1),
    ] {
        let mut reader = ReplyReader::default();
        let outcome: Result<Vec<Option<Reply>>, String> =
            bad.bytes().map(|byte| reader.feed(byte)).collect();
        assert!(outcome.is_err(), "{bad}");
    }
    let mut reader = ReplyReader::default();
    let outcome: Result<Vec<Option<Reply>>, String> = format!("{COMMAND_RESULT} ok 2\n")
        .bytes()
        .chain([0xff, 0xfe])
        .map(|byte| reader.feed(byte))
        .collect();
    assert!(outcome.unwrap_err().contains("UTF-8"));
}
