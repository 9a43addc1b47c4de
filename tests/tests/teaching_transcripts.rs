//! The console transcripts of docs/teaching.md are what the console prints: one boot of the
//! test system, every command of every transcript typed in the page's order, and every line
//! shown after it found in what the console printed for it (digits masked: generations,
//! times and fuel differ from run to run; the words do not).

use cella_qemu_tests::Session;
use cella_qemu_tests::transcript::{check, transcripts};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

#[test]
fn the_transcripts_of_the_teaching_page_are_what_the_console_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/teaching.md");
    let page = std::fs::read_to_string(path).expect("docs/teaching.md is readable");
    let found = transcripts(&page);
    let commands: usize = found.iter().map(|transcript| transcript.steps.len()).sum();
    assert!(
        commands >= 8,
        "docs/teaching.md shows {commands} commands in {} transcripts; the checks below would check little",
        found.len()
    );
    let mut session = Session::at_prompt("teaching-transcripts");
    for transcript in &found {
        check(&mut session, "docs/teaching.md", transcript, WAIT);
    }
}
