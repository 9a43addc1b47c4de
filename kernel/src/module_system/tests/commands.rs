//! Commands and pushes from the host, answered with typed reports; `call`
//! to a module's endpoint. The shell's commands: `command_calls`.

use super::*;
use crate::module_system::services::{PushRequest, Routed};

#[test]
fn call_reaches_a_modules_endpoint_and_shows_the_reply() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    let report = run(
        &mut system,
        Command::Call {
            endpoint: String::from("counter"),
            text: String::from("hello"),
        },
    );
    let Ok(Report::Reply { bytes, .. }) = report else {
        panic!("a reply: {report:?}");
    };
    assert_eq!(bytes, alloc::vec![1, 0, 0, 0, 1, 0, 0, 0]);
    // A call the module faults on fails with the reason, not at the deadline.
    let report = run(
        &mut system,
        Command::Call {
            endpoint: String::from("counter"),
            text: String::from("trap"),
        },
    );
    assert!(
        matches!(report, Err(CommandError::CallFailed { .. })),
        "{report:?}"
    );
    let report = run(
        &mut system,
        Command::Call {
            endpoint: String::from("nobody"),
            text: String::from("hello"),
        },
    );
    assert_eq!(
        report.unwrap_err(),
        CommandError::NoServer(String::from("nobody"))
    );
}

#[test]
fn ps_waits_for_every_instance_and_lists_each_module() {
    let mut system = boot(&["first", "second"]);
    settle(&mut system);
    system.kernel.hold_events = true;
    queue(&mut system, "first", b"busy!");
    settle(&mut system);
    let id = submit(&mut system, Command::ProcessList);
    settle(&mut system);
    assert!(
        system.operations.take_report(id).is_none(),
        "waits for `first`"
    );
    system.kernel.hold_events = false;
    settle(&mut system);
    let Some(Ok(Report::ProcessList { modules, .. })) = system.operations.take_report(id) else {
        panic!("a process list");
    };
    let names: Vec<&str> = modules.iter().map(|row| row.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(modules[0].events, 1);
    assert!(
        modules
            .iter()
            .all(|row| row.state == "running" && row.generation > 0)
    );
}

#[test]
fn a_pushed_module_swaps_a_running_one_or_comes_in_new_with_its_entry() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    system.kernel.pushes.push_back(PushRequest::Install {
        target: String::from("counter"),
        bytes: module("counter", 2, Behaviour::default()),
        persist: false,
    });
    system.kernel.pushes.push_back(PushRequest::InstallGranted {
        target: String::from("newcomer"),
        entry: String::from("cella-system 1\nmodule newcomer installed/newcomer.wasm\n"),
        bytes: module("newcomer", 1, Behaviour::default()),
    });
    system.kernel.pushes.push_back(PushRequest::InstallGranted {
        target: String::from("garbage"),
        entry: String::from("cella-system 1\nmodule garbage installed/garbage.wasm\n"),
        bytes: b"not wasm".to_vec(),
    });
    system
        .kernel
        .pushes
        .push_back(PushRequest::Refused(String::from("bad signature")));
    settle(&mut system);
    let answers = &system.kernel.push_answers;
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert!(
        answers
            .iter()
            .any(|answer| matches!(answer, Ok(text) if text.contains("swapped 1 -> 2")))
    );
    assert!(answers.iter().any(
        |answer| matches!(answer, Ok(text) if text.contains("newcomer 1 installed and started"))
    ));
    assert!(
        answers
            .iter()
            .any(|answer| matches!(answer, Err(text) if text.contains("refused at load")))
    );
    assert!(
        answers
            .iter()
            .any(|answer| matches!(answer, Err(text) if text.contains("bad signature")))
    );
    assert!(system.table.find("newcomer").is_some());
    assert!(
        system.table.find("garbage").is_none(),
        "a refused push changes nothing"
    );
}

