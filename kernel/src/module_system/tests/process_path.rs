//! Where a process's call to a module runs: on the event loop's own thread
//! when the module is idle with no more than the default fuel per event and
//! no other module has an event waiting, else on the module's worker; and
//! how often the loop passes before it waits.

use super::{Behaviour, System, boot, boot_with, index, plan, process_call, queue, settle};
use crate::system_manifest::ModuleLimits;
use cella_wasm_host::Limits;

/// The answer the process with `token` got, if any.
fn answer_of(
    system: &System,
    token: u64,
) -> Option<&Result<alloc::vec::Vec<u8>, crate::ipc::IpcError>> {
    system
        .kernel
        .process_answers
        .iter()
        .find(|(answered, _)| *answered == token)
        .map(|(_, answer)| answer)
}

#[test]
fn a_call_to_an_idle_module_runs_on_the_loop_and_is_answered_in_the_same_step() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    for round in 0..50u64 {
        let token = 2000 + round;
        process_call(&mut system, "counter", token, b"how many?");
        assert!(system.step(), "round {round}: the step found the call");
        let answer = answer_of(&system, token).expect("answered in the step that took the call");
        let count =
            u32::from_le_bytes(answer.as_ref().expect("an answer")[..4].try_into().unwrap());
        assert_eq!(count, round as u32 + 1, "round {round}");
        assert!(
            system.kernel.lent.is_empty(),
            "round {round}: nothing lent to a worker"
        );
        assert!(
            !system.table.slots[index(&system, "counter")].away,
            "round {round}: home"
        );
    }
    // Each call is a request the router forgot once answered.
    assert!(system.router.requests.is_empty());
}

#[test]
fn a_module_allowed_more_than_the_default_fuel_gets_the_call_on_its_worker() {
    let mut big = plan("big", &[]);
    big.limits = ModuleLimits {
        fuel_per_event: Some(Limits::default().fuel_per_event * 2),
        ..ModuleLimits::default()
    };
    let mut system = boot_with(alloc::vec![(big, Behaviour::default())], &[]);
    settle(&mut system);
    process_call(&mut system, "big", 77, b"how many?");
    system.step();
    assert!(answer_of(&system, 77).is_none(), "not answered on the loop");
    assert_eq!(system.kernel.lent.len(), 1, "lent to its worker");
    settle(&mut system);
    assert!(matches!(answer_of(&system, 77), Some(Ok(_))));
}

#[test]
fn while_another_module_has_an_event_waiting_the_call_goes_to_the_worker() {
    let mut system = boot(&["counter", "other"]);
    settle(&mut system);
    queue(&mut system, "other", b"hello");
    process_call(&mut system, "counter", 78, b"how many?");
    system.step();
    assert!(answer_of(&system, 78).is_none(), "the loop did not run it");
    assert_eq!(system.kernel.lent.len(), 1, "one event lent this step");
    settle(&mut system);
    assert!(matches!(answer_of(&system, 78), Some(Ok(_))));
}

#[test]
fn a_turn_waits_once_its_step_leaves_nothing_another_step_could_lend() {
    let mut system = boot(&["first", "second"]);
    settle(&mut system);
    // Two modules with an event each: the turn lends one and steps again
    // at once for the other (no wait: the mock's wait moves its clock).
    queue(&mut system, "first", b"one");
    queue(&mut system, "second", b"two");
    let before = system.kernel.clock;
    system.turn();
    assert_eq!(
        system.kernel.clock, before,
        "no wait with a second event to lend"
    );
    system.turn();
    let after_second = system.kernel.clock;
    assert!(
        after_second > before,
        "the turn that lent the last event waited"
    );
    settle(&mut system);
    let handled =
        |system: &System, name: &str| system.table.slots[index(system, name)].events_handled;
    assert!(handled(&system, "first") >= 1 && handled(&system, "second") >= 1);
}
