//! Hot swap as states of the one event loop: success, each failure stage,
//! events during the preparation, the hand-over waiting for the instance.

use super::*;
use crate::module_system::slot::{ModuleState, SwapStage};

/// Boots `counter` version 1 with `counter-v2.wasm` in the archive behaving as `v2`.
fn with_version_two(v2: Behaviour) -> System {
    let mut system = boot_with(
        alloc::vec![(plan("counter", &[]), Behaviour::default())],
        &[("counter-v2.wasm", module("counter", 2, v2))],
    );
    settle(&mut system);
    system
}

#[test]
fn a_swap_carries_the_state_to_the_new_version() {
    let mut system = with_version_two(Behaviour::default());
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)));
    assert_eq!(ask(&mut system, "counter"), Ok((2, 1)));
    let before = system.table.slots[index(&system, "counter")].generation;
    let Ok(Report::Swapped(report)) = run(&mut system, swap("counter", "counter-v2.wasm")) else {
        panic!("the swap succeeds");
    };
    assert_eq!(
        (report.old_version.as_str(), report.new_version.as_str()),
        ("1", "2")
    );
    assert!(report.generation > before);
    assert!(report.blackout_ns <= report.total_ns);
    let slot = &system.table.slots[index(&system, "counter")];
    assert_eq!(slot.state, ModuleState::Running);
    assert_eq!(slot.generation, report.generation);
    // The count went over; the new version answers.
    assert_eq!(ask(&mut system, "counter"), Ok((3, 2)));
}

/// The endpoint capabilities `caps` shows `counter`'s running instance holding.
fn held_endpoints(system: &mut System) -> Vec<String> {
    let Ok(Report::Capabilities {
        held: Some((_, held)),
        ..
    }) = run(
        system,
        Command::Capabilities {
            module: String::from("counter"),
        },
    )
    else {
        panic!("counter runs");
    };
    held.into_iter()
        .filter(|capability| capability.starts_with("endpoint"))
        .collect()
}

#[test]
fn the_new_version_and_a_restarted_instance_hold_the_served_endpoint() {
    let mut system = with_version_two(Behaviour::default());
    assert_eq!(held_endpoints(&mut system), ["endpoint counter (receive)"]);
    let Ok(Report::Swapped(_)) = run(&mut system, swap("counter", "counter-v2.wasm")) else {
        panic!("the swap succeeds");
    };
    assert_eq!(held_endpoints(&mut system), ["endpoint counter (receive)"]);
    let before = system.table.slots[index(&system, "counter")].generation;
    let id = submit(&mut system, restart("counter"));
    settle(&mut system);
    assert!(matches!(system.operations.take_report(id), Some(Ok(_))));
    assert!(system.table.slots[index(&system, "counter")].generation > before);
    assert_eq!(held_endpoints(&mut system), ["endpoint counter (receive)"]);
}

#[test]
fn events_go_on_while_the_new_version_is_prepared() {
    let mut system = with_version_two(Behaviour::default());
    system.kernel.hold_preparations = true;
    let id = submit(&mut system, swap("counter", "counter-v2.wasm"));
    settle(&mut system);
    let at = index(&system, "counter");
    assert_eq!(
        system.table.slots[at].state,
        ModuleState::Swapping(SwapStage::Preparing)
    );
    // The old version still answers.
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)));
    // A second command on the module is refused while the swap is under way.
    assert_eq!(
        run(&mut system, restart("counter")).unwrap_err(),
        CommandError::Busy {
            module: String::from("counter")
        }
    );
    system.kernel.hold_preparations = false;
    settle(&mut system);
    assert!(matches!(
        system.operations.take_report(id),
        Some(Ok(Report::Swapped(_)))
    ));
    assert_eq!(ask(&mut system, "counter"), Ok((2, 2)));
}

#[test]
fn the_hand_over_waits_for_the_event_in_progress_and_lends_nothing_new() {
    let mut system = with_version_two(Behaviour::default());
    system.kernel.hold_events = true;
    queue(&mut system, "counter", b"busy!");
    settle(&mut system);
    let at = index(&system, "counter");
    assert!(system.table.slots[at].away);
    let id = submit(&mut system, swap("counter", "counter-v2.wasm"));
    queue(&mut system, "counter", b"waits for the new version");
    settle(&mut system);
    assert_eq!(
        system.table.slots[at].state,
        ModuleState::Swapping(SwapStage::HandingOver)
    );
    assert_eq!(system.kernel.lent.len(), 1, "nothing new is lent");
    system.kernel.hold_events = false;
    settle(&mut system);
    let Some(Ok(Report::Swapped(report))) = system.operations.take_report(id) else {
        panic!("the swap succeeds");
    };
    assert_eq!(report.queued, 1, "the queued message follows the hand-over");
    // busy (1) and the queued one (2) were counted; this question makes 3.
    assert_eq!(ask(&mut system, "counter"), Ok((3, 2)));
}

