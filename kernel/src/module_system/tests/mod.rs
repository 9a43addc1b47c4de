//! Host tests of the module system, with the kernel mocked ([`mock`]): the
//! module table, the event loop and the supervisor's decisions carried out
//! on real Wasm modules (written in WAT below) in the Wasm host.

mod calls;
mod command_calls;
mod commands;
mod disk_files;
mod inspection;
mod install;
mod lifecycle;
mod loans;
mod mock;
mod process_calls;
mod process_path;
mod prompt;
mod remote;
mod replay;
mod swap;
mod waiting;

use super::event_loop::EventLoop;
use super::operations::{Requester, Task};
use super::router::KernelRequest;
use super::slot::Pending;
use crate::archive::Archive;
use crate::supervisor::command_line::Command;
use crate::supervisor::reports::{CommandError, Report};
use crate::system_manifest::{ModulePlan, SystemManifest};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use cella_wasm_host::Limits;
use mock::MockKernel;

/// The module system over the mock kernel.
type System = EventLoop<MockKernel>;

/// How a test module behaves besides counting messages.
#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// `init` returns non-zero (the start fails).
    init_fails: bool,
    /// `save_state` traps.
    save_traps: bool,
    /// `restore_state` refuses the state.
    restore_refuses: bool,
    /// Asks for more linear memory than the limits allow (instantiation fails).
    too_much_memory: bool,
}

/// A module that counts its messages; a message of exactly 4 bytes (`trap`)
/// makes it trap, so other test messages have other lengths. A
/// request is answered with (count, version). Its state is the count.
fn module(name: &str, version: u32, behaviour: Behaviour) -> Vec<u8> {
    let init = if behaviour.init_fails { 1 } else { 0 };
    let save = if behaviour.save_traps {
        "unreachable"
    } else {
        ""
    };
    let restore = if behaviour.restore_refuses {
        "(return (i32.const 5))"
    } else {
        ""
    };
    let pages = if behaviour.too_much_memory { 60000 } else { 1 };
    let text = format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname {name}\nversion {version}\nstate 1\n")
  (import "cella" "ipc_reply" (func $ipc_reply (param i32 i32 i32) (result i32)))
  (memory (export "memory") {pages})
  (func (export "init") (result i32)
    (i32.store (i32.const 0x14) (i32.const {version}))
    (i32.const {init}))
  (func (export "on_message") (param $request i32) (param $length i32)
    (if (i32.eq (local.get $length) (i32.const 4)) (then unreachable))
    (i32.store (i32.const 0x10) (i32.add (i32.load (i32.const 0x10)) (i32.const 1)))
    (if (local.get $request)
      (then (drop (call $ipc_reply (local.get $request) (i32.const 0x10) (i32.const 8))))))
  (func (export "save_state") (result i64)
    {save}
    (i32.store (i32.const 0x40) (i32.load (i32.const 0x10)))
    (i64.or (i64.shl (i64.const 4) (i64.const 32)) (i64.const 0x40)))
  (func (export "state_buffer") (param $length i32) (result i32) (i32.const 0x80))
  (func (export "restore_state") (param $pointer i32) (param $length i32) (param $version i32) (result i32)
    {restore}
    (i32.store (i32.const 0x10) (i32.load (local.get $pointer)))
    (i32.store (i32.const 0x14) (i32.const {version}))
    (i32.const 0)))"#
    );
    wat::parse_str(text).expect("test module assembles")
}

/// A boot archive holding `files`, kept for the rest of the test run.
fn archive(files: &[(&str, Vec<u8>)]) -> Archive<'static> {
    let bytes: &'static [u8] = Box::leak(crate::archive::tests::build(files).into_boxed_slice());
    Archive::new(bytes)
}

/// A plan for module `name` in `NAME.wasm`, serving endpoint `NAME`, with
/// `restart` settings.
fn plan(name: &str, restart: &[(&str, &str)]) -> ModulePlan {
    ModulePlan {
        name: String::from(name),
        file: format!("{name}.wasm"),
        serves: alloc::vec![String::from(name)],
        restart: restart
            .iter()
            .map(|(key, value)| (String::from(*key), String::from(*value)))
            .collect(),
        ..ModulePlan::default()
    }
}

/// Boots `plans` with their files (version 1 of each, behaving as given)
/// plus `extra` files in the archive.
fn boot_with(plans: Vec<(ModulePlan, Behaviour)>, extra: &[(&str, Vec<u8>)]) -> System {
    let mut files: Vec<(String, Vec<u8>)> = plans
        .iter()
        .map(|(plan, behaviour)| (plan.file.clone(), module(&plan.name, 1, *behaviour)))
        .collect();
    files.extend(
        extra
            .iter()
            .map(|(path, bytes)| (String::from(*path), bytes.clone())),
    );
    boot_files(plans.into_iter().map(|(plan, _)| plan).collect(), &files)
}

