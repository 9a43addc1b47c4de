//! Console transcripts in the documentation, checked against a running system.
//!
//! A transcript is a ```` ```text ```` block of a Markdown file whose lines start with the
//! prompt `cella> `: each such line is a command, and the lines after it, up to the next
//! command, are what the console prints for it. A line `...` stands for lines left out. The
//! lines are compared with every run of digits masked and every run of spaces made one
//! (times, generations, fuel and addresses change from run to run, and the width of a
//! table's columns with them; the words do not), each within the output that follows its
//! own command, in any order (a command's answer and the log lines of what it set off
//! interleave as the threads happen to run).

use crate::session::Session;
use std::time::{Duration, Instant};

/// The shell's prompt, which starts a command line of a transcript.
pub const PROMPT: &str = "cella> ";

/// One command of a transcript and the lines it is documented to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What is typed.
    pub command: String,
    /// The lines shown after it (without the `...` lines).
    pub expected: Vec<String>,
}

/// One ```` ```text ```` block with at least one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// The line of the Markdown file the block starts on (1-based).
    pub line: usize,
    /// Its commands, in order.
    pub steps: Vec<Step>,
}

/// Every transcript of the Markdown text `markdown`.
pub fn transcripts(markdown: &str) -> Vec<Transcript> {
    let mut found = Vec::new();
    let mut block: Option<Transcript> = None;
    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_end();
        match &mut block {
            None if trimmed == "```text" => {
                block = Some(Transcript {
                    line: number + 1,
                    steps: Vec::new(),
                });
            }
            None => {}
            Some(_) if trimmed == "```" => {
                if let Some(done) = block.take()
                    && !done.steps.is_empty()
                {
                    found.push(done);
                }
            }
            Some(transcript) => {
                if let Some(command) = trimmed.strip_prefix(PROMPT) {
                    transcript.steps.push(Step {
                        command: command.to_owned(),
                        expected: Vec::new(),
                    });
                } else if let Some(step) = transcript.steps.last_mut()
                    && trimmed != "..."
                    && !trimmed.is_empty()
                {
                    step.expected.push(trimmed.to_owned());
                }
            }
        }
    }
    found
}

/// `line` with every run of ASCII digits replaced by one `#`, every run of spaces by one
/// space, and its ends trimmed.
pub fn masked(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut previous = ' ';
    for character in line.trim().chars() {
        let character = if character.is_ascii_digit() {
            '#'
        } else if character.is_whitespace() {
            ' '
        } else {
            character
        };
        if !(character == previous && (character == '#' || character == ' ')) {
            out.push(character);
        }
        previous = character;
    }
    out
}

/// The first of `expected` not found among the lines of `output` (each masked, a prompt
/// at the start of an output line ignored), each matched by a line of its own; `None` when
/// all are there. The order is not compared: the console interleaves a command's answer and
/// the log lines of what it set off as the two threads happen to run.
pub fn first_missing<'a>(expected: &'a [String], output: &str) -> Option<&'a str> {
    let mut lines: Vec<Option<String>> = output
        .lines()
        .map(|line| {
            let line = line.trim_end_matches('\r');
            Some(masked(line.strip_prefix(PROMPT).unwrap_or(line)))
        })
        .collect();
    for wanted in expected {
        let masked_wanted = masked(wanted);
        match lines
            .iter_mut()
            .find(|line| line.as_deref() == Some(masked_wanted.as_str()))
        {
            Some(line) => *line = None,
            None => return Some(wanted),
        }
    }
    None
}

/// Runs every step of `transcript` in `session`: types the command, then waits until the
/// documented lines have appeared (within `wait` for each command). Fails the test naming
/// the document, the command and the first line that did not appear.
pub fn check(session: &mut Session, document: &str, transcript: &Transcript, wait: Duration) {
    for step in &transcript.steps {
        let from = session.output().len();
        session.write_serial(step.command.as_bytes());
        session.write_serial(b"\r");
        let echoed = session.wait_for_from(from, &format!("{}\r\n", step.command), wait);
        let deadline = Instant::now() + wait;
        loop {
            let output = session.output();
            let Some(missing) = first_missing(&step.expected, &output[echoed..]) else {
                // The answer is complete once the prompt is back.
                session.wait_for_from(echoed, PROMPT, wait);
                break;
            };
            if Instant::now() >= deadline {
                session.fail(format!(
                    "{document} (transcript at line {}): after `{}`, the documented line `{missing}` did not appear",
                    transcript.line, step.command
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = "Some text.\n\n```text\ncella> start oob\noob: held\n...\nERROR supervisor: oob is on hold after 4 faults in 60 s\ncella> ps\n```\n\n```text\nnot a transcript\n```\n\n```sh\ncella> not text\n```\n";

    #[test]
    fn commands_and_their_lines_are_read_from_text_blocks_only() {
        let found = transcripts(DOCUMENT);
        assert_eq!(
            found,
            vec![Transcript {
                line: 3,
                steps: vec![
                    Step {
                        command: "start oob".into(),
                        expected: vec![
                            "oob: held".into(),
                            "ERROR supervisor: oob is on hold after 4 faults in 60 s".into()
                        ],
                    },
                    Step {
                        command: "ps".into(),
                        expected: vec![],
                    },
                ],
            }]
        );
    }

    #[test]
    fn digits_are_masked_and_each_line_needs_a_line_of_its_own() {
        assert_eq!(
            masked("  restarts in 10 ms   (gen 7)\r"),
            "restarts in # ms (gen #)"
        );
        let expected = vec![
            "oob restarts in 0 ms".to_owned(),
            "oob restarts in 0 ms".to_owned(),
            "oob is on hold after 4 faults".to_owned(),
        ];
        let output = "oob restarts in 20 ms\r\nnoise\r\ncella> oob is on hold after 4 faults\r\noob restarts in 10 ms\r\n";
        assert_eq!(first_missing(&expected, output), None);
        // A line shown twice needs two lines; a word changed is not matched.
        let once = "oob restarts in 20 ms\r\noob is on hold after 4 faults\r\n";
        assert_eq!(first_missing(&expected, once), Some("oob restarts in 0 ms"));
        assert_eq!(
            first_missing(
                &expected[2..],
                "oob is on hold after 5 faults, then more\r\n"
            ),
            Some("oob is on hold after 4 faults")
        );
    }
}
