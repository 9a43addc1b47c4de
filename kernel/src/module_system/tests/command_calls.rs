//! The shell's commands as calls of the typed `supervisor` interface
//! (`module_system::command_calls`): the answer is the reply to the
//! shell's `run`, a long one read page by page, a swap answered when it is
//! handed over, only the console's server served, and nothing kept once a
//! command is answered or its caller is gone.

use super::calls::{boot_calls, call, caller_log};
use super::*;
use crate::module_system::router::CommandLine;
use crate::module_system::services::Routed;
use crate::supervisor::report_text::text_of;
use crate::system_manifest::GrantLine;
use cella_interfaces::supervisor::{self, CommandAnswer, SupervisorError};
use cella_wasm_host::abi::ErrorCode;

/// A stand-in for the shell: serves `console`, and each message it gets
/// becomes a call to `supervisor` with the same bytes; each reply it gets
/// (or `!` and the error code, for a failed call) it sends to `uart`,
/// which no module serves, so the kernel writes it to the console.
fn command_shell() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname shell\nversion 1\nstate 1\nendpoint supervisor\nendpoint uart\n")
  (import "cella" "cap_handle" (func $cap (param i32) (result i32)))
  (import "cella" "ipc_call" (func $call (param i32 i32 i32 i32) (result i32)))
  (import "cella" "ipc_receive" (func $receive (param i32 i32) (result i32)))
  (import "cella" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0x2000) "write\00")
  (data (i32.const 0x3000) "write\00")
  (func (export "init") (result i32) (i32.const 0))
  (func (export "save_state") (result i64) (i64.const 0x400))
  (func (export "state_buffer") (param i32) (result i32) (i32.const 0x400))
  (func (export "restore_state") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "on_message") (param $request i32) (param $length i32)
    (drop (call $receive (i32.const 0x1000) (i32.const 4096)))
    (drop (call $call (call $cap (i32.const 0)) (i32.const 0x1000) (local.get $length)
      (i32.const 60000))))
  (func (export "on_reply") (param $call i32) (param $status i32) (param $length i32)
    (if (i32.eqz (local.get $status))
      (then
        (drop (call $receive (i32.const 0x2008) (i32.const 4088)))
        (i32.store16 (i32.const 0x2006) (local.get $length))
        (drop (call $send (call $cap (i32.const 1)) (i32.const 0x2000)
          (i32.add (local.get $length) (i32.const 8)))))
      (else
        (i32.store16 (i32.const 0x3006) (i32.const 2))
        (i32.store8 (i32.const 0x3008) (i32.const 33))
        (i32.store8 (i32.const 0x3009) (i32.sub (i32.const 0) (local.get $status)))
        (drop (call $send (call $cap (i32.const 1)) (i32.const 0x3000) (i32.const 10)))))))"#,
    )
    .expect("the command shell assembles")
}

/// Boots the command shell (serving `console`) and the counters `names`,
/// with `extra` archive files, and settles.
fn boot_shell(names: &[&str], extra: &[(&str, Vec<u8>)]) -> System {
    let mut shell = ModulePlan {
        serves: alloc::vec![String::from("console")],
        ..plan("shell", &[])
    };
    for endpoint in ["supervisor", "uart"] {
        shell.grants.push(GrantLine::Endpoint {
            name: String::from(endpoint),
        });
    }
    let mut plans = alloc::vec![shell];
    plans.extend(names.iter().map(|name| plan(name, &[])));
    let mut files: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|name| {
            (
                format!("{name}.wasm"),
                module(name, 1, Behaviour::default()),
            )
        })
        .collect();
    files.push((String::from("shell.wasm"), command_shell()));
    files.extend(
        extra
            .iter()
            .map(|(path, bytes)| (String::from(*path), bytes.clone())),
    );
    let mut system = boot_files(plans, &files);
    settle(&mut system);
    system
}

/// Makes the shell call `supervisor` with `request` and settles.
fn shell_calls(system: &mut System, request: &[u8]) {
    queue(system, "shell", request);
    settle(system);
}

