//! The typed, read-only `supervisor` interface (`module_system::inspection`)
//! over the mocked kernel: its answers hold `ps`'s rows, a table longer than
//! one message comes in pages, an unknown module, garbage and command lines
//! are refused, and a module's call to it is answered with a reply, as is a
//! native process's call when the system manifest grants it the endpoint;
//! `ps`'s rows of a module away in an event.

use super::calls::{boot_calls, call, caller_log};
use super::*;
use crate::module_system::inspection::Refusal;
use cella_interfaces::supervisor::{self, CapabilityKind, SupervisorError};
use cella_interfaces::wire::WireError;

/// The answer to `request`, which must be one.
fn answer(system: &System, request: &[u8]) -> Vec<u8> {
    system.answer_typed(request).expect("an answer")
}

/// The rows `ps` shows for the modules.
fn ps_rows(system: &mut System) -> Vec<crate::supervisor::reports::ModuleRow> {
    match run(system, Command::ProcessList) {
        Ok(Report::ProcessList { modules, .. }) => modules,
        other => panic!("ps answered {other:?}"),
    }
}

/// Every module row the interface gives, page after page; and how many
/// pages it took.
fn all_module_rows(system: &System) -> (Vec<(String, String, u32, String)>, usize) {
    let mut rows = Vec::new();
    let mut start = 0;
    let mut pages = 0;
    let mut request = [0; 16];
    loop {
        let length = supervisor::modules::request(&mut request, start).unwrap();
        let bytes = answer(system, &request[..length]);
        assert!(bytes.len() <= crate::ipc::MAX_MESSAGE_BYTES);
        let page = supervisor::modules::reply(&bytes).unwrap().unwrap();
        pages += 1;
        for row in page.rows() {
            let row = row.unwrap();
            rows.push((
                String::from(row.name),
                String::from(row.version),
                row.generation,
                String::from(row.state),
            ));
        }
        if page.next == 0 {
            return (rows, pages);
        }
        assert_eq!(page.next as usize, rows.len());
        start = page.next;
    }
}

#[test]
fn the_module_rows_are_those_ps_shows() {
    let mut system = boot(&["counter", "other"]);
    settle(&mut system);
    run(&mut system, stop("other")).unwrap();
    let (rows, pages) = all_module_rows(&system);
    assert_eq!(pages, 1);
    let ps: Vec<(String, String, u32, String)> = ps_rows(&mut system)
        .into_iter()
        .map(|row| {
            (
                row.name,
                row.version,
                row.generation,
                String::from(row.state),
            )
        })
        .collect();
    assert_eq!(rows, ps);
    assert_eq!(rows[1].3, "stopped");
}

#[test]
fn a_table_longer_than_one_message_comes_in_pages_holding_every_row_once() {
    // Long names: 60 rows of about 110 bytes pass one 4,096-byte message.
    let names: Vec<String> = (0..60)
        .map(|index| format!("a-module-with-a-rather-long-name-number-{index:02}"))
        .collect();
    let named: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut system = boot(&named);
    settle(&mut system);
    let (rows, pages) = all_module_rows(&system);
    assert!(pages >= 2, "60 long rows took {pages} page(s)");
    let seen: Vec<&str> = rows.iter().map(|row| row.0.as_str()).collect();
    assert_eq!(seen, named);
    // A start past the end is refused; the end itself is an empty page.
    let mut request = [0; 16];
    let length = supervisor::modules::request(&mut request, 61).unwrap();
    assert_eq!(
        supervisor::modules::reply(&answer(&system, &request[..length])).unwrap(),
        Err(SupervisorError::BadArgument)
    );
    let length = supervisor::modules::request(&mut request, 60).unwrap();
    let bytes = answer(&system, &request[..length]);
    let page = supervisor::modules::reply(&bytes).unwrap().unwrap();
    assert_eq!((page.count, page.next), (0, 0));
}

#[test]
fn capabilities_are_those_caps_shows_and_an_unknown_name_is_not_found() {
    let mut system = boot_calls("counter", &[("counter", &[])], &[]);
    settle(&mut system);
    let mut request = [0; 64];
    let length = supervisor::capabilities::request(&mut request, "caller", 0).unwrap();
    let bytes = answer(&system, &request[..length]);
    let capabilities = supervisor::capabilities::reply(&bytes).unwrap().unwrap();
    assert_eq!(capabilities.module, "caller");
    assert_eq!(capabilities.state, "running");
    assert_eq!(
        capabilities.generation,
        system.table.slots[index(&system, "caller")].generation
    );
    let rows: Vec<(CapabilityKind, String)> = capabilities
        .page
        .rows()
        .map(|row| {
            let row = row.unwrap();
            (row.kind, String::from(row.text))
        })
        .collect();
    assert_eq!(
        rows,
        [
            (CapabilityKind::Granted, String::from("endpoint counter")),
            (CapabilityKind::Serves, String::from("caller")),
            (
                CapabilityKind::Held,
                String::from("endpoint counter (send)")
            ),
            (
                CapabilityKind::Held,
                String::from("endpoint caller (receive)")
            ),
        ]
    );
    let length = supervisor::capabilities::request(&mut request, "nope", 0).unwrap();
    assert_eq!(
        supervisor::capabilities::reply(&answer(&system, &request[..length])).unwrap(),
        Err(SupervisorError::NotFound)
    );
}

