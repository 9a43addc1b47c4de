//! The supervisor's typed, read-only interface from a module: `supervisor-reader`
//! (tests/fixtures/supervisor-reader, granted the `supervisor` endpoint) reads `modules`
//! page after page, `status` and `capabilities virtio-blk` with calls it waits for and logs
//! a line per row; the rows are the shell's `ps` and `caps` of the same boot (names,
//! versions, generations, states). The same calls 100 times in a row leave the kernel heap
//! where it was, and `call supervisor status` at the shell renders the answer as text while
//! a command sent as a call changes nothing. The reader's calls of the command operation
//! `run` fail with `Denied` and the command lines it sends to `supervisor` are refused (only
//! the shell's commands run): they change nothing either.

use cella_qemu_tests::Session;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);
const READER: &str = "supervisor-reader: ";

/// KiB of kernel heap in use, from `mem`.
fn heap_kib(session: &mut Session) -> u64 {
    let answer = session.type_line("mem");
    answer
        .lines()
        .find_map(|line| line.strip_prefix("heap: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| session.fail(format!("no heap line in `mem`:\n{answer}")))
}

/// What the reader logged after `key` (`module `, `capability `, `status: `), between output
/// offsets `from` and `to`.
fn logged(session: &Session, from: usize, to: usize, key: &str) -> Vec<String> {
    let needle = format!("{READER}{key}");
    session.output()[from..to]
        .lines()
        .filter_map(|line| {
            let at = line.find(&needle)?;
            Some(line[at + needle.len()..].trim_end().to_owned())
        })
        .collect()
}

/// `ps`'s module rows as `NAME VERSION GEN STATE` (native processes, whose GEN is `-`, left
/// out).
fn ps_modules(ps: &str) -> Vec<[String; 4]> {
    ps.lines()
        .skip_while(|line| !line.starts_with("NAME"))
        .skip(1)
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [name, version, generation, state, ..] = words[..] else {
                return None;
            };
            generation.parse::<u32>().ok()?;
            Some([name, version, generation, state].map(str::to_owned))
        })
        .collect()
}