/// The version module `name` runs.
fn version_of<'a>(system: &'a System, name: &str) -> &'a str {
    let slot = &system.table.slots[index(system, name)];
    slot.module.as_ref().expect("a loaded module").version()
}

/// The shell's `run(line)` request.
fn run_request(line: &str) -> Vec<u8> {
    let mut request = [0; 256];
    let length = supervisor::run::request(&mut request, line).unwrap();
    request[..length].to_vec()
}

/// The shell's `report_page(page)` request.
fn page_request(page: u32) -> Vec<u8> {
    let mut request = [0; 32];
    let length = supervisor::report_page::request(&mut request, page).unwrap();
    request[..length].to_vec()
}

/// What the shell got, one entry per reply (or `!` and the error code).
fn replies(system: &System) -> &[Vec<u8>] {
    &system.kernel.console_written
}

/// The last reply, decoded as an answer (owned).
fn last_answer(system: &System) -> Result<(bool, u32, u32, String), SupervisorError> {
    let bytes = replies(system).last().expect("the shell got a reply");
    let answer: Result<CommandAnswer<'_>, SupervisorError> = supervisor::run::reply(bytes)
        .unwrap_or_else(|error| panic!("{bytes:?} is no answer: {error}"));
    answer.map(|answer| {
        (
            answer.succeeded,
            answer.page,
            answer.next,
            String::from(answer.text),
        )
    })
}

/// Asserts the kernel keeps nothing for the shell's commands and calls.
fn nothing_kept(system: &System) {
    assert!(system.command_calls.held.is_empty(), "held calls");
    assert!(system.command_calls.kept.is_empty(), "kept answers");
    assert!(system.router.supervisor_calls.is_empty());
    assert!(system.router.call_answers.is_empty());
    assert!(!system.operations.any(), "an operation under way");
    let shell = &system.table.slots[index(system, "shell")];
    assert!(shell.inbox.is_empty());
    let sandbox = shell.sandbox.as_ref().unwrap();
    assert!(sandbox.outstanding_calls().is_empty());
}

#[test]
fn a_commands_answer_is_the_reply_to_the_shells_call_with_the_text_of_its_report() {
    let mut system = boot_shell(&["counter"], &[]);
    shell_calls(&mut system, &run_request("stop counter"));
    let expected = text_of(&Ok(Report::Stopped {
        module: String::from("counter"),
    }));
    assert_eq!(expected, "counter: stopped\n");
    assert_eq!(last_answer(&system), Ok((true, 0, 0, expected)));
    assert!(!system.table.slots[index(&system, "counter")].is_running());
    // A line that is no command: answered at once with the usage error.
    shell_calls(&mut system, &run_request("frobnicate"));
    let (succeeded, _, next, text) = last_answer(&system).unwrap();
    assert!(!succeeded && next == 0);
    assert!(
        text.starts_with("error: unknown command `frobnicate`"),
        "{text}"
    );
    // A run whose argument does not decode is a typed refusal, nothing run.
    shell_calls(&mut system, b"run\0\x09\0stop");
    assert_eq!(last_answer(&system), Err(SupervisorError::BadArgument));
    nothing_kept(&system);
}

