//! The supervisor's answers to the shell's commands: each command line is
//! a call of `run` on the typed `supervisor` interface, answered when the
//! command ends with page 0 of its text; a longer text comes on with
//! `report_page`. No host calls: tested on the host.

use cella_sdk::ErrorCode;
use cella_sdk::interfaces::supervisor::{self, CommandAnswer, SupervisorError};
use cella_sdk::interfaces::wire::WireError;
use core::fmt::Write;

/// How long a command may take: the longest deadline a call may have, so
/// a swap or a start from the disk of a large module is waited for.
pub const COMMAND_DEADLINE_MILLISECONDS: u32 = cella_sdk::abi::MAX_CALL_DEADLINE_MILLISECONDS;

/// What comes after an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Ask for this page of the answer.
    Page(u32),
    /// The answer is complete (or failed): the prompt comes back.
    Done,
}

/// Reads the reply to a `run` or `report_page` call (`outcome`: its bytes,
/// or why the call failed) and writes what a person reads to `out`, lines
/// ending in `\r\n`.
pub fn take(outcome: Result<&[u8], ErrorCode>, out: &mut dyn FnMut(&[u8])) -> Next {
    let bytes = match outcome {
        Ok(bytes) => bytes,
        Err(error) => {
            failed(Failure::Call(error), out);
            return Next::Done;
        }
    };
    let answer: Result<Result<CommandAnswer<'_>, SupervisorError>, WireError> =
        supervisor::run::reply(bytes);
    match answer {
        Ok(Ok(answer)) => {
            write_lines(answer.text, out);
            match answer.next {
                0 => Next::Done,
                page => Next::Page(page),
            }
        }
        Ok(Err(error)) => {
            failed(Failure::Refused(error), out);
            Next::Done
        }
        Err(error) => {
            failed(Failure::Unreadable(error), out);
            Next::Done
        }
    }
}

/// Why a command got no answer to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The call failed (or could not be made).
    Call(ErrorCode),
    /// The supervisor answered with an error.
    Refused(SupervisorError),
    /// The reply is not an answer of the interface.
    Unreadable(WireError),
}

impl core::fmt::Display for Failure {
    fn fmt(&self, out: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Call(ErrorCode::TimedOut) => write!(
                out,
                "the supervisor did not answer within {} s; the command may still be running, and the kernel logs its result (`log`)",
                COMMAND_DEADLINE_MILLISECONDS / 1000
            ),
            Failure::Call(error) => write!(out, "the supervisor did not take the command: {error}"),
            Failure::Refused(error) => write!(out, "the supervisor refused: {error}"),
            Failure::Unreadable(error) => {
                write!(out, "the supervisor's answer does not read: {error}")
            }
        }
    }
}

/// Writes `error: WHY` for `failure`.
pub fn failed(failure: Failure, out: &mut dyn FnMut(&[u8])) {
    let mut text = cella_sdk::TextBuffer::<200>::new();
    let _ = writeln!(text, "error: {failure}");
    write_lines(text.as_str(), out);
}

/// Writes `text` with each `\n` as `\r\n`, in pieces of at most one message.
pub fn write_lines(text: &str, out: &mut dyn FnMut(&[u8])) {
    let mut piece = [0u8; cella_sdk::MAX_MESSAGE_BYTES as usize];
    let mut length = 0;
    for &byte in text.as_bytes() {
        if length + 2 > piece.len() {
            out(&piece[..length]);
            length = 0;
        }
        if byte == b'\n' {
            piece[length] = b'\r';
            length += 1;
        }
        piece[length] = byte;
        length += 1;
    }
    if length > 0 {
        out(&piece[..length]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::vec::Vec;

    fn reply(answer: Result<CommandAnswer<'_>, SupervisorError>) -> Vec<u8> {
        let mut bytes = [0; 4096];
        let length = cella_sdk::interfaces::wire::encode(&answer, &mut bytes).unwrap();
        bytes[..length].to_vec()
    }

    fn taken(outcome: Result<&[u8], ErrorCode>) -> (Vec<u8>, Next) {
        let mut printed = Vec::new();
        let next = take(outcome, &mut |bytes| printed.extend_from_slice(bytes));
        (printed, next)
    }

    #[test]
    fn an_answer_prints_its_text_with_terminal_line_ends_and_asks_for_the_next_page() {
        let first = reply(Ok(CommandAnswer {
            succeeded: true,
            page: 0,
            next: 1,
            text: "NAME  STATE\nshell running\n",
        }));
        assert_eq!(
            taken(Ok(&first)),
            (b"NAME  STATE\r\nshell running\r\n".to_vec(), Next::Page(1))
        );
        let last = reply(Ok(CommandAnswer {
            succeeded: false,
            page: 1,
            next: 0,
            text: "error: no module named `x`\n",
        }));
        assert_eq!(
            taken(Ok(&last)),
            (b"error: no module named `x`\r\n".to_vec(), Next::Done)
        );
    }

    #[test]
    fn a_failed_call_a_refusal_and_garbage_print_an_error_and_end_the_command() {
        let (printed, next) = taken(Err(ErrorCode::TimedOut));
        let text = std::string::String::from_utf8(printed).unwrap();
        assert!(
            text.starts_with("error: the supervisor did not answer within 60 s")
                && text.ends_with("(`log`)\r\n"),
            "{text}"
        );
        assert_eq!(next, Next::Done);
        let busy = reply(Err(SupervisorError::Busy));
        assert_eq!(
            taken(Ok(&busy)),
            (
                b"error: the supervisor refused: a command of this caller is still running\r\n"
                    .to_vec(),
                Next::Done
            )
        );
        let (printed, next) = taken(Ok(b"\x00\x07"));
        assert!(printed.starts_with(b"error: the supervisor's answer does not read"));
        assert_eq!(next, Next::Done);
    }

    #[test]
    fn a_long_text_is_written_whole_in_pieces_of_one_message() {
        let text = "ab\n".repeat(3000);
        let mut pieces = Vec::new();
        write_lines(&text, &mut |bytes| pieces.push(bytes.to_vec()));
        assert!(pieces.len() >= 3);
        assert!(pieces.iter().all(|piece| piece.len() <= 4096));
        assert_eq!(pieces.concat(), "ab\r\n".repeat(3000).into_bytes());
    }
}
