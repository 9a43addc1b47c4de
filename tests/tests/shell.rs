//! The console shell: a person types at the serial console, the shell module edits the line and
//! sends it to the kernel's supervisor, and the answer comes back on the terminal. Every
//! command's documented output, usage lines for bad input, and the effects of restart, stop,
//! start, trace and swap.

use cella_qemu_tests::Session;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// A booted system at its first prompt.
fn shell() -> Session {
    Session::at_prompt("shell")
}

/// Types `line` and Enter; returns the output from the echo up to the next prompt.
fn run(session: &mut Session, line: &str) -> String {
    session.type_line(line)
}

fn check(session: &Session, answer: &str, needles: &[&str]) {
    for needle in needles {
        if !answer.contains(needle) {
            session.fail(format!("expected `{needle}` in the answer:\n{answer}"));
        }
    }
}

/// Runs `line` and checks that the answer contains every needle; returns the answer.
fn ask(session: &mut Session, line: &str, needles: &[&str]) -> String {
    let answer = run(session, line);
    for needle in needles {
        if !answer.contains(needle) {
            session.fail(format!(
                "`{line}`: expected `{needle}` in the answer:\n{answer}"
            ));
        }
    }
    answer
}

#[test]
fn every_command_answers_as_documented() {
    let mut session = shell();
    ask(
        &mut session,
        "help",
        &[
            "ps | lsmod",
            "list ",
            "remove [--force] NAME",
            "caps NAME",
            "log [LINES]",
            "restart NAME",
            "stop [--force] NAME | start NAME",
            "swap [--force] NAME FILE",
            "trace NAME [on|off]",
            "uptime",
            "mem",
        ],
    );

    let processes = run(&mut session, "ps");
    check(
        &session,
        &processes,
        &[
            "NAME",
            "VERSION",
            "GEN",
            "STATE",
            "RESTARTS",
            "EVENTS",
            "FUEL",
            "MEMORY",
            "LOG-DROPPED",
        ],
    );
    for module in ["uart16550", "ps2-keyboard", "cmos-rtc", "pci", "shell"] {
        let Some(line) = processes.lines().find(|line| line.starts_with(module)) else {
            session.fail(format!("`ps` does not list {module}:\n{processes}"));
        };
        if !line.contains("running") || !line.contains("KiB") {
            session.fail(format!("`ps` line for {module} is `{line}`"));
        }
    }
    ask(&mut session, "lsmod", &["uart16550", "running"]);
    ask(
        &mut session,
        "list",
        &[
            "NAME           VERSION  STATE",
            "uart16550      1.0.0    running",
        ],
    );

    let capabilities = run(&mut session, "caps uart16550");
    check(
        &session,
        &capabilities,
        &[
            "granted by the system manifest",
            "port 0x3f8 8",
            "irq 4",
            "held by instance",
            "  port 0x3f8 8",
            "  irq 4 (unmasked)",
            "  endpoint console (send)",
            "  endpoint uart (receive)",
        ],
    );
    ask(
        &mut session,
        "caps nosuch",
        &["error: no module named nosuch"],
    );

    ask(&mut session, "uptime", &["up ", " s"]);
    ask(
        &mut session,
        "mem",
        &[
            "physical:",
            "frames in use",
            "heap:",
            "KiB in use",
            "KiB kept for the kernel",
            "kernel ",
            "uart16550",
            "KiB of 4096 KiB",
        ],
    );
    ask(
        &mut session,
        "log 5",
        &[" recorded:", "last 5 lines of the kernel log:"],
    );
    ask(&mut session, "bogus", &["unknown command `bogus`"]);
    ask(&mut session, "caps", &["usage: caps NAME"]);
    ask(
        &mut session,
        "trace pci sideways",
        &["usage: trace NAME [on|off]"],
    );
    // An empty line just gives a new prompt.
    run(&mut session, "");
}

