//! `cargo cella ps`, `caps`, `log`, `explain`, `trace`, `list`, `remove` and `mem` against a booted system:
//! the `cella` binary asks over the push channel and prints what the console shell prints,
//! exiting 1 with the kernel's error text on stderr when the system answers with an error.
//! Fifty `ps` in a row leave the kernel heap as it was.

use cella::archive::read_ustar;
use cella::test_environment::TOOL;
use cella_qemu_tests::{Session, environment};
use cella_system::push_authority::{KEY_ARCHIVE_ENTRY, PushKey};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lies in the workspace")
        .to_path_buf()
}

/// The `cella` binary: `CELLA_TOOL`, or the one `cargo cella` built beside this test's `deps`.
fn tool() -> PathBuf {
    if let Some(path) = std::env::var_os(TOOL).filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|directory| directory.join("cella"))
        .expect("the test binary lies in target/PROFILE/deps");
    assert!(
        beside.is_file(),
        "no cella binary at {} and {TOOL} is unset: run `cargo cella test`, or build the tool with `cargo build -p cella`",
        beside.display()
    );
    beside
}

/// What one run of the tool did.
struct Outcome {
    success: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A booted test system with its push channel on a socket, and the tool that asks it.
struct System {
    session: Session,
    socket: PathBuf,
    tool: PathBuf,
}

impl System {
    fn boot(label: &str) -> System {
        let socket =
            std::env::temp_dir().join(format!("cella-inspect-{label}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let serial = format!("unix:{},server=on,wait=off", socket.display());
        let session = Session::start(label, "", None, &["-serial", &serial]);
        session.wait_for("shell: ready", WAIT);
        let system = System {
            session,
            socket,
            tool: tool(),
        };
        system.check_key();
        system
    }

    /// The tool signs with the build directory's key: it must be the one in the boot archive.
    fn check_key(&self) {
        let archive = std::fs::read(&environment().boot_archive).expect("boot archive");
        let packed = read_ustar(&archive)
            .expect("ustar")
            .into_iter()
            .find(|entry| entry.name == KEY_ARCHIVE_ENTRY)
            .map(|entry| PushKey::from_hex(&entry.bytes).expect("a push key"));
        // Where the tool keeps it: the build directory cargo reports (CARGO_TARGET_DIR too).
        let workspace = cella::workspace::Workspace::load(&cella::shell::Shell::new(false))
            .unwrap_or_else(|error| self.session.fail(format!("the workspace: {error}")));
        let path = workspace.cella_directory().join("push.key");
        let workspace = std::fs::read(&path)
            .ok()
            .and_then(|text| PushKey::from_hex(&text).ok());
        if packed.is_none() || packed != workspace {
            self.session.fail(format!(
                "the boot archive's push key is not {} (run through `cargo cella test`)",
                path.display()
            ));
        }
    }

    /// Runs `cella WORDS --system SOCKET`.
    fn cella(&self, words: &str) -> Outcome {
        let output = Command::new(&self.tool)
            .current_dir(workspace_root())
            .args(words.split_whitespace())
            .arg("--system")
            .arg(&self.socket)
            .output()
            .unwrap_or_else(|error| {
                self.session
                    .fail(format!("running the cella tool: {error}"))
            });
        Outcome {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `cella WORDS` succeeds; its stdout (stderr empty).
    fn ok(&self, words: &str) -> String {
        let outcome = self.cella(words);
        if !outcome.success || !outcome.stderr.is_empty() {
            self.session.fail(format!(
                "`cargo cella {words}` exited {:?}; stdout:\n{}stderr:\n{}",
                outcome.code, outcome.stdout, outcome.stderr
            ));
        }
        outcome.stdout
    }

    /// `cella WORDS` exits 1 with nothing on stdout and `expected` starting stderr.
    fn refused(&self, words: &str, expected: &str) -> String {
        let outcome = self.cella(words);
        if outcome.code != Some(1)
            || !outcome.stdout.is_empty()
            || !outcome.stderr.starts_with(expected)
        {
            self.session.fail(format!(
                "`cargo cella {words}` exited {:?}, expected 1 and `{expected}` on stderr; stdout:\n{}stderr:\n{}",
                outcome.code, outcome.stdout, outcome.stderr
            ));
        }
        outcome.stderr
    }

    fn expect(&self, what: &str, text: &str, needles: &[&str]) {
        for needle in needles {
            if !text.contains(needle) {
                self.session
                    .fail(format!("{what}: expected `{needle}` in:\n{text}"));
            }
        }
    }

    /// Types `line` at the console shell; its answer, up to the next prompt, with `\n` line
    /// ends as the tool prints them.
    fn typed(&mut self, line: &str) -> String {
        self.session.wait_for("shell: ready", WAIT);
        self.session.wait_for(" modules up (", WAIT);
        std::thread::sleep(Duration::from_millis(300));
        self.session
            .type_line(line)
            .replace("\r\n", "\n")
            .trim_start_matches('\r')
            .to_owned()
    }

    /// Kernel heap in use, in KiB, from `cella mem`.
    fn heap_kib(&self) -> u64 {
        let memory = self.ok("mem");
        memory
            .lines()
            .find_map(|line| line.strip_prefix("heap: "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| {
                self.session
                    .fail(format!("no heap figure in `mem`:\n{memory}"))
            })
    }
}

impl Drop for System {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The `list` line of module `name`: its version and state.
fn listed(list: &str, name: &str) -> Option<(String, String)> {
    list.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [module, version, state] if *module == name => {
                Some(((*version).to_owned(), (*state).to_owned()))
            }
            _ => None,
        }
    })
}

#[test]
fn the_tool_prints_the_shells_reports_and_removes_a_module() {
    let mut system = System::boot("inspect");

    let processes = system.ok("ps");
    system.expect(
        "ps",
        &processes,
        &[
            "NAME",
            "VERSION",
            "GEN",
            "STATE",
            "FUEL",
            "LOG-DROPPED",
            "uart16550",
        ],
    );
    let capabilities = system.ok("caps uart16550");
    system.expect(
        "caps uart16550",
        &capabilities,
        &[
            "uart16550: granted by the system manifest:\n",
            "  port 0x3f8 8\n",
            "uart16550: held by instance ",
        ],
    );
    system.refused("caps nosuch", "error: no module named nosuch\n");
    // Exactly what the console shell prints for the same commands (`caps` and `list` do not
    // change between the two asks).
    for command in ["caps uart16550", "list"] {
        let from_the_tool = system.ok(command);
        let from_the_shell = system.typed(command);
        if from_the_tool != from_the_shell {
            system.session.fail(format!(
                "`cargo cella {command}` printed:\n{from_the_tool}\nthe shell printed:\n{from_the_shell}"
            ));
        }
    }

    let list = system.ok("list");
    if !list.starts_with("NAME           VERSION  STATE\n") {
        system
            .session
            .fail(format!("`list` has no header:\n{list}"));
    }
    if listed(&list, "uart16550")
        .map(|(_, state)| state)
        .as_deref()
        != Some("running")
    {
        system
            .session
            .fail(format!("`list` does not show uart16550 running:\n{list}"));
    }
    // A running module that carries neither the console's output nor its input.
    let console = ["uart16550", "shell", "ps2-keyboard"];
    let victim = list
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| !console.contains(name))
        .filter(|name| listed(&list, name).is_some_and(|(_, state)| state == "running"))
        .last()
        .unwrap_or_else(|| {
            system
                .session
                .fail(format!("no module to remove in:\n{list}"))
        })
        .to_owned();

    let trace_on = system.ok(&format!("trace {victim} on"));
    system.expect("trace on", &trace_on, &[&format!("trace {victim}: on\n")]);
    let trace_off = system.ok(&format!("trace {victim} off"));
    system.expect(
        "trace off",
        &trace_off,
        &[&format!("trace {victim}: off\n")],
    );
    // Without on|off: the last device accesses of the instance, read on the host.
    let recent = system.ok("trace uart16550");
    system.expect(
        "trace uart16550",
        &recent,
        &[
            "uart16550: the last ",
            " device accesses of instance ",
            "port 0x3f",
        ],
    );
    system.refused(
        &format!("trace {victim} maybe"),
        "error: usage: trace NAME [on|off]",
    );

    let log = system.ok("log 5");
    system.expect(
        "log 5",
        &log,
        &[
            " recorded:\n",
            "last 5 lines of the kernel log:\n",
            "push: command from the host: trace",
        ],
    );

    // A module that faults in `init` until held: its records in plain words, from the tool
    // exactly as the shell says them.
    let from = system.session.output().len();
    system.typed("start unreachable");
    system.session.wait_for_from(
        from,
        "supervisor: unreachable is on hold after 4 faults",
        WAIT,
    );
    let explained = system.ok("explain unreachable");
    system.expect(
        "explain unreachable",
        &explained,
        &[
            "4 faults recorded for unreachable:\n",
            " unreachable generation ",
            ": unreachable executed `unreachable` while starting (in `init`): the trap a compiler emits",
        ],
    );
    let from_the_shell = system.typed("explain unreachable");
    if explained != from_the_shell {
        system.session.fail(format!(
            "`cargo cella explain unreachable` printed:\n{explained}\nthe shell printed:\n{from_the_shell}"
        ));
    }
    system.refused("explain nosuch", "error: no module named nosuch\n");

    // A WAT file with a syntax error is refused by the tool before anything is sent, as a
    // syntax error with its line, however often it is pushed.
    let typo = std::env::temp_dir().join(format!("cella-typo-{}.wat", std::process::id()));
    std::fs::write(
        &typo,
        "(module\n  (func (export \"init\") (result i32)\n    (i32.cnst 0)))\n",
    )
    .expect("a WAT file");
    // What the kernel logs of uploads: each one arrives or is rejected. (Matching these
    // words, not every `push: ` line: the log line of the command before may still be
    // half printed when the count is taken.)
    let uploads = |output: String| {
        output
            .lines()
            .filter(|line| {
                line.contains("push: ")
                    && (line.contains("arrived from the host") || line.contains("upload rejected"))
            })
            .count()
    };
    let uploads_before = uploads(system.session.output());
    for _ in 0..5 {
        let refusal = system.refused(
            &format!("push {}", typo.display()),
            &format!("cella: error: WAT syntax error in {}", typo.display()),
        );
        system.expect("push of a WAT typo", &refusal, &["typo-", ".wat:3:6"]);
    }
    if uploads(system.session.output()) != uploads_before {
        system
            .session
            .fail("a push refused on the host reached the kernel");
    }
    let _ = std::fs::remove_file(typo);

    // The console's driver is refused unless forced, and keeps serving.
    system.refused("remove uart16550", "error: uart16550 carries the console");
    let removed = system.ok(&format!("remove {victim}"));
    system.expect(
        "remove",
        &removed,
        &[&format!(
            "{victim}: removed (stopped and unloaded; its grants are released)\n"
        )],
    );
    let processes = system.ok("ps");
    let row = processes
        .lines()
        .find(|line| line.split_whitespace().next() == Some(victim.as_str()))
        .unwrap_or_default();
    if !row.contains(" removed ") || row.contains("running") {
        system.session.fail(format!(
            "after `remove {victim}`, `ps` lists it as `{row}`:\n{processes}"
        ));
    }
    system.refused(
        &format!("remove {victim}"),
        &format!("error: {victim} is not running (removed)\n"),
    );
    let list = system.ok("list");
    if listed(&list, "uart16550")
        .map(|(_, state)| state)
        .as_deref()
        != Some("running")
    {
        system
            .session
            .fail(format!("the refused remove stopped uart16550:\n{list}"));
    }

    // The console still echoes through the driver the host could not remove.
    std::thread::sleep(Duration::from_millis(300));
    let from = system.session.output().len();
    system.session.write_serial(b"stillechoing");
    system.session.wait_for_from(from, "stillechoing", WAIT);
    system.session.write_serial(b"\r");
}

#[test]
fn fifty_ps_in_a_row_leave_the_kernel_heap_as_it_was() {
    let system = System::boot("inspect-ps50");
    for _ in 0..3 {
        system.ok("ps");
    }
    let before = system.heap_kib();
    for round in 0..50 {
        let processes = system.ok("ps");
        if !processes.starts_with("NAME ") || !processes.contains("uart16550") {
            system
                .session
                .fail(format!("`ps` number {round} answered:\n{processes}"));
        }
    }
    let after = system.heap_kib();
    println!("kernel heap: {before} KiB before 50 `ps`, {after} KiB after");
    // A report kept per command would be 50 of about 600 bytes.
    if after > before + 16 {
        system.session.fail(format!(
            "the kernel heap grew from {before} KiB to {after} KiB over 50 `ps` from the host"
        ));
    }
}
