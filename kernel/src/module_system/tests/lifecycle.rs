//! Restart, hold, boot failures, replay and fairness, with the kernel mocked.

use super::*;
use crate::ipc::IpcError;
use crate::module_system::slot::ModuleState;

#[test]
fn a_fault_restarts_the_module_with_a_new_generation_and_replays_its_queue() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    let at = index(&system, "counter");
    let generation = system.table.slots[at].generation;
    queue(&mut system, "counter", b"trap");
    queue(&mut system, "counter", b"after the fault");
    settle(&mut system);
    let slot = &system.table.slots[at];
    assert_eq!(slot.state, ModuleState::Running);
    assert_eq!(slot.tracker.restarts, 1);
    assert!(slot.generation > generation, "a new generation");
    assert_eq!(system.records.len(), 1, "the fault is recorded");
    // The queued message was replayed to the new instance: it counts 1, and
    // this question makes 2.
    assert_eq!(ask(&mut system, "counter"), Ok((2, 1)));
    assert!(system.kernel.revoked.is_empty(), "it holds no IRQ lines");
}

#[test]
fn faults_past_the_policy_hold_the_module_and_start_brings_it_back() {
    let mut system = boot_with(
        alloc::vec![(
            plan("counter", &[("hold-after", "2"), ("backoff", "1ms")]),
            Behaviour::default()
        )],
        &[],
    );
    settle(&mut system);
    for _ in 0..3 {
        queue(&mut system, "counter", b"trap");
        // Let the backoff pass.
        for _ in 0..20 {
            settle(&mut system);
            system.wait_for_work();
        }
    }
    let at = index(&system, "counter");
    assert_eq!(system.table.slots[at].state, ModuleState::Held);
    assert_eq!(system.records.len(), 3);
    // A call to a held module fails at once.
    assert_eq!(ask(&mut system, "counter"), Err(IpcError::Closed));
    let report = run(&mut system, start("counter")).expect("start brings it back");
    assert!(matches!(
        report,
        Report::Restarted {
            state: "running",
            ..
        }
    ));
    // A start is not a restart.
    assert_eq!(system.table.slots[at].tracker.restarts, 2);
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)));
}

#[test]
fn a_module_that_fails_at_boot_is_restarted_by_its_policy_then_held() {
    let mut system = boot_with(
        alloc::vec![
            (
                plan("broken", &[("hold-after", "2"), ("backoff", "1ms")]),
                Behaviour {
                    init_fails: true,
                    ..Behaviour::default()
                }
            ),
            (plan("counter", &[]), Behaviour::default()),
        ],
        &[],
    );
    for _ in 0..50 {
        settle(&mut system);
        system.wait_for_work();
    }
    let broken = &system.table.slots[index(&system, "broken")];
    assert_eq!(broken.state, ModuleState::Held, "held, not `stopped`");
    // Started at boot and twice more by its policy; none of the three got up.
    assert_eq!(system.records.len(), 3);
    assert_eq!(broken.tracker.restarts, 0);
    assert!(
        system.records.all().all(|record| record.generation != 0),
        "each failed start is recorded with the generation it had"
    );
    // The other module was never disturbed.
    assert_eq!(ask(&mut system, "counter"), Ok((1, 1)));
}

#[test]
fn a_stopped_module_answers_calls_with_closed_and_its_queue_is_reported() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    let report = run(&mut system, stop("counter")).expect("stops");
    assert!(matches!(report, Report::Stopped { .. }));
    assert_eq!(
        system.table.slots[index(&system, "counter")].state,
        ModuleState::Stopped
    );
    assert_eq!(ask(&mut system, "counter"), Err(IpcError::Closed));
    assert_eq!(
        run(&mut system, stop("counter")).unwrap_err(),
        CommandError::NotRunning {
            module: String::from("counter"),
            state: "stopped"
        }
    );
}

#[test]
fn the_call_a_module_was_handling_when_it_faulted_is_answered_with_an_error() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    // The process's call traps the module (4 bytes): it is answered Closed,
    // not replayed; the request queued behind it is replayed and answered.
    process_call(&mut system, "counter", 7, b"trap");
    process_call(&mut system, "counter", 8, b"fine!");
    settle(&mut system);
    let answer = |token| {
        system
            .kernel
            .process_answers
            .iter()
            .find(|(answered, _)| *answered == token)
            .map(|(_, answer)| answer.clone())
    };
    assert_eq!(answer(7), Some(Err(IpcError::Closed)));
    assert_eq!(answer(8), Some(Ok(alloc::vec![1, 0, 0, 0, 1, 0, 0, 0])));
}

#[test]
fn a_request_delivered_and_unanswered_fails_when_the_module_is_restarted_by_hand() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    // The request is lent out and held away; the restart waits for it.
    system.kernel.hold_events = true;
    process_call(&mut system, "counter", 9, b"slow!");
    settle(&mut system);
    let id = submit(&mut system, restart("counter"));
    settle(&mut system);
    assert!(
        system.operations.take_report(id).is_none(),
        "the restart waits for the instance to come home"
    );
    system.kernel.hold_events = false;
    settle(&mut system);
    assert!(matches!(
        system.operations.take_report(id),
        Some(Ok(Report::Restarted { .. }))
    ));
    // The call was answered by the old instance before it went.
    assert_eq!(system.kernel.process_answers.len(), 1);
    assert!(system.kernel.process_answers[0].1.is_ok());
}