#[test]
fn a_long_answer_is_read_page_by_page_in_full_and_in_order_then_freed() {
    let names: Vec<String> = (0..130)
        .map(|index| format!("a-module-with-a-rather-long-name-number-{index:03}"))
        .collect();
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut system = boot_shell(&named, &[]);
    let expected = text_of(&run(&mut system, Command::List));
    assert!(expected.len() > 2 * supervisor::ANSWER_TEXT_BYTES);
    shell_calls(&mut system, &run_request("list"));
    let mut text = String::new();
    let mut page = 0;
    loop {
        let (succeeded, number, next, piece) = last_answer(&system).unwrap();
        assert!(succeeded);
        assert_eq!(number, page);
        text.push_str(&piece);
        if next == 0 {
            break;
        }
        assert_eq!(next, page + 1);
        if page == 0 {
            // Page 0 is `run`'s own; one past the end is no page.
            shell_calls(&mut system, &page_request(0));
            assert_eq!(last_answer(&system), Err(SupervisorError::BadArgument));
            shell_calls(&mut system, &page_request(99));
            assert_eq!(last_answer(&system), Err(SupervisorError::BadArgument));
        }
        page = next;
        shell_calls(&mut system, &page_request(page));
    }
    assert!(page >= 2, "{page} pages");
    assert_eq!(text, expected);
    nothing_kept(&system);
    // Read to its end, the answer is gone.
    shell_calls(&mut system, &page_request(1));
    assert_eq!(last_answer(&system), Err(SupervisorError::NoReport));
    // An answer read in part is replaced by the next command's.
    shell_calls(&mut system, &run_request("list"));
    assert_eq!(system.command_calls.kept.len(), 1);
    shell_calls(
        &mut system,
        &run_request("stop a-module-with-a-rather-long-name-number-000"),
    );
    assert!(last_answer(&system).unwrap().0);
    nothing_kept(&system);
}

#[test]
fn a_swap_holds_the_call_until_it_is_handed_over_and_a_failed_one_answers_its_error() {
    let mut system = boot_shell(
        &["counter"],
        &[
            (
                "counter-v2.wasm",
                module("counter", 2, Behaviour::default()),
            ),
            (
                "counter-v3.wasm",
                module(
                    "counter",
                    3,
                    Behaviour {
                        restore_refuses: true,
                        ..Behaviour::default()
                    },
                ),
            ),
        ],
    );
    system.kernel.hold_preparations = true;
    shell_calls(&mut system, &run_request("swap counter counter-v2.wasm"));
    assert!(replies(&system).is_empty(), "no answer while it prepares");
    assert_eq!(system.command_calls.held.len(), 1);
    system.kernel.hold_preparations = false;
    settle(&mut system);
    let (succeeded, _, next, text) = last_answer(&system).unwrap();
    assert!(succeeded && next == 0, "{text}");
    assert!(text.starts_with("counter: swapped 1 -> 2"), "{text}");
    assert_eq!(version_of(&system, "counter"), "2");
    nothing_kept(&system);

    shell_calls(&mut system, &run_request("swap counter counter-v3.wasm"));
    let (succeeded, _, _, text) = last_answer(&system).unwrap();
    assert!(!succeeded, "{text}");
    assert!(
        text.starts_with("error: ") && text.contains("failed at the restore step"),
        "{text}"
    );
    assert_eq!(
        version_of(&system, "counter"),
        "2",
        "the old version runs on"
    );
    nothing_kept(&system);
}

#[test]
fn a_caller_that_does_not_serve_console_is_denied_and_nothing_runs() {
    let mut system = boot_calls("supervisor", &[("counter", &[])], &[]);
    let counter = index(&system, "counter");
    let generation = system.table.slots[counter].generation;
    for round in 0..20 {
        for request in [
            run_request("stop counter"),
            run_request("restart counter"),
            page_request(1),
        ] {
            call(&mut system, &request);
            assert_eq!(
                caller_log(&system).last().map(String::as_str),
                Some("error 01"),
                "round {round}: Denied"
            );
        }
    }
    let slot = &system.table.slots[counter];
    assert!(slot.is_running());
    assert_eq!(slot.generation, generation, "nothing restarted it");
    assert!(system.command_calls.held.is_empty());
    assert!(system.command_calls.kept.is_empty());
    assert!(!system.operations.any());
}

#[test]
fn a_command_line_sent_with_ipc_send_is_refused_and_never_run() {
    let mut system = boot_shell(&["counter"], &[]);
    let counter = index(&system, "counter");
    for round in 0..20 {
        for from in ["shell", "counter", "nobody"] {
            system.command_from_module(CommandLine {
                from: String::from(from),
                bytes: b"stop counter".to_vec(),
            });
            settle(&mut system);
            assert!(system.table.slots[counter].is_running(), "round {round}");
        }
    }
    assert!(replies(&system).is_empty(), "nothing is answered");
    nothing_kept(&system);
}

