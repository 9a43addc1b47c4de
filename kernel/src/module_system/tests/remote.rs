//! `remove` and `list`, and commands from the host over the push link,
//! answered with the text the shell prints.

use super::*;
use crate::module_system::services::PushRequest;
use crate::supervisor::report_text::text_of;
use crate::system_manifest::GrantLine;

/// `first` and `second`; `second` holds IRQ line 5 and serves `second`.
fn two_modules() -> System {
    let mut system = boot_with(
        alloc::vec![
            (plan("first", &[]), Behaviour::default()),
            (
                ModulePlan {
                    grants: alloc::vec![GrantLine::Irq {
                        line: 5,
                        shared: false
                    }],
                    ..plan("second", &[])
                },
                Behaviour::default()
            ),
        ],
        &[],
    );
    settle(&mut system);
    system
}

fn remove(name: &str) -> Command {
    Command::Remove {
        module: String::from(name),
        force: false,
    }
}

fn listed_state(system: &mut System, name: &str) -> &'static str {
    let Ok(Report::List { modules }) = run(system, Command::List) else {
        panic!("a list");
    };
    modules
        .iter()
        .find(|row| row.name == name)
        .map(|row| row.state)
        .expect("listed")
}

#[test]
fn remove_stops_and_unloads_a_module_and_a_push_loads_it_again() {
    let mut system = two_modules();
    assert_eq!(ask(&mut system, "second"), Ok((1, 1)));
    let report = run(&mut system, remove("second"));
    assert!(
        matches!(&report, Ok(Report::Removed { module }) if module == "second"),
        "{report:?}"
    );
    let slot = &system.table.slots[index(&system, "second")];
    assert!(slot.sandbox.is_none() && slot.module.is_none());
    assert_eq!(system.kernel.revoked, [5], "its IRQ line is revoked");
    assert_eq!(listed_state(&mut system, "second"), "removed");
    assert_eq!(listed_state(&mut system, "first"), "running");
    // Calls to its endpoint fail at once instead of waiting.
    assert!(ask(&mut system, "second").is_err());
    let again = run(&mut system, remove("second")).unwrap_err();
    assert_eq!(format!("{again}"), "second is not running (removed)");
    let start_it = run(&mut system, start("second")).unwrap_err();
    assert!(
        format!("{start_it}").contains("second was removed"),
        "{start_it}"
    );

    // A push of its name loads it again under its grant, a fresh start.
    system.kernel.pushes.push_back(PushRequest::Install {
        target: String::from("second"),
        bytes: module("second", 2, Behaviour::default()),
        persist: false,
    });
    settle(&mut system);
    assert!(
        matches!(system.kernel.push_answers.last(), Some(Ok(text)) if text.contains("loaded and started")),
        "{:?}",
        system.kernel.push_answers
    );
    assert_eq!(ask(&mut system, "second"), Ok((1, 2)));
    assert_eq!(
        ask(&mut system, "first"),
        Ok((1, 1)),
        "first ran on throughout"
    );
}

#[test]
fn removing_and_pushing_back_many_times_keeps_one_slot() {
    let mut system = two_modules();
    let slots = system.table.slots.len();
    for round in 0..30u32 {
        let revoked = system.kernel.revoked.len();
        assert!(
            matches!(
                run(&mut system, remove("second")),
                Ok(Report::Removed { .. })
            ),
            "round {round}"
        );
        assert_eq!(system.kernel.revoked[revoked..], [5], "round {round}");
        system.kernel.pushes.push_back(PushRequest::Install {
            target: String::from("second"),
            bytes: module("second", 1, Behaviour::default()),
            persist: false,
        });
        settle(&mut system);
        assert_eq!(ask(&mut system, "second"), Ok((1, 1)), "round {round}");
    }
    assert_eq!(system.table.slots.len(), slots);
    assert!(!system.operations.any());
}