#[test]
fn sends_to_a_modules_endpoint_reach_its_inbox_and_console_output_falls_back() {
    let mut system = boot_console_driver();
    let uart = system.router.endpoint_id("uart").unwrap();
    assert_eq!(
        system.kernel.console_endpoint,
        Some(uart),
        "the console goes to the driver"
    );
    // Stopping the console's driver is refused unless forced: nothing could
    // be typed to start it again.
    let refused = run(&mut system, stop("console")).unwrap_err();
    assert!(
        format!("{refused}").contains("stop --force console"),
        "{refused}"
    );
    assert_eq!(system.kernel.console_endpoint, Some(uart));
    run(
        &mut system,
        Command::Stop {
            module: String::from("console"),
            force: true,
        },
    )
    .unwrap();
    assert_eq!(
        system.kernel.console_endpoint, None,
        "the kernel took it back"
    );
    // With no driver the kernel writes what a `write` carries itself, and
    // refuses, naming the sender, whatever is not a `write`.
    let mut hello = [0; 16];
    let length =
        cella_interfaces::uart::write::request(&mut hello, cella_interfaces::uart::Bytes(b"hello"))
            .unwrap();
    for round in 0..50 {
        for (from, bytes) in [("kernel", &hello[..length]), ("chatty", b"raw bytes")] {
            system.kernel.outbox.0.borrow_mut().push_back(Routed::Send {
                from: String::from(from),
                endpoint: uart,
                bytes: bytes.to_vec(),
            });
        }
        settle(&mut system);
        assert_eq!(
            system.kernel.console_written,
            [b"hello".to_vec()],
            "round {round}"
        );
        assert_eq!(
            system.kernel.console_refused,
            [Some(String::from("chatty"))],
            "round {round}"
        );
        system.kernel.console_written.clear();
        system.kernel.console_refused.clear();
    }
}

/// A module granted ports 0x510-0x511 that writes 0x5a to the first and
/// reads the second on every message.
fn poker() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname poker\nversion 1.0.0\nport 0x510 2\n")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_in8" (func $port_in8 (param i32 i32) (result i64)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $ports (mut i32) (i32.const 0))
  (func (export "init") (result i32)
    (global.set $ports (call $cap_handle (i32.const 0)))
    (i32.const 0))
  (func (export "on_message") (param i32 i32)
    (drop (call $port_out8 (global.get $ports) (i32.const 0) (i32.const 0x5a)))
    (drop (call $port_in8 (global.get $ports) (i32.const 1)))))"#,
    )
    .expect("poker assembles")
}

#[test]
fn trace_without_a_switch_shows_the_running_instances_last_accesses() {
    let plan = ModulePlan {
        grants: alloc::vec![crate::system_manifest::GrantLine::Port {
            base: 0x510,
            count: 2,
            shared: false,
        }],
        ..plan("poker", &[])
    };
    let mut system = boot_files(alloc::vec![plan], &[(String::from("poker.wasm"), poker())]);
    settle(&mut system);
    let recent = |system: &mut System, name: &str| {
        run(
            system,
            Command::RecentAccesses {
                module: String::from(name),
            },
        )
    };
    // Twenty messages, two accesses each: the ring keeps the last of them.
    for _ in 0..20 {
        queue(&mut system, "poker", b"go");
        settle(&mut system);
    }
    let Ok(Report::RecentAccesses {
        module,
        generation,
        accesses,
    }) = recent(&mut system, "poker")
    else {
        panic!("the recent accesses of a running module");
    };
    assert_eq!((module.as_str(), generation), ("poker", 1));
    let kept = Limits::default().trace_entries as usize;
    assert_eq!(accesses.len(), kept, "{accesses:?}");
    assert!(
        accesses[0].starts_with("write port 0x510 1 <- 0x5a"),
        "{accesses:?}"
    );
    assert!(
        accesses[1].starts_with("read port 0x511 1 -> "),
        "{accesses:?}"
    );
    // Stopped, there is no instance to ask; an unknown name is said to be one.
    run(&mut system, stop("poker")).unwrap();
    assert!(matches!(
        recent(&mut system, "poker"),
        Err(CommandError::NotRunning { .. })
    ));
    assert!(matches!(
        recent(&mut system, "nobody"),
        Err(CommandError::NoSuchModule(_))
    ));
}