/// Boots the modules `plans` with the archive holding `files`.
fn boot_files(plans: Vec<ModulePlan>, files: &[(String, Vec<u8>)]) -> System {
    let named: Vec<(&str, Vec<u8>)> = files
        .iter()
        .map(|(path, bytes)| (path.as_str(), bytes.clone()))
        .collect();
    let manifest = SystemManifest {
        modules: plans,
        ..SystemManifest::default()
    };
    EventLoop::boot(
        MockKernel::default(),
        &manifest,
        archive(&named),
        Limits::default(),
    )
}

/// Boots modules `names`, each well behaved, with the default policy.
fn boot(names: &[&str]) -> System {
    boot_with(
        names
            .iter()
            .map(|name| (plan(name, &[]), Behaviour::default()))
            .collect(),
        &[],
    )
}

/// A module `console` serving `uart`, the endpoint console output goes to,
/// booted and settled: the console's driver.
fn boot_console_driver() -> System {
    let mut system = boot_with(
        alloc::vec![(
            ModulePlan {
                serves: alloc::vec![String::from("uart")],
                ..plan("console", &[])
            },
            Behaviour::default()
        )],
        &[],
    );
    settle(&mut system);
    system
}

/// Steps until nothing happens (at most `limit` turns).
fn settle(system: &mut System) {
    for _ in 0..10_000 {
        if !system.step() {
            return;
        }
    }
    panic!("the event loop never came to rest");
}

/// Module `name`'s index.
fn index(system: &System, name: &str) -> usize {
    system.table.find(name).expect("module in the table")
}

/// Queues a message of `bytes` for module `name` (no reply expected).
fn queue(system: &mut System, name: &str, bytes: &[u8]) {
    let at = index(system, name);
    system.table.slots[at].inbox.push_back(Pending::Message {
        request: 0,
        bytes: bytes.to_vec(),
    });
}

/// Routes what modules sent and called, and moves what the endpoints'
/// queues hold into the servers' inboxes, without lending any event.
fn route_without_lending(system: &mut System) {
    system.take_completed();
    system.route_queued();
}

/// Steps until module `caller`'s call reaches module `server`'s inbox,
/// where it waits: no event of `server` is lent.
fn step_until_queued_for(system: &mut System, server: &str) {
    let at = index(system, server);
    for _ in 0..100 {
        route_without_lending(system);
        if !system.table.slots[at].inbox.is_empty() {
            return;
        }
        system.step();
    }
    panic!("nothing reached {server}");
}

/// A process's call to module `name`'s endpoint with reply token `token`.
fn process_call(system: &mut System, name: &str, token: u64, bytes: &[u8]) {
    system.kernel.process_sends(name, token, bytes);
}

/// Asks module `name` through a process's call: its answer (the count of
/// messages it handled, this one included, and its version), or the error
/// the call got.
fn ask(system: &mut System, name: &str) -> Result<(u32, u32), crate::ipc::IpcError> {
    let token = 1000 + system.kernel.process_answers.len() as u64;
    process_call(system, name, token, b"how many?");
    settle(system);
    let (_, answer) = system
        .kernel
        .process_answers
        .iter()
        .find(|(answered, _)| *answered == token)
        .cloned()
        .expect("the call was answered");
    answer.map(|bytes| {
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        (word(0), word(4))
    })
}

/// Runs `command` to its end.
fn run(system: &mut System, command: Command) -> Result<Report, CommandError> {
    system.run_command(command)
}

/// `restart`/`stop`/`start`/`swap` commands by name.
fn restart(name: &str) -> Command {
    Command::Restart {
        module: String::from(name),
    }
}

fn stop(name: &str) -> Command {
    Command::Stop {
        module: String::from(name),
        force: false,
    }
}

fn start(name: &str) -> Command {
    Command::Start {
        module: String::from(name),
    }
}

fn swap(name: &str, file: &str) -> Command {
    Command::Swap {
        module: String::from(name),
        file: String::from(file),
        force: false,
    }
}

/// Submits `command` from kernel code without driving the loop.
fn submit(system: &mut System, command: Command) -> u64 {
    system.submit(Requester::Kernel, Task::Command(command))
}

/// A kernel request to module `name` whose reply is kept.
fn kernel_request(system: &mut System, name: &str) -> u32 {
    let at = index(system, name);
    let request = system.router.new_request(at, KernelRequest::Time);
    system.table.slots[at].inbox.push_back(Pending::Message {
        request,
        bytes: b"time?".to_vec(),
    });
    request
}
