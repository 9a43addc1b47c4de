//! The native process `modules/system.toml` lists: the normal boot archive (`cargo cella
//! build`) starts `checksum` (the native build of modules/checksum) with the grants the TOML
//! gives it, `ps` lists it as serving its endpoint, and `call` gets its FNV-1a answers back.

use cella_qemu_tests::Session;
use cella_system::fnv::fnv1a_64 as fnv1a64;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// Types `line` and Enter; returns the output from the echo up to the next prompt.
fn run(session: &mut Session, line: &str) -> String {
    session.type_line(line)
}

#[test]
fn the_normal_boot_starts_the_listed_process_and_it_serves() {
    let mut session = Session::start("system processes", "", None, &[]);
    let start = session.wait_for("process checksum from the system manifest: thread", WAIT);
    let output = session.output();
    let line = output[start..].lines().next().unwrap_or_default();
    for needed in ["bin/checksum-native", "serves [checksum]", "granted []"] {
        if !line.contains(needed) {
            session.fail(format!("`{line}` does not say `{needed}`"));
        }
    }
    session.wait_for("shell: ready", WAIT);
    std::thread::sleep(Duration::from_millis(300));

    // `*`: the process has registered its endpoint, i.e. it is serving.
    let processes = run(&mut session, "ps");
    let Some(row) = processes.lines().find(|row| row.starts_with("checksum ")) else {
        session.fail(format!("`ps` does not list the process:\n{processes}"));
    };
    if !row.contains("native") || !row.contains("running") || !row.contains("serves [checksum*]") {
        session.fail(format!("`ps` row for the process is `{row}`"));
    }

    for text in ["hello", "the native checksum server"] {
        let answer = run(&mut session, &format!("call checksum {text}"));
        let hex: String = fnv1a64(text.as_bytes())
            .to_le_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let expected = format!("reply from checksum: 8 bytes: {hex}");
        if !answer.contains(&expected) {
            session.fail(format!(
                "`call checksum {text}`: expected `{expected}`, got:\n{answer}"
            ));
        }
    }
    let answer = run(&mut session, "call nobody hello");
    if !answer.contains("error: nothing serves `nobody`") {
        session.fail(format!("`call nobody hello` answered:\n{answer}"));
    }
    // A module's endpoint answers `call` too: `rtc` and `pci` have typed
    // interfaces, so the line is an operation with its arguments and the
    // answer reads as its value. The console, served by the event loop,
    // still echoes right after.
    let answer = run(&mut session, "call rtc time");
    if !answer.contains("reply from rtc: 20") || !answer.contains('T') || !answer.contains('Z') {
        session.fail(format!("`call rtc time` answered:\n{answer}"));
    }
    let answer = run(&mut session, "call pci function 0");
    if !answer.contains("reply from pci: 00:00.0 ") || !answer.contains(" class 06.00.00") {
        session.fail(format!("`call pci function 0` answered:\n{answer}"));
    }
    let answer = run(&mut session, "call pci function 999");
    if !answer.contains("reply from pci: error: no such function") {
        session.fail(format!("`call pci function 999` answered:\n{answer}"));
    }
    let answer = run(&mut session, "call rtc date");
    if !answer.contains("error: call rtc: `date`: no such operation; `rtc` answers time") {
        session.fail(format!("`call rtc date` answered:\n{answer}"));
    }
    run(&mut session, "# still echoing");
    if session.output().contains("PROCESS FAULT") {
        session.fail("a process faulted");
    }
}

/// Processes the manifest starts that end by themselves: one exits with status 0, one reads
/// address 0 and is killed. The log says how each ended, and `ps` keeps a row for each with
/// its exit status or the fault, asked again and again.
#[test]
fn processes_that_end_are_logged_and_listed_with_how_they_ended() {
    let archive = cella_qemu_tests::default_archive_with(
        "ended-processes",
        |manifest| {
            format!(
                "{manifest}\nprocess quitter bin/exit-at-once\nprocess crasher bin/fault-null\n"
            )
        },
        Vec::new(),
    );
    let mut session = Session::start("ended processes", "", Some(archive.clone()), &[]);
    let quitter = session.wait_for("process quitter (thread ", WAIT);
    let quitter_end = session.wait_for_from(quitter, " exited with status 0", WAIT);
    let crasher = session.wait_for("process crasher (thread ", WAIT);
    session.wait_for_from(crasher, " was killed: page fault", WAIT);
    let output = session.output();
    let quitter_thread = output[quitter..quitter_end]
        .split(')')
        .next()
        .unwrap_or_default()
        .to_owned();
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..10 {
        let processes = run(&mut session, "ps");
        let row = |name: &str| {
            processes
                .lines()
                .find(|row| row.starts_with(&format!("{name} ")))
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    session.fail(format!("round {round}: `ps` lists no {name}:\n{processes}"))
                })
        };
        let quitter_row = row("quitter");
        let expected = format!("exited 0   thread {quitter_thread}");
        if !quitter_row.contains("native") || !quitter_row.contains(&expected) {
            session.fail(format!("`ps` row for quitter is `{quitter_row}`"));
        }
        let crasher_row = row("crasher");
        if !crasher_row.contains(" faulted ") || !crasher_row.contains("killed: page fault") {
            session.fail(format!("`ps` row for crasher is `{crasher_row}`"));
        }
        if !processes
            .lines()
            .any(|row| row.starts_with("checksum ") && row.contains("running"))
        {
            session.fail(format!("the running process is not listed:\n{processes}"));
        }
    }
    let _ = std::fs::remove_file(archive);
}
