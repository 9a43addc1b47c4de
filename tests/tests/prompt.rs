//! The shell's prompt and line on a terminal the kernel prints on too: the first prompt comes
//! after the boot log, a kernel line printed while a command is half typed starts on a line of
//! its own and is followed by the prompt and the half-typed line again, and a line longer than
//! the shell's limit is refused whole instead of being cut and run.

use cella_qemu_tests::Session;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);
/// The shell's line limit (`modules/shell/src/line.rs`, `LINE_BYTES`).
const LINE_BYTES: usize = 200;

/// A booted system at its first prompt.
fn shell(label: &str) -> Session {
    Session::at_prompt(label)
}

/// Types `line` and Enter; returns the output from the echo up to the next prompt.
fn run(session: &mut Session, line: &str) -> String {
    session.type_line(line)
}

#[test]
fn the_first_prompt_follows_the_boot_log() {
    let session = shell("first prompt");
    let output = session.output();
    // The line that ends the boot: `all modules up (...)` or `boot done: ... modules up (...)`.
    let (Some(up), Some(prompt)) = (output.find(" modules up ("), output.find("cella> ")) else {
        session.fail("no line ending the boot, or no prompt");
    };
    if prompt < up {
        session.fail("a prompt was printed in the middle of the boot log");
    }
}

#[test]
fn a_kernel_line_over_a_half_typed_command_is_followed_by_the_prompt_and_the_line() {
    let mut session = shell("prompt redraw");
    let answer = run(&mut session, "trace ps2-keyboard on");
    if !answer.contains("trace ps2-keyboard: on") {
        session.fail(format!("`trace ps2-keyboard on` answered:\n{answer}"));
    }
    for round in 0..5 {
        // Half a command over the serial port; the last letter comes from the PS/2 keyboard,
        // whose driver's port reads the kernel traces on the terminal.
        let from = session.output().len();
        session.write_serial(b"caps ps2-keyboar");
        let typed = session.wait_for_from(from, "caps ps2-keyboar", WAIT);
        session.monitor("sendkey d");
        let trace = session.wait_for_from(typed, "trace ps2-keyboard: ", WAIT);
        let trace_start = trace - "trace ps2-keyboard: ".len();
        if !session.output()[..trace_start].ends_with("\r\n") {
            session.fail(format!(
                "round {round}: the trace line does not start on a line of its own"
            ));
        }
        session.wait_for_from(trace, "cella> caps ps2-keyboar", WAIT);
        // The keyboard's `d` joined the line: the whole command runs.
        let from = session.output().len();
        session.write_serial(b"\r");
        let answer_end = session.wait_for_from(from, "granted by the system manifest", WAIT);
        session.wait_for_from(answer_end, "cella> ", WAIT);
    }
    run(&mut session, "trace ps2-keyboard off");
}

#[test]
fn a_line_past_the_limit_is_refused_whole_and_the_shell_goes_on() {
    let mut session = shell("long line");
    let refusal = format!("error: line longer than {LINE_BYTES} bytes; nothing was run");
    for round in 0..10 {
        let from = session.output().len();
        session.write_serial("u".repeat(LINE_BYTES + 10).as_bytes());
        session.write_serial(b"\r");
        let refused = session.wait_for_from(from, &refusal, WAIT);
        session.wait_for_from(refused, "cella> ", WAIT);
        if session.output()[from..].contains("unknown command") {
            session.fail(format!("round {round}: a cut line was run"));
        }
    }
    // A line of exactly the limit still runs (and is an unknown command).
    let answer = run(&mut session, &"v".repeat(LINE_BYTES));
    if !answer.contains("unknown command") || answer.contains(&refusal) {
        session.fail(format!("a line of {LINE_BYTES} bytes answered:\n{answer}"));
    }
    let answer = run(&mut session, "uptime");
    if !answer.contains("up ") {
        session.fail(format!("`uptime` after the refusals answered:\n{answer}"));
    }
}

/// The trace of the shell's own output is kernel output too; drawing the prompt again after
/// it would be traced again, without end. With the shell traced the terminal comes to rest.
#[test]
fn tracing_the_shell_does_not_feed_itself() {
    let mut session = shell("traced shell");
    let answer = run(&mut session, "trace shell on");
    if !answer.contains("trace shell: on") {
        session.fail(format!("`trace shell on` answered:\n{answer}"));
    }
    // The shell's echo is traced too, so a typed line may be split by trace lines: wait for
    // the answers, not the echo.
    for _ in 0..3 {
        let from = session.output().len();
        session.write_serial(b"uptime\r");
        let answered = session.wait_for_from(from, "\r\nup ", WAIT);
        session.wait_for_from(answered, "cella> ", WAIT);
    }
    std::thread::sleep(Duration::from_secs(2));
    let settled = session.output().len();
    std::thread::sleep(Duration::from_secs(2));
    let grown = session.output().len() - settled;
    if grown > 0 {
        session.fail(format!(
            "the output grew by {grown} bytes in 2 s with nothing typed"
        ));
    }
    let from = session.output().len();
    session.write_serial(b"trace shell off\r");
    session.wait_for_from(from, "trace shell: off", WAIT);
}