/// Swaps `counter` to a version 2 behaving as `v2` (or to `bytes`) and
/// checks that the swap failed with a message containing `stage` and the
/// old version kept running with its state.
fn fails_at(system: &mut System, file: &str, stage: &str) {
    assert_eq!(ask(system, "counter"), Ok((1, 1)));
    let error = run(system, swap("counter", file)).unwrap_err();
    let text = format!("{error}");
    assert!(text.contains(stage), "`{text}` names {stage}");
    let slot = &system.table.slots[index(system, "counter")];
    assert_eq!(slot.state, ModuleState::Running);
    assert_eq!(slot.module.as_ref().unwrap().version(), "1");
    assert_eq!(
        ask(system, "counter"),
        Ok((2, 1)),
        "the old version runs on"
    );
}

#[test]
fn a_new_version_refused_at_load_changes_nothing() {
    let mut system = boot_with(
        alloc::vec![(plan("counter", &[]), Behaviour::default())],
        &[("garbage.wasm", b"\0asm but not really".to_vec())],
    );
    settle(&mut system);
    fails_at(&mut system, "garbage.wasm", "refused at load");
}

#[test]
fn a_new_version_that_cannot_be_instantiated_changes_nothing() {
    let mut system = with_version_two(Behaviour {
        too_much_memory: true,
        ..Behaviour::default()
    });
    fails_at(
        &mut system,
        "counter-v2.wasm",
        "failed at the instantiation of the new version",
    );
}

#[test]
fn an_old_version_that_cannot_save_its_state_keeps_running() {
    let mut system = boot_with(
        alloc::vec![(
            plan("counter", &[]),
            Behaviour {
                save_traps: true,
                ..Behaviour::default()
            }
        )],
        &[(
            "counter-v2.wasm",
            module("counter", 2, Behaviour::default()),
        )],
    );
    settle(&mut system);
    fails_at(&mut system, "counter-v2.wasm", "failed at the save step");
}

#[test]
fn a_new_version_that_refuses_the_state_changes_nothing() {
    let mut system = with_version_two(Behaviour {
        restore_refuses: true,
        ..Behaviour::default()
    });
    fails_at(&mut system, "counter-v2.wasm", "failed at the restore step");
}

#[test]
fn a_module_that_faults_while_its_new_version_is_prepared_is_not_swapped() {
    let mut system = with_version_two(Behaviour::default());
    system.kernel.hold_preparations = true;
    let id = submit(&mut system, swap("counter", "counter-v2.wasm"));
    queue(&mut system, "counter", b"trap");
    system.step();
    system.step();
    system.kernel.hold_preparations = false;
    settle(&mut system);
    let Some(Err(error)) = system.operations.take_report(id) else {
        panic!("the swap fails");
    };
    assert!(format!("{error}").contains("stopped running"), "{error}");
    let slot = &system.table.slots[index(&system, "counter")];
    assert_eq!(slot.module.as_ref().unwrap().version(), "1");
    assert_eq!(slot.tracker.restarts, 1, "restarted as its policy says");
}

#[test]
fn a_missing_file_or_module_is_refused_at_once() {
    let mut system = with_version_two(Behaviour::default());
    assert!(matches!(
        run(&mut system, swap("counter", "nowhere.wasm")),
        Err(CommandError::Refused(_))
    ));
    assert_eq!(
        run(&mut system, swap("nobody", "counter-v2.wasm")).unwrap_err(),
        CommandError::NoSuchModule(String::from("nobody"))
    );
}

#[test]
fn a_module_of_another_name_is_swapped_in_only_when_forced() {
    let mut system = boot_with(
        alloc::vec![(plan("counter", &[]), Behaviour::default())],
        &[("other.wasm", module("other", 2, Behaviour::default()))],
    );
    settle(&mut system);
    let error = run(&mut system, swap("counter", "other.wasm")).unwrap_err();
    let text = format!("{error}");
    assert!(
        text.contains("the module `other`, not `counter`") && text.contains("swap --force"),
        "{text}"
    );
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)), "nothing changed");
    let forced = run(
        &mut system,
        Command::Swap {
            module: String::from("counter"),
            file: String::from("other.wasm"),
            force: true,
        },
    );
    assert!(matches!(forced, Ok(Report::Swapped(_))), "{forced:?}");
    assert_eq!(ask(&mut system, "counter"), Ok((2, 2)));
}

#[test]
fn a_push_of_a_module_of_another_name_is_refused_running_or_not() {
    let mut system = boot_with(
        alloc::vec![(plan("counter", &[]), Behaviour::default())],
        &[],
    );
    settle(&mut system);
    let push = |system: &mut System| {
        system.run_task(Task::Install {
            target: String::from("counter"),
            bytes: module("other", 2, Behaviour::default()),
        })
    };
    // Running: the swap's name check refuses it.
    let text = format!("{}", push(&mut system).unwrap_err());
    assert!(text.contains("the module `other`, not `counter`"), "{text}");
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)), "nothing changed");
    // Stopped: refused at load the same way, and nothing starts.
    assert!(run(&mut system, stop("counter")).is_ok());
    let text = format!("{}", push(&mut system).unwrap_err());
    assert!(
        text.contains("the module is `other`, not `counter`"),
        "{text}"
    );
    let at = index(&system, "counter");
    assert!(!system.table.slots[at].is_running());
}