#[test]
fn a_fault_record_reads_with_its_module_generation_event_and_reason() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    let generation = system.table.slots[index(&system, "counter")].generation;
    queue(&mut system, "counter", b"trap");
    settle(&mut system);
    let mut request = [0; 16];
    let length = supervisor::faults::request(&mut request, 0).unwrap();
    let bytes = answer(&system, &request[..length]);
    let page = supervisor::faults::reply(&bytes).unwrap().unwrap();
    let rows: Vec<_> = page.rows().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].module, "counter");
    assert_eq!(rows[0].generation, generation);
    assert_eq!(rows[0].handling, "a message of 4 bytes (request 0)");
    assert!(
        rows[0]
            .reason
            .starts_with("module counter faulted in on_message"),
        "{}",
        rows[0].reason
    );
}

#[test]
fn status_counts_the_modules_up_and_garbage_is_no_request() {
    let mut system = boot(&["counter", "other"]);
    settle(&mut system);
    run(&mut system, stop("other")).unwrap();
    let mut request = [0; 16];
    let length = supervisor::status::request(&mut request).unwrap();
    let status = supervisor::status::reply(&answer(&system, &request[..length]))
        .unwrap()
        .unwrap();
    assert_eq!((status.modules_up, status.modules_total), (1, 2));
    assert_eq!(
        status.uptime_ns,
        crate::module_system::services::KernelServices::now(&system.kernel)
    );
    for garbage in [
        &b"\xff\xfe\x00\x01"[..],
        b"",
        b"modules\0\x01",
        b"status\0trailing",
        b"capabilities\0\x05\x00ab",
    ] {
        assert!(
            matches!(system.answer_typed(garbage), Err(Refusal::NotTyped(_))),
            "{garbage:?}"
        );
    }
    assert_eq!(
        system.answer_typed(b"restart counter"),
        Err(Refusal::NotTyped(WireError::UnknownOperation))
    );
}

#[test]
fn a_modules_call_is_answered_and_a_command_sent_as_a_call_is_refused() {
    let mut system = boot_calls("supervisor", &[("counter", &[])], &[]);
    let counter = index(&system, "counter");
    let generation = system.table.slots[counter].generation;
    let mut request = [0; 16];
    let length = supervisor::status::request(&mut request).unwrap();
    call(&mut system, &request[..length]);
    // The caller logs the first byte of the reply: 0, the `Ok` tag.
    let log = caller_log(&system);
    assert!(log[0].starts_with("ok 0 "), "{log:?}");
    for command in [&b"restart counter"[..], b"stop counter", b"remove counter"] {
        call(&mut system, command);
        assert_eq!(caller_log(&system).last().unwrap(), "error 01");
    }
    let slot = &system.table.slots[counter];
    assert!(slot.is_running());
    assert_eq!(slot.generation, generation, "nothing restarted it");
    assert_eq!(slot.tracker.restarts, 0);
}

#[test]
fn a_hundred_typed_calls_in_a_row_leave_nothing_behind() {
    let mut system = boot_calls("supervisor", &[("counter", &[])], &[]);
    let caller = index(&system, "caller");
    let mut request = [0; 16];
    let length = supervisor::modules::request(&mut request, 0).unwrap();
    for round in 0..100 {
        call(&mut system, &request[..length]);
        assert!(
            caller_log(&system).last().unwrap().starts_with("ok 0 "),
            "round {round}"
        );
    }
    assert_eq!(caller_log(&system).len(), 100);
    assert!(system.router.supervisor_calls.is_empty());
    assert!(system.router.call_answers.is_empty());
    assert!(system.router.requests.is_empty());
    assert!(system.table.slots[caller].inbox.is_empty());
    let sandbox = system.table.slots[caller].sandbox.as_ref().unwrap();
    assert!(sandbox.outstanding_calls().is_empty());
}

#[test]
fn the_shells_call_renders_the_typed_answer_and_refuses_commands() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    let outcome = run(
        &mut system,
        Command::Call {
            endpoint: String::from("supervisor"),
            text: String::from("status"),
        },
    );
    let text = crate::supervisor::report_text::text_of(&outcome);
    assert!(
        text.starts_with("reply from supervisor: up ")
            && text.ends_with("1 of 1 modules running\n"),
        "{text}"
    );
    let outcome = run(
        &mut system,
        Command::Call {
            endpoint: String::from("supervisor"),
            text: String::from("restart counter"),
        },
    );
    let text = crate::supervisor::report_text::text_of(&outcome);
    assert!(
        text.starts_with("error: call supervisor: `restart counter`: no such operation; `supervisor` answers modules, processes, faults, capabilities, status"),
        "{text}"
    );
    assert_eq!(
        system.table.slots[index(&system, "counter")]
            .tracker
            .restarts,
        0
    );
}

