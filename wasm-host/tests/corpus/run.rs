//! One fuzz input through everything a module goes through: load (by the
//! runtime or by the hot-swap preparer), start, every kind of event, save,
//! and hot swaps in both directions with a partner module. Returns a short
//! outcome label; any panic fails the test.

use cella_wasm_host::{
    Event, Grant, LoadedModule, QueueOutbox, Runtime, Sandbox, SimulatedPlatform,
};

pub type Host = Runtime<SimulatedPlatform, QueueOutbox>;
type Running = Sandbox<SimulatedPlatform, QueueOutbox>;

/// What an input runs with.
pub struct Setting<'a> {
    pub grant: &'a Grant,
    pub platform: &'a dyn Fn() -> SimulatedPlatform,
    /// The module swapped to and from (the unmutated seed, or a counter).
    pub partner: &'a LoadedModule,
    /// Load through the runtime's `Preparer` instead of `Runtime::load`.
    pub through_preparer: bool,
}

fn variant(debug: String) -> String {
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("")
        .to_string()
}

fn events(sandbox: &mut Running) -> Result<(), String> {
    let events = [
        Event::Irq { line: 4 },
        Event::Message {
            request: 1,
            bytes: b"fuzz",
        },
        Event::Timer,
        Event::Message {
            request: 0,
            bytes: &[0xff; 64],
        },
    ];
    for event in events {
        if let Err(fault) = sandbox.deliver(event) {
            assert!(!sandbox.is_alive());
            return Err(variant(format!("{:?}", fault.kind)));
        }
    }
    Ok(())
}

/// Swaps `sandbox` to `to`; on failure the old instance must still run.
fn swap(runtime: &mut Host, sandbox: &mut Running, to: &LoadedModule) -> &'static str {
    match runtime.swap(sandbox, to) {
        Ok(()) => match events(sandbox) {
            Ok(()) => "ok",
            Err(_) => "ok, then faulted",
        },
        Err(_) => {
            assert!(
                sandbox.is_alive(),
                "a failed swap must leave the old instance"
            );
            "refused"
        }
    }
}

/// Loads and runs `wasm`; returns a short outcome label.
pub fn run(runtime: &mut Host, wasm: &[u8], setting: &Setting<'_>) -> String {
    let loaded = if setting.through_preparer {
        runtime.preparer().load("fuzz", wasm, setting.grant)
    } else {
        runtime.load("fuzz", wasm, setting.grant)
    };
    let module = match loaded {
        Ok(module) => module,
        Err(error) => {
            if std::env::var_os("CELLA_FUZZ_VERBOSE").is_some() {
                eprintln!("load error: {error}");
            }
            return format!("load error: {}", variant(format!("{:?}", error.kind)));
        }
    };
    let platform = (setting.platform)();
    let mut outcome = match runtime.start(&module, platform.clone(), QueueOutbox::new(8)) {
        Ok(mut sandbox) => {
            platform.set_now(u64::MAX / 2);
            match events(&mut sandbox) {
                Err(fault) => format!("fault in event: {fault}"),
                Ok(()) => {
                    let saved = match sandbox.save_state() {
                        Ok(_) => "ran every event and saved".to_string(),
                        Err(fault) => {
                            format!("ran, save failed: {}", variant(format!("{:?}", fault.kind)))
                        }
                    };
                    if sandbox.is_alive() {
                        let back = swap(runtime, &mut sandbox, setting.partner);
                        format!("{saved}; swap out {back}")
                    } else {
                        saved
                    }
                }
            }
        }
        Err(fault) => format!("fault in init: {}", variant(format!("{:?}", fault.kind))),
    };
    // Swapped in under a running partner, and (if that worked) back out.
    let platform = (setting.platform)();
    if let Ok(mut partner) = runtime.start(setting.partner, platform, QueueOutbox::new(8)) {
        let into = swap(runtime, &mut partner, &module);
        outcome.push_str(&format!("; swap in {into}"));
        if into != "refused" && partner.is_alive() {
            outcome.push_str(&format!(
                ", back {}",
                swap(runtime, &mut partner, setting.partner)
            ));
        }
    }
    outcome
}