/// A module granted port 0x80 whose `init` writes it, writes the port after
/// it (refused) and then fails.
fn failing_trespasser() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname trespasser\nversion 1.0.0\nport 0x80 1\n")
  (import "cella" "cap_handle" (func $cap_handle (param i32) (result i32)))
  (import "cella" "port_out8" (func $port_out8 (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "init") (result i32)
    (local $port i32)
    (local.set $port (call $cap_handle (i32.const 0)))
    (drop (call $port_out8 (local.get $port) (i32.const 0) (i32.const 0x11)))
    (drop (call $port_out8 (local.get $port) (i32.const 1) (i32.const 0xff)))
    (i32.const 1)))"#,
    )
    .expect("trespasser assembles")
}

#[test]
fn a_failed_start_is_traced_and_recorded_with_its_accesses_and_refusals() {
    let plan = ModulePlan {
        grants: alloc::vec![crate::system_manifest::GrantLine::Port {
            base: 0x80,
            count: 1,
            shared: false,
        }],
        on_demand: true,
        ..plan("trespasser", &[("policy", "never")])
    };
    let mut system = boot_files(
        alloc::vec![plan],
        &[(String::from("trespasser.wasm"), failing_trespasser())],
    );
    settle(&mut system);
    run(
        &mut system,
        Command::Trace {
            module: String::from("trespasser"),
            on: true,
        },
    )
    .expect("trace on");
    // Started again and again: each failed start is traced and recorded alike.
    for attempt in 1..=5 {
        system.kernel.printed.clear();
        let report = run(&mut system, start("trespasser")).expect("a start that faults");
        assert!(
            matches!(
                report,
                Report::Restarted {
                    state: "faulted",
                    ..
                }
            ),
            "{report:?}"
        );
        let traced: Vec<&String> = system
            .kernel
            .printed
            .iter()
            .filter(|line| line.starts_with("trace trespasser: "))
            .collect();
        assert_eq!(
            traced,
            [
                "trace trespasser: write port 0x80 1 <- 0x11",
                "trace trespasser: refused write port 0x81 1 (port_out8): denied",
            ],
            "attempt {attempt}: {:?}",
            system.kernel.printed
        );
        let record = system.records.all().last().expect("the fault is recorded");
        assert_eq!(record.module, "trespasser");
        assert!(record.generation > 0, "recorded under its own generation");
        assert_eq!(
            record.last_accesses,
            [
                "write port 0x80 1 <- 0x11",
                "refused write port 0x81 1 (port_out8): denied"
            ]
        );
        assert!(
            record
                .explanation
                .starts_with("trespasser's `init` returned 1 (0 means started)."),
            "{}",
            record.explanation
        );
        assert_eq!(system.records.len(), attempt);
    }
}

