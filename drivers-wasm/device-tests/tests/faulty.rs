//! The deliberately faulty teaching module: the SDK's panic handler logs and
//! traps, a runaway loop runs out of fuel, an access outside the grant is
//! refused, and each fault stays inside the sandbox.

use cella_abi::{ErrorCode, HostFunction};
use cella_device_tests::{log_messages, wasm};
use cella_wasm_host::{
    Access, Attempt, Event, FaultKind, Grant, Limits, Place, QueueOutbox, Runtime,
    SimulatedPlatform, TrapCode, Width,
};

fn runtime_and_platform() -> (
    Runtime<SimulatedPlatform, QueueOutbox>,
    SimulatedPlatform,
    cella_wasm_host::LoadedModule,
) {
    let runtime = Runtime::new(Limits::default());
    let module = runtime
        .load(
            "faulty",
            &wasm("cella-faulty"),
            &Grant::new().port_range(0x80, 1),
        )
        .unwrap();
    (runtime, SimulatedPlatform::new(), module)
}

fn request(bytes: &[u8]) -> Event<'_> {
    Event::Message { request: 1, bytes }
}

#[test]
fn a_panic_is_logged_then_trapped_and_the_module_restarts() {
    let (mut runtime, platform, module) = runtime_and_platform();
    let mut sandbox = runtime
        .start(&module, platform.clone(), QueueOutbox::new(8))
        .unwrap();
    let fault = sandbox.deliver(request(b"panic")).unwrap_err();
    assert_eq!(
        fault.kind,
        FaultKind::Trap(TrapCode::UnreachableCodeReached)
    );
    let log = log_messages(&platform);
    assert!(
        log[0].starts_with("panic at modules/faulty/src/lib.rs:")
            && log[0].ends_with(": deliberate panic on request"),
        "{log:?}"
    );
    assert!(!sandbox.is_alive());
    runtime.restart(&mut sandbox).unwrap();
    sandbox.deliver(request(b"hello")).unwrap();
    assert!(sandbox.is_alive());
}

#[test]
fn a_runaway_loop_runs_out_of_fuel() {
    let (mut runtime, platform, module) = runtime_and_platform();
    let mut sandbox = runtime
        .start(&module, platform, QueueOutbox::new(8))
        .unwrap();
    let fault = sandbox.deliver(request(b"spin")).unwrap_err();
    assert!(
        matches!(fault.kind, FaultKind::OutOfFuel { .. }),
        "{fault:?}"
    );
}

#[test]
fn an_access_outside_the_grant_is_refused_not_performed() {
    let (mut runtime, platform, module) = runtime_and_platform();
    let mut sandbox = runtime
        .start(&module, platform.clone(), QueueOutbox::new(8))
        .unwrap();
    sandbox.deliver(request(b"trespass")).unwrap();
    assert!(sandbox.is_alive());
    assert!(
        platform.accesses().is_empty(),
        "nothing reached the hardware"
    );
    let refusal = Access::Refused {
        function: HostFunction::PortOut8,
        error: ErrorCode::Denied,
        attempt: Some(Attempt {
            write: true,
            place: Place::Port(0x81),
            width: Width::Byte,
            count: 1,
        }),
    };
    assert!(sandbox.recent_accesses().contains(&refusal));
    assert_eq!(
        refusal.to_string(),
        "refused write port 0x81 1 (port_out8): denied"
    );
    // The module's log names the port and the width too.
    assert!(
        log_messages(&platform)
            .iter()
            .any(|line| line.starts_with("refused port_out8 write port 0x81 1: denied")),
        "{:?}",
        log_messages(&platform)
    );
    assert!(
        log_messages(&platform)
            .iter()
            .any(|line| line == "trespass answered with Err(Denied)"),
        "{:?}",
        log_messages(&platform)
    );
}