/// Rows, one a line, their words separated by spaces.
fn rows_text(rows: &[[String; 4]]) -> String {
    rows.iter()
        .map(|row| row.join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_module_reads_ps_and_caps_through_the_typed_interface_and_changes_nothing() {
    let mut session = Session::at_prompt("supervisor-interface");
    session.expect_answer("start supervisor-reader", "supervisor-reader: running");

    let from = session.output().len();
    session.type_line("send supervisor-reader report");
    let to = session.wait_for_from(from, &format!("{READER}report done"), WAIT);
    let ps = session.type_line("ps");
    let caps = session.type_line("caps virtio-blk");

    // Every module row, in `ps`'s order, with the same name, version, generation and state.
    let typed: Vec<[String; 4]> = logged(&session, from, to, "module ")
        .iter()
        .map(|row| {
            let words: Vec<&str> = row.split_whitespace().collect();
            match words[..] {
                [name, version, "generation", generation, state] => {
                    [name, version, generation, state].map(str::to_owned)
                }
                _ => session.fail(format!("a module row that does not read: `{row}`")),
            }
        })
        .collect();
    let shown = ps_modules(&ps);
    println!(
        "{} module rows through the interface, {} in `ps`",
        typed.len(),
        shown.len()
    );
    if typed.is_empty() || typed != shown {
        session.fail(format!(
            "the typed rows differ from `ps`:\ntyped:\n{}\nps:\n{}",
            rows_text(&typed),
            rows_text(&shown)
        ));
    }
    if !typed
        .iter()
        .any(|row| row[0] == "supervisor-reader" && row[3] == "running")
    {
        session.fail("the reader's own row is not `running`");
    }

    // Status counts the same modules.
    let running = shown.iter().filter(|row| row[3] == "running").count();
    let status = logged(&session, from, to, "status: ");
    let expected = format!("{running} of {} modules running", shown.len());
    if status.len() != 1 || !status[0].starts_with(&expected) {
        session.fail(format!(
            "status said `{}`; `ps` says {expected}",
            status.join("`, `")
        ));
    }

    // Each capability line is one `caps` shows, and as many as it shows.
    let capabilities = logged(&session, from, to, "capability ");
    let caps_lines: Vec<&str> = caps
        .lines()
        .filter(|line| line.starts_with("  "))
        .map(str::trim)
        .collect();
    for capability in &capabilities {
        let shown = match capability.split_once(' ') {
            Some(("granted" | "held", text)) => caps_lines.contains(&text),
            Some(("serves", endpoint)) => caps_lines.iter().any(|line| {
                line.strip_prefix("serves ")
                    .is_some_and(|served| served.split(", ").any(|one| one == endpoint))
            }),
            _ => false,
        };
        if !shown {
            session.fail(format!(
                "capability `{capability}` is not in `caps virtio-blk`:\n{caps}"
            ));
        }
    }
    let granted_and_held = capabilities
        .iter()
        .filter(|line| !line.starts_with("serves "))
        .count();
    let shown_granted_and_held = caps_lines
        .iter()
        .filter(|line| !line.starts_with("serves "))
        .count();
    if capabilities.is_empty() || granted_and_held != shown_granted_and_held {
        session.fail(format!(
            "{granted_and_held} granted and held lines through the interface, {shown_granted_and_held} in `caps`:\n{caps}"
        ));
    }

    // 100 rounds after a warm-up of 100: the heap ends where it was.
    for round in ["warm-up", "measured"] {
        let before = heap_kib(&mut session);
        let from = session.output().len();
        session.type_line("send supervisor-reader repeat");
        session.wait_for_from(
            from,
            &format!("{READER}repeat done: 100 rounds answered, 0 failed"),
            WAIT,
        );
        let after = heap_kib(&mut session);
        println!("kernel heap: {before} KiB before 100 rounds ({round}), {after} KiB after");
        if round == "measured" && after > before + 1 {
            session.fail(format!(
                "the kernel heap grew from {before} KiB to {after} KiB over 100 rounds of typed calls"
            ));
        }
    }

    // The shell renders the typed answer; a command sent as a call is refused and nothing
    // restarts.
    session.expect_answer("call supervisor status", "reply from supervisor: up ");
    session.expect_answer("call supervisor status", " modules running");
    session.expect_answer(
        "call supervisor restart supervisor-reader",
        "error: call supervisor: `restart supervisor-reader`: no such operation",
    );
    let after = ps_modules(&session.type_line("ps"));
    let reader = |rows: &[[String; 4]]| {
        rows.iter()
            .find(|row| row[0] == "supervisor-reader")
            .cloned()
    };
    if reader(&after) != reader(&shown) {
        session.fail("the reader's generation or state changed");
    }

    // The reader's `run` calls (10 in a row, `restart cmos-rtc`) fail with `Denied` and the
    // same line sent with `ipc_send` 10 times is refused, because only the shell may run
    // commands: the clock driver keeps its generation.
    let clock = |rows: &[[String; 4]]| rows.iter().find(|row| row[0] == "cmos-rtc").cloned();
    let before = ps_modules(&session.type_line("ps"));
    if clock(&before).is_none_or(|row| row[3] != "running") {
        session.fail("cmos-rtc is not running before the command lines");
    }
    let from = session.output().len();
    session.type_line("send supervisor-reader command");
    session.wait_for_from(
        from,
        &format!("{READER}command done: 10 of 10 run calls denied, 10 command lines sent"),
        WAIT,
    );
    // The kernel says why, once for each call and each line.
    for refusal in [
        "from supervisor-reader to `supervisor` refused: only the server of `console` (the shell) may run commands",
        "supervisor: command line from supervisor-reader refused",
    ] {
        let mut at = from;
        for _ in 0..10 {
            at = session.wait_for_from(at, refusal, WAIT);
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let after = ps_modules(&session.type_line("ps"));
    if clock(&after) != clock(&before) {
        session.fail(format!(
            "cmos-rtc changed after refused command lines: `{}` -> `{}`",
            clock(&before).map(|row| row.join(" ")).unwrap_or_default(),
            clock(&after).map(|row| row.join(" ")).unwrap_or_default()
        ));
    }
}

/// The most bytes of text one page of a command's answer carries
/// (`cella_interfaces::supervisor::ANSWER_TEXT_BYTES`).
const PAGE_TEXT_BYTES: usize = 3584;

#[test]
fn the_shells_commands_come_back_whole_and_leave_the_kernel_heap_where_it_was() {
    let mut session = Session::at_prompt("shell-commands");
    // `log 100` is longer than two pages: it comes whole, its lines in the ring's order, the
    // header of the fault records after them, then the prompt.
    let log = session.type_line("log 100");
    let lines: Vec<&str> = log.lines().collect();
    println!("`log 100`: {} bytes, {} lines", log.len(), lines.len());
    if log.len() <= 2 * PAGE_TEXT_BYTES || lines.len() < 100 {
        session.fail(format!(
            "`log 100` answered {} bytes in {} lines:\n{log}",
            log.len(),
            lines.len()
        ));
    }
    let boot = lines
        .iter()
        .position(|line| line.contains("kernel main loop reached"));
    let up = lines
        .iter()
        .position(|line| line.starts_with("cella: all modules up"));
    if let (Some(boot), Some(up)) = (boot, up)
        && boot > up
    {
        session.fail(format!("`log 100` is out of order:\n{log}"));
    }
    // Commands of every kind, many times in a row (after a warm-up): the heap ends where it
    // was, so nothing is kept for the shell's calls.
    let commands = ["ps", "log 100", "help", "frobnicate"];
    for round in ["warm-up", "measured"] {
        let before = heap_kib(&mut session);
        for _ in 0..8 {
            for command in commands {
                let answer = session.type_line(command);
                if answer.trim().is_empty() {
                    session.fail(format!("`{command}` answered nothing"));
                }
            }
        }
        let after = heap_kib(&mut session);
        println!("kernel heap: {before} KiB before 32 commands ({round}), {after} KiB after");
        if round == "measured" && after > before + 1 {
            session.fail(format!(
                "the kernel heap grew from {before} KiB to {after} KiB over 32 commands"
            ));
        }
    }
    session.expect_answer("frobnicate", "error: unknown command `frobnicate`");
}