#[test]
fn explain_gives_each_fault_record_in_plain_words() {
    let mut system = boot_with(
        alloc::vec![
            (plan("counter", &[("backoff", "1ms")]), Behaviour::default()),
            (plan("quiet", &[]), Behaviour::default()),
        ],
        &[],
    );
    settle(&mut system);
    let explain = |system: &mut System, module: Option<&str>| {
        let outcome = run(
            system,
            Command::Explain {
                module: module.map(String::from),
            },
        );
        crate::supervisor::report_text::text_of(&outcome)
    };
    assert_eq!(explain(&mut system, None), "no faults recorded\n");
    // Faults one after another: each is recorded and explained, none lost.
    for count in 1..=3 {
        queue(&mut system, "counter", b"trap");
        // Let the fault happen and the backoff pass.
        for _ in 0..20 {
            settle(&mut system);
            system.wait_for_work();
        }
        let text = explain(&mut system, Some("counter"));
        let lines: Vec<&str> = text.lines().collect();
        let noun = if count == 1 { "fault" } else { "faults" };
        assert_eq!(
            lines[0],
            format!("{count} {noun} recorded for counter:"),
            "{text}"
        );
        assert_eq!(lines.len(), count + 1, "{text}");
        for line in &lines[1..] {
            assert!(
                line.contains("] counter generation ")
                    && line.contains(": counter executed `unreachable` in `on_message`: the trap a compiler emits"),
                "{text}"
            );
        }
    }
    assert_eq!(
        explain(&mut system, Some("quiet")),
        "no faults recorded for quiet\n"
    );
    assert_eq!(
        explain(&mut system, None).lines().next(),
        Some("3 faults recorded:")
    );
    assert!(matches!(
        run(
            &mut system,
            Command::Explain {
                module: Some(String::from("nobody"))
            }
        ),
        Err(CommandError::NoSuchModule(_))
    ));
}

#[test]
fn trace_entries_name_endpoints_instead_of_numbering_them() {
    let system = boot(&["counter", "rtc"]);
    let rtc = system.router.endpoint_id("rtc").expect("rtc endpoint");
    let send = |endpoint| cella_wasm_host::Access::Send {
        endpoint,
        length: 12,
    };
    assert_eq!(
        system.router.access_text(&send(rtc)),
        "send 12 bytes to endpoint rtc"
    );
    assert_eq!(
        system.router.access_text(&send(999)),
        "send 12 bytes to endpoint ?"
    );
    let reply = cella_wasm_host::Access::Reply {
        request: 7,
        length: 4,
    };
    assert_eq!(system.router.access_text(&reply), format!("{reply}"));
}

#[test]
fn send_and_call_to_a_full_inbox_are_refused_and_queue_nothing() {
    let mut system = boot_with(
        alloc::vec![(
            ModulePlan {
                limits: crate::system_manifest::ModuleLimits {
                    queue: Some(4),
                    ..Default::default()
                },
                ..plan("counter", &[])
            },
            Behaviour::default()
        )],
        &[],
    );
    settle(&mut system);
    let at = index(&system, "counter");
    for _ in 0..4 {
        queue(&mut system, "counter", b"waiting");
    }
    for command in [
        Command::Send {
            endpoint: String::from("counter"),
            text: String::from("more"),
        },
        Command::Call {
            endpoint: String::from("counter"),
            text: String::from("more"),
        },
    ] {
        let text = format!("{}", run(&mut system, command).unwrap_err());
        assert_eq!(
            text,
            "counter's inbox is full; nothing was sent, try again when it has caught up"
        );
        assert_eq!(system.table.slots[at].inbox.len(), 4, "nothing queued");
    }
}

#[test]
fn send_to_a_typed_endpoint_encodes_the_operation_and_refuses_other_text() {
    let mut system = boot_console_driver();
    let driver = index(&system, "console");
    for round in 0..30 {
        let sent = run(
            &mut system,
            Command::Send {
                endpoint: String::from("uart"),
                text: String::from("write hello"),
            },
        );
        assert!(
            matches!(&sent, Ok(Report::Sent { bytes: 13, .. })),
            "round {round}"
        );
        let Some(Pending::Message { bytes, .. }) = system.table.slots[driver].inbox.back() else {
            panic!("round {round}: nothing queued for the driver");
        };
        assert_eq!(
            cella_interfaces::uart::written(bytes),
            Ok(&b"hello"[..]),
            "round {round}"
        );
        let refused = run(
            &mut system,
            Command::Send {
                endpoint: String::from("uart"),
                text: String::from("hello"),
            },
        )
        .unwrap_err();
        assert_eq!(
            format!("{refused}"),
            "send uart: `hello`: no such operation; `uart` answers write",
            "round {round}"
        );
        settle(&mut system);
    }
}