#[test]
fn a_forged_answer_sent_to_console_is_a_message_not_the_answer() {
    let mut system = boot_shell(
        &["counter", "forger"],
        &[(
            "counter-v2.wasm",
            module("counter", 2, Behaviour::default()),
        )],
    );
    system.kernel.hold_preparations = true;
    shell_calls(&mut system, &run_request("swap counter counter-v2.wasm"));
    let console = system.router.endpoint_id("console").unwrap();
    system.kernel.outbox.0.borrow_mut().push_back(Routed::Send {
        from: String::from("forger"),
        endpoint: console,
        bytes: b"\x02Scounter: swapped 1 -> 2\r\n".to_vec(),
    });
    route_without_lending(&mut system);
    let shell = index(&system, "shell");
    // A message in the shell's inbox, not a reply; the call is still held.
    assert!(matches!(
        system.table.slots[shell].inbox.back(),
        Some(Pending::Message { request: 0, .. })
    ));
    assert!(system.router.call_answers.is_empty());
    assert_eq!(system.command_calls.held.len(), 1);
    assert!(replies(&system).is_empty());
    system.kernel.hold_preparations = false;
    settle(&mut system);
    // The stand-in shell called with the forged bytes, which name no
    // operation: denied. The swap's answer came as its own reply.
    let answers: Vec<&Vec<u8>> = replies(&system)
        .iter()
        .filter(|reply| reply[0] != b'!')
        .collect();
    assert_eq!(answers.len(), 1);
    let answer = supervisor::run::reply(answers[0]).unwrap().unwrap();
    assert!(answer.text.starts_with("counter: swapped 1 -> 2"));
    nothing_kept(&system);
}

#[test]
fn a_shell_restarted_while_its_command_runs_leaves_nothing_kept() {
    let mut system = boot_shell(
        &["counter"],
        &[(
            "counter-v2.wasm",
            module("counter", 2, Behaviour::default()),
        )],
    );
    let shell = index(&system, "shell");
    let old = system.table.slots[shell].generation;
    system.kernel.hold_preparations = true;
    shell_calls(&mut system, &run_request("swap counter counter-v2.wasm"));
    assert_eq!(system.command_calls.held.len(), 1);
    run(&mut system, restart("shell")).unwrap();
    assert_ne!(system.table.slots[shell].generation, old);
    system.kernel.hold_preparations = false;
    settle(&mut system);
    // The swap ran to its end; its answer reached no one (logged).
    assert_eq!(version_of(&system, "counter"), "2");
    assert!(replies(&system).is_empty(), "{:?}", replies(&system));
    nothing_kept(&system);
    // A long answer read in part is dropped with the instance too.
    let names: Vec<String> = (0..60)
        .map(|at| format!("m-{at:02}-{}", "x".repeat(50)))
        .collect();
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut system = boot_shell(&named, &[]);
    shell_calls(&mut system, &run_request("list"));
    assert_eq!(system.command_calls.kept.len(), 1);
    run(&mut system, restart("shell")).unwrap();
    settle(&mut system);
    nothing_kept(&system);
}

#[test]
fn a_swapped_shell_receives_the_answer_its_predecessor_waited_for() {
    let mut system = boot_shell(
        &["counter"],
        &[(
            "counter-v2.wasm",
            module("counter", 2, Behaviour::default()),
        )],
    );
    system.kernel.hold_preparations = true;
    shell_calls(&mut system, &run_request("swap counter counter-v2.wasm"));
    // The counter's new version waits; the shell itself is swapped (for
    // the same code) while its call is held.
    let counters_version = core::mem::take(&mut system.kernel.preparations);
    assert_eq!(counters_version.len(), 1);
    let shell = index(&system, "shell");
    let old = system.table.slots[shell].generation;
    system.kernel.hold_preparations = false;
    run(&mut system, swap("shell", "shell.wasm")).unwrap();
    assert_ne!(system.table.slots[shell].generation, old);
    assert_eq!(
        system.command_calls.held[0].generation, system.table.slots[shell].generation,
        "the held call belongs to the new version"
    );
    system.kernel.preparations = counters_version;
    settle(&mut system);
    let answer = last_answer(&system).unwrap();
    assert!(
        answer.3.starts_with("counter: swapped 1 -> 2"),
        "{answer:?}"
    );
    nothing_kept(&system);
}