#[test]
fn modules_with_backlogs_take_turns() {
    let mut system = boot(&["first", "second"]);
    settle(&mut system);
    system.kernel.ran.clear();
    for _ in 0..10 {
        queue(&mut system, "first", b"work!");
        queue(&mut system, "second", b"work!");
    }
    // One event per turn, lent and completed before the next turn.
    for _ in 0..20 {
        system.step();
    }
    settle(&mut system);
    let ran = &system.kernel.ran;
    assert_eq!(ran.len(), 20);
    let first_half_of_second = ran[..10].iter().filter(|name| *name == "second").count();
    assert!(
        (4..=6).contains(&first_half_of_second),
        "the two backlogs alternate; the first ten events ran {ran:?}"
    );
}

#[test]
fn kernel_requests_queued_for_a_held_module_fail_and_for_a_restarting_one_are_replayed() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    // Restart pending: the queued request waits for the new instance.
    queue(&mut system, "counter", b"trap");
    let request = kernel_request(&mut system, "counter");
    settle(&mut system);
    assert!(
        !system.router.is_open(request),
        "answered by the new instance"
    );
    // Held: queued requests are failed and forgotten.
    let at = index(&system, "counter");
    system.table.slots[at].policy.hold_after = 0;
    queue(&mut system, "counter", b"trap");
    let request = kernel_request(&mut system, "counter");
    settle(&mut system);
    assert_eq!(system.table.slots[at].state, ModuleState::Held);
    assert!(!system.router.is_open(request), "failed and forgotten");
}

/// Boots `counter`, granted the disk at 00:03.0 and restarted after 1 ms,
/// and the modules `others`; settled. The disk's address too.
fn boot_disk_holder(others: &[&str]) -> (System, cella_wasm_host::abi::PciAddress) {
    use crate::system_manifest::GrantLine;
    let disk = cella_wasm_host::abi::PciAddress::new(0, 3, 0).unwrap();
    let mut holder = plan("counter", &[("backoff", "1ms")]);
    holder.grants.push(GrantLine::Device {
        vendor: 0x1af4,
        device: 0x1042,
        slot: Some(disk),
    });
    let mut plans = alloc::vec![(holder, Behaviour::default())];
    plans.extend(
        others
            .iter()
            .map(|name| (plan(name, &[]), Behaviour::default())),
    );
    let mut system = boot_with(plans, &[]);
    settle(&mut system);
    (system, disk)
}

#[test]
fn a_dma_fault_of_its_device_faults_and_restarts_the_module_holding_it() {
    use cella_wasm_host::abi::PciAddress;
    let (mut system, disk) = boot_disk_holder(&["other"]);
    let at = index(&system, "counter");
    let generation = system.table.slots[at].generation;
    // A fault of a device nobody holds faults nobody.
    let elsewhere = PciAddress::new(0, 4, 0).unwrap();
    system.kernel.device_faults.push((
        elsewhere,
        String::from("DMA write by 00:04.0 at 0x1000 blocked"),
    ));
    settle(&mut system);
    assert!(system.records.is_empty());
    system.kernel.device_faults.push((
        disk,
        String::from("DMA write by 00:03.0 at 0x100000 blocked: the page is not mapped writable"),
    ));
    for _ in 0..20 {
        settle(&mut system);
        system.wait_for_work();
    }
    let slot = &system.table.slots[at];
    assert_eq!(slot.state, ModuleState::Running, "restarted by its policy");
    assert_eq!(slot.tracker.restarts, 1);
    assert!(slot.generation > generation);
    let records: Vec<String> = system
        .records
        .all()
        .map(|record| record.reason.clone())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].contains("DMA write by 00:03.0 at 0x100000"),
        "{records:?}"
    );
    let other = index(&system, "other");
    assert_eq!(system.table.slots[other].tracker.restarts, 0);
}

#[test]
fn the_same_device_fault_reported_again_just_after_the_restart_is_not_held_against_the_new_instance()
 {
    use crate::module_system::device_faults::REPEAT_WINDOW_NS;
    let (mut system, disk) = boot_disk_holder(&[]);
    let at = index(&system, "counter");
    let blocked = "DMA write by 00:03.0 at 0x100000 blocked: the page is not mapped writable";
    let restart_after = |system: &mut System, text: &str| {
        system.kernel.device_faults.push((disk, String::from(text)));
        for _ in 0..20 {
            settle(system);
            system.wait_for_work();
        }
        system.table.slots[at].tracker.restarts
    };
    assert_eq!(restart_after(&mut system, blocked), 1);
    // The same fault again at once: a late report of the first (the mock's
    // 20 waits are 20 ms of its clock, inside the window).
    assert_eq!(restart_after(&mut system, blocked), 1);
    assert_eq!(system.records.all().count(), 1);
    // Another fault of the device counts at once.
    let other = "DMA write by 00:03.0 at 0x200000 blocked: the page is not mapped writable";
    assert_eq!(restart_after(&mut system, other), 2);
    // The same fault again, long after: the new instance's own.
    system.kernel.clock += REPEAT_WINDOW_NS;
    assert_eq!(restart_after(&mut system, other), 3);
    assert_eq!(system.records.all().count(), 3);
    assert_eq!(system.table.slots[at].state, ModuleState::Running);
}