#[test]
fn restart_stop_start_trace_and_swap_take_effect() {
    let mut session = shell();
    ask(&mut session, "restart pci", &["pci: running"]);
    let processes = run(&mut session, "ps");
    let pci = processes
        .lines()
        .find(|line| line.starts_with("pci"))
        .unwrap_or_default()
        .to_owned();
    let columns: Vec<&str> = pci.split_whitespace().collect();
    if columns.get(3) != Some(&"running") || columns.get(4) != Some(&"1") {
        session.fail(format!(
            "after `restart pci`, ps says `{pci}` (want running, 1 restart)"
        ));
    }

    ask(&mut session, "stop cmos-rtc", &["cmos-rtc: stopped"]);
    ask(&mut session, "ps", &["stopped"]);
    ask(
        &mut session,
        "stop cmos-rtc",
        &["error: cmos-rtc is not running (stopped)"],
    );
    ask(&mut session, "trace cmos-rtc on", &["trace cmos-rtc: on"]);
    // Starting it again re-reads the clock: the trace shows its port accesses.
    let started = run(&mut session, "start cmos-rtc");
    check(&session, &started, &["cmos-rtc: running"]);
    session.wait_for("trace cmos-rtc: write port 0x70 1 <- ", WAIT);
    ask(&mut session, "trace cmos-rtc off", &["trace cmos-rtc: off"]);

    // Swapping the UART driver for the same file carries its state; the console keeps working.
    let swapped = run(&mut session, "swap uart16550 modules/uart16550.wasm");
    check(&session, &swapped, &["uart16550: swapped 1.0.0 -> 1.0.0"]);
    ask(
        &mut session,
        "swap uart16550 modules/missing.wasm",
        &["error: `modules/missing.wasm` is not in the boot archive"],
    );
    ask(
        &mut session,
        "swap pci modules/uart16550.wasm",
        &["error:", "refused at load"],
    );
    // Stopping the driver the console runs through is refused with the way back.
    ask(
        &mut session,
        "stop uart16550",
        &[
            "error: uart16550 carries the console",
            "`stop --force uart16550` stops it anyway",
        ],
    );
    let listed = run(&mut session, "ps");
    if !listed
        .lines()
        .any(|line| line.starts_with("uart16550") && line.contains("running"))
    {
        session.fail(format!(
            "uart16550 does not run after the refused stop:\n{listed}"
        ));
    }
}

/// A system booted with one more module than the production manifest: the boot counts it, `ps`
/// lists it running and the shell still answers. No test depends on how many modules the
/// production manifest boots.
#[test]
fn a_sixth_module_boots_beside_the_production_ones() {
    let module = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func (export "init") (result i32) (i32.const 0))
            (@custom "cella.manifest" "cella 1\nname newcomer\nversion 0.3.0\n"))"#,
    )
    .expect("valid WAT");
    let archive = cella_qemu_tests::default_archive_with(
        "newcomer",
        |manifest| format!("{manifest}\nmodule newcomer modules/newcomer.wasm\n"),
        vec![("modules/newcomer.wasm".to_owned(), module)],
    );
    let mut session = Session::start("newcomer", "", Some(archive.clone()), &[]);
    let boot = session.wait_for_boot(WAIT);
    if boot.not_up.iter().any(|name| name == "newcomer") {
        session.fail(format!("the boot line names newcomer as not up: {boot:?}"));
    }

    session.wait_for("shell: ready", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    let processes = ask(&mut session, "ps", &["newcomer", "0.3.0"]);
    let newcomer = processes
        .lines()
        .find(|line| line.starts_with("newcomer"))
        .unwrap_or_default();
    if !newcomer.contains("running") {
        session.fail(format!("newcomer is not running:\n{processes}"));
    }
    // Every module the boot counted up still runs, the newcomer among them.
    let modules = processes
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(3)
                .is_some_and(|state| state == "running")
        })
        .count();
    if modules < boot.up {
        session.fail(format!(
            "{modules} modules running in ps, the boot said {} up:\n{processes}",
            boot.up
        ));
    }
    ask(&mut session, "uptime", &["up"]);
    let _ = std::fs::remove_file(archive);
}

#[test]
fn uart_and_console_messages_from_the_shell_are_typed_and_raw_text_is_refused() {
    let mut session = shell();
    for round in 0..20 {
        let marker = format!("typed-write-{round}");
        let answer = run(&mut session, &format!("send uart write {marker}"));
        check(
            &session,
            &answer,
            &[
                &marker,
                &format!("sent {} bytes to uart (uart16550)", marker.len() + 8),
            ],
        );
        ask(
            &mut session,
            "send uart hello",
            &["error: send uart: `hello`: no such operation; `uart` answers write"],
        );
        ask(
            &mut session,
            "send uart write two words",
            &["error: send uart: `write two words`: an argument does not read as its type"],
        );
        ask(
            &mut session,
            "call uart write hi",
            &["reply from uart: done"],
        );
        ask(
            &mut session,
            "call console redraw",
            &["reply from console: done"],
        );
    }
    ask(&mut session, "ps", &["uart16550", "running"]);
}