#[test]
fn ps_shows_a_module_away_in_an_event_with_its_figures_from_before_the_event() {
    let mut system = boot(&["counter"]);
    settle(&mut system);
    for _ in 0..3 {
        queue(&mut system, "counter", b"count");
        settle(&mut system);
    }
    let row = |system: &System| {
        system
            .module_rows()
            .into_iter()
            .find(|row| row.name == "counter")
            .expect("a row")
    };
    let home = row(&system);
    assert!(home.fuel > 0 && home.memory_kib > 0);
    // The next event stays on the worker (the mock holds it): away.
    system.kernel.hold_events = true;
    queue(&mut system, "counter", b"count");
    system.step();
    assert!(system.table.slots[index(&system, "counter")].away);
    let away = row(&system);
    assert_eq!(
        (away.fuel, away.memory_kib, away.log_lines_dropped),
        (home.fuel, home.memory_kib, home.log_lines_dropped)
    );
    system.kernel.hold_events = false;
    settle(&mut system);
    assert!(
        row(&system).fuel > home.fuel,
        "the event's fuel shows once it is home"
    );
}

/// Boots `counter` and a native process `reader` granted `endpoint
/// supervisor` (with `granted`) or nothing.
fn boot_with_reader(granted: bool) -> System {
    let mut reader = ModulePlan {
        name: String::from("reader"),
        file: String::from("bin/reader"),
        ..ModulePlan::default()
    };
    if granted {
        reader
            .grants
            .push(crate::system_manifest::GrantLine::Endpoint {
                name: String::from("supervisor"),
            });
    }
    let manifest = SystemManifest {
        modules: alloc::vec![plan("counter", &[])],
        processes: alloc::vec![reader],
        ..SystemManifest::default()
    };
    let files = [("counter.wasm", module("counter", 1, Behaviour::default()))];
    let mut system = EventLoop::boot(
        mock::MockKernel::default(),
        &manifest,
        archive(&files),
        cella_wasm_host::Limits::default(),
    );
    settle(&mut system);
    system
}

/// A process's call to `supervisor` with `bytes`: its answer.
fn process_asks(
    system: &mut System,
    token: u64,
    bytes: &[u8],
) -> Result<Vec<u8>, crate::ipc::IpcError> {
    system.kernel.process_sends("supervisor", token, bytes);
    settle(system);
    system
        .kernel
        .process_answers
        .iter()
        .find(|(answered, _)| *answered == token)
        .map(|(_, answer)| answer.clone())
        .expect("the call was answered")
}

#[test]
fn a_native_process_granted_the_endpoint_reads_it_and_is_denied_commands() {
    // The endpoint is a kernel IPC endpoint whether or not a process is
    // granted it: modules call it through it too (a process reaches it
    // only through a grant, which its `lookup` checks).
    let system = boot_with_reader(false);
    assert!(system.kernel.opened.iter().any(|name| name == "supervisor"));

    let mut system = boot_with_reader(true);
    let counter = index(&system, "counter");
    let generation = system.table.slots[counter].generation;
    let mut request = [0; 64];
    let length = supervisor::status::request(&mut request).unwrap();
    for round in 0..50u64 {
        let bytes = process_asks(&mut system, 1 + round, &request[..length]).unwrap();
        let status = supervisor::status::reply(&bytes).unwrap().unwrap();
        assert_eq!((status.modules_up, status.modules_total), (1, 1));
    }
    let run = {
        let mut run = [0; 64];
        let length = supervisor::run::request(&mut run, "stop counter").unwrap();
        run[..length].to_vec()
    };
    for (token, bytes) in [
        (100, &run[..]),
        (101, b"stop counter"),
        (102, b"\xff\x00garbage"),
    ] {
        assert_eq!(
            process_asks(&mut system, token, bytes),
            Err(crate::ipc::IpcError::NoRight),
            "{bytes:?}"
        );
    }
    // A one-way message is refused, unanswered.
    system
        .kernel
        .process_sends("supervisor", 0, b"stop counter");
    settle(&mut system);
    let slot = &system.table.slots[counter];
    assert!(slot.is_running());
    assert_eq!(
        slot.generation, generation,
        "nothing stopped or restarted it"
    );
    assert!(system.router.supervisor_calls.is_empty());
    assert!(!system.operations.any());
    assert_eq!(system.kernel.process_answers.len(), 53);
}