#[test]
fn the_console_driver_is_removed_only_with_force() {
    let mut system = boot_console_driver();
    let uart = system.router.endpoint_id("uart");
    let refused = run(&mut system, remove("console")).unwrap_err();
    assert!(
        format!("{refused}").contains("`remove --force console` removes it anyway"),
        "{refused}"
    );
    assert_eq!(system.kernel.console_endpoint, uart);
    assert_eq!(listed_state(&mut system, "console"), "running");
    let forced = run(
        &mut system,
        Command::Remove {
            module: String::from("console"),
            force: true,
        },
    );
    assert!(matches!(forced, Ok(Report::Removed { .. })), "{forced:?}");
    assert_eq!(
        system.kernel.console_endpoint, None,
        "the kernel took the console back"
    );
}

fn from_host(system: &mut System, line: &str) {
    system
        .kernel
        .pushes
        .push_back(PushRequest::Command(String::from(line)));
}

#[test]
fn host_commands_get_the_shells_text_and_the_others_are_refused() {
    let mut system = two_modules();
    let list = text_of(&run(&mut system, Command::List));
    let caps = text_of(&run(
        &mut system,
        Command::Capabilities {
            module: String::from("second"),
        },
    ));
    for line in [
        "list",
        "caps second",
        "ps",
        "stop first",
        "frobnicate",
        "caps",
    ] {
        from_host(&mut system, line);
    }
    system
        .kernel
        .pushes
        .push_back(PushRequest::CommandRefused(String::from(
            "authentication failed",
        )));
    settle(&mut system);
    let answers = &system.kernel.command_answers;
    assert_eq!(answers.len(), 7, "{answers:?}");
    assert_eq!(answers[0], Ok(list));
    assert_eq!(answers[1], Ok(caps));
    assert!(
        matches!(&answers[2], Ok(text) if text.starts_with("NAME ") && text.contains("\nsecond ")),
        "{:?}",
        answers[2]
    );
    assert!(
        matches!(&answers[3], Err(text) if text.starts_with("error: `stop` is not taken from the host; it takes help, ps, list")),
        "{:?}",
        answers[3]
    );
    assert!(
        matches!(&answers[4], Err(text) if text.starts_with("error: unknown command `frobnicate`")),
        "{:?}",
        answers[4]
    );
    assert_eq!(
        answers[5],
        Err(String::from(
            "error: usage: caps NAME                what NAME is granted and what its instance holds\n"
        ))
    );
    assert_eq!(
        answers[6],
        Err(String::from(
            "error: command rejected: authentication failed\n"
        ))
    );
    assert!(
        system.kernel.push_answers.is_empty(),
        "no push was answered"
    );
    assert_eq!(
        ask(&mut system, "first"),
        Ok((1, 1)),
        "the refused stop did nothing"
    );

    // `remove` from the host, then `list` shows it removed.
    from_host(&mut system, "remove second");
    from_host(&mut system, "list");
    settle(&mut system);
    let answers = &system.kernel.command_answers[7..];
    assert_eq!(
        answers[0],
        Ok(String::from(
            "second: removed (stopped and unloaded; its grants are released)\n"
        ))
    );
    assert!(
        matches!(&answers[1], Ok(text) if text.contains("\nsecond         -        removed\n")),
        "{:?}",
        answers[1]
    );
}

#[test]
fn a_hundred_host_commands_in_a_row_leave_nothing_behind() {
    let mut system = two_modules();
    for _ in 0..100 {
        from_host(&mut system, "ps");
        settle(&mut system);
    }
    let answers = &system.kernel.command_answers;
    assert_eq!(answers.len(), 100);
    assert!(
        answers
            .iter()
            .all(|answer| matches!(answer, Ok(text) if text.starts_with("NAME ")))
    );
    assert!(!system.operations.any(), "no command is left under way");
    assert!(system.table.slots.iter().all(|slot| slot.inbox.is_empty()));
}