#[test]
fn a_hundred_commands_in_a_row_leave_nothing_kept() {
    let names: Vec<String> = (0..60)
        .map(|at| format!("m-{at:02}-{}", "x".repeat(50)))
        .collect();
    let mut named: Vec<&str> = names.iter().map(String::as_str).collect();
    named.push("counter");
    let mut system = boot_shell(&named, &[]);
    for round in 0..100 {
        let line = match round % 4 {
            0 => "stop counter",
            1 => "start counter",
            // Long: page 0 read, the rest replaced by the next command.
            2 => "list",
            _ => "no-such-command",
        };
        shell_calls(&mut system, &run_request(line));
        let (succeeded, _, _, _) = last_answer(&system).unwrap();
        assert_eq!(succeeded, round % 4 != 3, "round {round}: {line}");
    }
    assert_eq!(replies(&system).len(), 100);
    nothing_kept(&system);
}

#[test]
fn a_command_that_outlives_the_calls_deadline_times_out_in_the_shell_and_leaves_nothing() {
    let mut system = boot_shell(
        &["counter"],
        &[(
            "counter-v2.wasm",
            module("counter", 2, Behaviour::default()),
        )],
    );
    system.kernel.hold_preparations = true;
    shell_calls(&mut system, &run_request("swap counter counter-v2.wasm"));
    // 61 s pass while the new version is prepared.
    system.kernel.clock += 61_000_000_000;
    settle(&mut system);
    let timed_out = [b'!', (-ErrorCode::TimedOut.code()) as u8];
    assert_eq!(replies(&system), [timed_out.to_vec()]);
    system.kernel.hold_preparations = false;
    settle(&mut system);
    // The swap ended; its late answer reached no one.
    assert_eq!(version_of(&system, "counter"), "2");
    assert_eq!(replies(&system), [timed_out.to_vec()]);
    nothing_kept(&system);
}

#[test]
fn a_module_calling_itself_shell_that_does_not_serve_console_is_denied() {
    // `impostor` runs the stand-in shell's code (its manifest says `name
    // shell`, as the real shell's does) but does not serve `console`.
    let mut impostor = plan("impostor", &[]);
    impostor.file = String::from("shell.wasm");
    for endpoint in ["supervisor", "uart"] {
        impostor.grants.push(GrantLine::Endpoint {
            name: String::from(endpoint),
        });
    }
    let files = [
        (String::from("shell.wasm"), command_shell()),
        (
            String::from("counter.wasm"),
            module("counter", 1, Behaviour::default()),
        ),
    ];
    let mut shell = ModulePlan {
        serves: alloc::vec![String::from("console")],
        ..plan("shell", &[])
    };
    shell.grants = impostor.grants.clone();
    let plans = alloc::vec![shell, impostor, plan("counter", &[])];
    let mut system = boot_files(plans, &files);
    settle(&mut system);
    let at = index(&system, "impostor");
    assert!(system.table.slots[at].is_running(), "the impostor runs");
    for _ in 0..10 {
        shell_calls_as(&mut system, "impostor", &run_request("stop counter"));
    }
    let denied = [b'!', (-ErrorCode::Denied.code()) as u8];
    assert_eq!(replies(&system), alloc::vec![denied.to_vec(); 10]);
    assert!(system.table.slots[index(&system, "counter")].is_running());
    assert!(system.command_calls.held.is_empty());
}

/// Makes module `name` (running the stand-in shell) call with `request`.
fn shell_calls_as(system: &mut System, name: &str, request: &[u8]) {
    queue(system, name, request);
    settle(system);
}
