//! Installing a module the running system does not know, with its manifest
//! entry: checked against every module and process of the running system
//! with the one `validate`, then added and started; a refusal names the
//! rule and the holder and changes nothing.

use super::*;
use crate::module_system::services::PushRequest;
use crate::supervisor::reports::Installed;
use crate::system_manifest::GrantLine;

/// A module named `name` that requests `requests` (manifest lines such as
/// `port 0x510 2`) and counts its messages.
fn requesting(name: &str, requests: &str) -> Vec<u8> {
    let requests = requests.replace('\n', "\\n");
    wat::parse_str(format!(
        r#"(module
  (@custom "cella.manifest" "cella 1\nname {name}\nversion 0.3.0\n{requests}")
  (memory (export "memory") 1)
  (func (export "init") (result i32) (i32.const 0))
  (func (export "on_message") (param i32 i32)
    (i32.store (i32.const 0x10) (i32.add (i32.load (i32.const 0x10)) (i32.const 1)))))"#
    ))
    .expect("test module assembles")
}

/// `counter` (serving `counter`, granted port 0x3f8 8 and IRQ 4) and the
/// native process `keys` (port 0x60, IRQ 1), running.
fn running_system() -> System {
    let counter = ModulePlan {
        grants: alloc::vec![
            GrantLine::Port {
                base: 0x3f8,
                count: 8,
                shared: false
            },
            GrantLine::Irq {
                line: 4,
                shared: false
            },
        ],
        ..plan("counter", &[])
    };
    let keys = ModulePlan {
        name: String::from("keys"),
        file: String::from("bin/keys"),
        grants: alloc::vec![
            GrantLine::Port {
                base: 0x60,
                count: 1,
                shared: false
            },
            GrantLine::Irq {
                line: 1,
                shared: false
            },
        ],
        ..ModulePlan::default()
    };
    let manifest = SystemManifest {
        modules: alloc::vec![counter],
        processes: alloc::vec![keys],
        push: None,
    };
    let files = [("counter.wasm", module("counter", 1, Behaviour::default()))];
    let mut system = EventLoop::boot(
        MockKernel::default(),
        &manifest,
        archive(&files),
        Limits::default(),
    );
    settle(&mut system);
    system
}

fn install(
    system: &mut System,
    target: &str,
    entry: &str,
    bytes: Vec<u8>,
) -> Result<Report, CommandError> {
    system.run_task(Task::InstallGranted {
        target: String::from(target),
        entry: format!("cella-system 1\n{entry}"),
        bytes,
    })
}

/// The refusal's text, after checking that the system did not change.
fn refused(system: &mut System, target: &str, entry: &str, bytes: Vec<u8>) -> String {
    let modules = system.table.slots.len();
    let endpoints = system.router.endpoint_count();
    let known = system.table.find(target);
    let error = install(system, target, entry, bytes).expect_err("refused");
    assert_eq!(
        system.table.slots.len(),
        modules,
        "a refusal adds no module"
    );
    assert_eq!(system.router.endpoint_count(), endpoints, "nor an endpoint");
    assert_eq!(system.table.find(target), known);
    format!("{error}")
}

#[test]
fn a_module_with_a_fitting_entry_is_added_with_its_grant_and_started() {
    let mut system = running_system();
    let report = install(
        &mut system,
        "blink",
        "module blink installed/blink.wasm\nserve blink\ngrant port 0x510 2\ngrant endpoint counter\nlimit queue=8\n",
        requesting("blink", "port 0x510 2\nendpoint counter\n"),
    )
    .expect("installed");
    let text = crate::supervisor::report_text::text_of(&Ok(report));
    assert_eq!(
        text,
        "blink 0.3.0 installed and started: grants [port 0x510 2, endpoint counter]; serves [blink]\n"
    );
    let blink = index(&system, "blink");
    assert!(system.table.slots[blink].is_running());
    assert!(system.router.endpoint_id("blink").is_some());
    assert!(system.kernel.opened.iter().any(|name| name == "blink"));
    let Ok(Report::Capabilities {
        grants,
        serves,
        held,
        ..
    }) = run(
        &mut system,
        Command::Capabilities {
            module: String::from("blink"),
        },
    )
    else {
        panic!("caps of the installed module");
    };
    assert_eq!(grants, ["port 0x510 2", "endpoint counter"]);
    assert_eq!(serves, ["blink"]);
    // What the instance holds names its endpoints, not the sandbox's
    // numbers: the one it sends to after its request, the one it serves.
    let (_, held) = held.expect("a running instance holds capabilities");
    assert_eq!(
        held,
        [
            "port 0x510 2",
            "endpoint counter (send)",
            "endpoint blink (receive)"
        ]
    );
    // Its endpoint reaches it.
    queue(&mut system, "blink", b"hello");
    settle(&mut system);
    assert_eq!(system.table.slots[blink].events_handled, 1);
}

#[test]
fn an_entry_overlapping_a_module_a_process_or_the_kernel_is_refused_naming_the_holder() {
    let mut system = running_system();
    let bytes = || requesting("blink", "");
    let text = refused(
        &mut system,
        "blink",
        "module blink b\ngrant port 0x3fc 2\n",
        bytes(),
    );
    assert_eq!(
        text,
        "the manifest entry of blink does not fit the running system: module `counter` and module `blink` are both granted ports 0x3fc..0x3fe; mark both grants `shared = true` if they really share it; nothing changed"
    );
    let text = refused(
        &mut system,
        "blink",
        "module blink b\ngrant irq 1\n",
        bytes(),
    );
    assert!(
        text.contains("module `blink` and process `keys` are both granted IRQ 1"),
        "{text}"
    );
    let text = refused(
        &mut system,
        "blink",
        "module blink b\ngrant port 0x20 1\n",
        bytes(),
    );
    assert!(
        text.contains("port 0x20, which the kernel drives itself (the master PIC)"),
        "{text}"
    );
}

#[test]
fn an_entry_serving_a_served_endpoint_or_using_an_unknown_one_is_refused() {
    let mut system = running_system();
    let bytes = || requesting("blink", "");
    let text = refused(
        &mut system,
        "blink",
        "module blink b\nserve counter\n",
        bytes(),
    );
    assert!(
        text.contains("endpoint `counter` is served by 2 (module `counter`, module `blink`)"),
        "{text}"
    );
    let text = refused(
        &mut system,
        "blink",
        "module blink b\ngrant endpoint nowhere\n",
        bytes(),
    );
    assert!(
        text.contains("granted endpoint `nowhere`, but no module or process serves it"),
        "{text}"
    );
    // A malformed entry, or one for another name.
    let text = refused(
        &mut system,
        "blink",
        "module blink b\nlimit queue=0\n",
        bytes(),
    );
    assert!(text.contains("limit `queue` must be 1-65536"), "{text}");
    let text = refused(&mut system, "blink", "module other b\n", bytes());
    assert!(text.contains("the manifest entry is for `other`"), "{text}");
}

#[test]
fn a_module_requesting_more_than_its_entry_is_refused_and_its_endpoints_forgotten() {
    let mut system = running_system();
    let text = refused(
        &mut system,
        "blink",
        "module blink b\nserve blink\ngrant port 0x510 1\n",
        requesting("blink", "port 0x510 2\n"),
    );
    assert!(text.starts_with("refused at load"), "{text}");
    assert!(text.contains("port 0x510"), "{text}");
    assert_eq!(system.router.endpoint_id("blink"), None);
}

#[test]
fn an_unknown_name_without_an_entry_is_refused_with_the_way_to_send_one() {
    let mut system = running_system();
    system.kernel.pushes.push_back(PushRequest::Install {
        target: String::from("blink"),
        bytes: requesting("blink", ""),
        persist: false,
    });
    settle(&mut system);
    let [Err(text)] = system.kernel.push_answers.as_slice() else {
        panic!("one refusal: {:?}", system.kernel.push_answers);
    };
    assert_eq!(
        text,
        "`blink` is missing from the running system's manifest, so it has no grant; send its manifest entry with it: `cargo cella push blink --grant` (docs/push.md)"
    );
    assert!(system.table.find("blink").is_none());
}

#[test]
fn an_installed_module_is_swapped_under_its_own_entry_many_times_and_not_under_another() {
    let mut system = running_system();
    let entry = "module blink b\nserve blink\ngrant port 0x510 2\n";
    system.kernel.pushes.push_back(PushRequest::InstallGranted {
        target: String::from("blink"),
        entry: format!("cella-system 1\n{entry}"),
        bytes: module("blink", 1, Behaviour::default()),
    });
    settle(&mut system);
    assert!(
        matches!(system.kernel.push_answers.as_slice(), [Ok(text)] if text.contains("blink 1 installed")),
        "{:?}",
        system.kernel.push_answers
    );
    let modules = system.table.slots.len();
    let endpoints = system.router.endpoint_count();
    for version in 2..22 {
        let report = install(
            &mut system,
            "blink",
            entry,
            module("blink", version, Behaviour::default()),
        );
        assert!(
            matches!(report, Ok(Report::Installed(Installed::Swapped(_)))),
            "{report:?}"
        );
    }
    assert_eq!(system.table.slots.len(), modules);
    assert_eq!(system.router.endpoint_count(), endpoints);
    let text = refused(
        &mut system,
        "blink",
        "module blink b\nserve blink\ngrant port 0x510 4\n",
        requesting("blink", ""),
    );
    assert!(
        text.contains("in the running system already, under another manifest entry (grants [port 0x510 2]; serves [blink])"),
        "{text}"
    );
}

#[test]
fn a_removed_module_holds_no_grants_and_comes_back_under_a_new_entry() {
    let mut system = running_system();
    let blink = "module blink installed/blink.wasm\nserve blink\ngrant port 0x510 2\n";
    install(
        &mut system,
        "blink",
        blink,
        requesting("blink", "port 0x510 2\n"),
    )
    .expect("installed");
    // While blink runs, its ports are refused to another module.
    let lamp = "module lamp installed/lamp.wasm\ngrant port 0x510 2\n";
    let why = refused(
        &mut system,
        "lamp",
        lamp,
        requesting("lamp", "port 0x510 2\n"),
    );
    assert!(why.contains("blink"), "{why}");
    let removed = run(
        &mut system,
        Command::Remove {
            module: String::from("blink"),
            force: false,
        },
    );
    assert!(removed.is_ok(), "{removed:?}");
    // Removed, blink's ports are free: another module gets them.
    install(
        &mut system,
        "lamp",
        lamp,
        requesting("lamp", "port 0x510 2\n"),
    )
    .expect("the released ports are granted again");
    // A plain push of blink (under its old grant) is refused: lamp holds
    // those ports now.
    let plain = system.run_task(Task::Install {
        target: String::from("blink"),
        bytes: requesting("blink", "port 0x510 2\n"),
    });
    assert!(
        matches!(&plain, Err(CommandError::Refused(why)) if why.contains("lamp")),
        "{plain:?}"
    );
    // And blink comes back under an entry of its own, checked as a new one:
    // not on lamp's ports, but on others.
    let same_ports = refused(
        &mut system,
        "blink",
        blink,
        requesting("blink", "port 0x510 2\n"),
    );
    assert!(same_ports.contains("lamp"), "{same_ports}");
    let elsewhere = "module blink installed/blink.wasm\nserve blink\ngrant port 0x520 2\n";
    let slots = system.table.slots.len();
    install(
        &mut system,
        "blink",
        elsewhere,
        requesting("blink", "port 0x520 2\n"),
    )
    .expect("a removed module comes back under a new entry");
    assert_eq!(system.table.slots.len(), slots, "in its own place");
    let at = index(&system, "blink");
    assert!(system.table.slots[at].is_running());
    let Ok(Report::Capabilities { grants, .. }) = run(
        &mut system,
        Command::Capabilities {
            module: String::from("blink"),
        },
    ) else {
        panic!("caps of the module back");
    };
    assert_eq!(grants, ["port 0x520 2"]);
}

#[test]
fn a_module_whose_manifest_names_another_is_not_installed_under_the_entry() {
    let mut system = running_system();
    let why = refused(
        &mut system,
        "blink",
        "module blink installed/blink.wasm\ngrant port 0x510 2\n",
        requesting("lamp", "port 0x510 2\n"),
    );
    assert!(why.contains("the module is `lamp`, not `blink`"), "{why}");
}

#[test]
fn a_device_grant_is_resolved_against_the_functions_no_one_holds_and_refused_by_name_otherwise() {
    use cella_interfaces::pci::{Bar, BarKind, Function};
    let mut system = running_system();
    let mut disk = Function {
        device: 3,
        vendor_id: 0x1af4,
        device_id: 0x1042,
        class: 1,
        irq_line: 11,
        ..Function::default()
    };
    disk.bars[4] = Bar {
        kind: BarKind::Memory64,
        address: 0xfe00_0000,
        size: 0x4000,
        prefetchable: true,
    };
    system.kernel.pci_functions = alloc::sync::Arc::from([disk]);
    let report = install(
        &mut system,
        "disk",
        "module disk installed/disk.wasm\ngrant device 0x1af4 0x1042\n",
        requesting("disk", "pci 0x1af4 0x1042\n"),
    )
    .expect("installed");
    let text = crate::supervisor::report_text::text_of(&Ok(report));
    assert_eq!(
        text,
        "disk 0.3.0 installed and started: grants [device 0x1af4 0x1042 at 00:03.0, mmio 0xfe000000 16384, irq 11 shared]; serves []\n"
    );
    // The function is taken now: a second grant of it is refused by name.
    let text = refused(
        &mut system,
        "disk2",
        "module disk2 installed/disk2.wasm\ngrant device 0x1af4 0x1042\n",
        requesting("disk2", "pci 0x1af4 0x1042\n"),
    );
    assert_eq!(
        text,
        "disk2: no free PCI function matches its grant `device 0x1af4 0x1042`; nothing changed"
    );
    let text = refused(
        &mut system,
        "net",
        "module net installed/net.wasm\ngrant device 0x1af4 0x1041\n",
        requesting("net", "pci 0x1af4 0x1041\n"),
    );
    assert!(text.contains("`device 0x1af4 0x1041`"), "{text}");
}

#[test]
fn an_msix_vector_goes_to_the_module_granted_its_function_and_nowhere_else() {
    use crate::module_system::slot::Pending;
    use cella_interfaces::pci::Function;
    use cella_wasm_host::abi::PciAddress;
    let mut system = running_system();
    let disk = Function {
        device: 3,
        vendor_id: 0x1af4,
        device_id: 0x1042,
        class: 1,
        irq_line: 11,
        ..Function::default()
    };
    system.kernel.pci_functions = alloc::sync::Arc::from([disk]);
    install(
        &mut system,
        "disk",
        "module disk installed/disk.wasm\ngrant device 0x1af4 0x1042\n",
        requesting("disk", "pci 0x1af4 0x1042\n"),
    )
    .expect("installed");
    let holder = index(&system, "disk");
    let at = PciAddress::new(0, 3, 0).unwrap();
    for round in 0..20u8 {
        let line = 16 + round % 4;
        system.kernel.msix_lines = alloc::vec![(line, at)];
        // The vector and a line nobody holds fire together.
        system.kernel.pending_irqs = 1 << line | 1 << 5;
        system.table.slots[holder].inbox.clear();
        system.collect_interrupts();
        let inbox: Vec<_> = system.table.slots[holder].inbox.iter().collect();
        assert!(
            matches!(inbox.as_slice(), [Pending::Irq(held)] if *held == line),
            "round {round}: {} events",
            inbox.len()
        );
        for (index, slot) in system.table.slots.iter().enumerate() {
            if index != holder {
                assert!(
                    !slot
                        .inbox
                        .iter()
                        .any(|event| matches!(event, Pending::Irq(_))),
                    "round {round}: {} got an interrupt",
                    slot.plan.name
                );
            }
        }
    }
    // A vector of a function no module holds goes nowhere.
    system.kernel.msix_lines = alloc::vec![(20, PciAddress::new(0, 9, 0).unwrap())];
    system.kernel.pending_irqs = 1 << 20;
    system.table.slots[holder].inbox.clear();
    system.collect_interrupts();
    assert!(system.table.slots[holder].inbox.is_empty());
}

#[test]
fn a_shared_legacy_line_goes_to_every_holder_and_stays_with_the_one_left() {
    use crate::module_system::slot::Pending;
    use cella_interfaces::pci::Function;
    let mut system = running_system();
    let function = |device: u8, device_id: u16| Function {
        device,
        vendor_id: 0x1af4,
        device_id,
        irq_line: 11,
        ..Function::default()
    };
    system.kernel.pci_functions =
        alloc::sync::Arc::from([function(2, 0x1042), function(3, 0x1041)]);
    for (name, id) in [("disk", "0x1042"), ("card", "0x1041")] {
        install(
            &mut system,
            name,
            &format!("module {name} installed/{name}.wasm\ngrant device 0x1af4 {id}\n"),
            requesting(name, &format!("pci 0x1af4 {id}\n")),
        )
        .expect("installed");
    }
    let holders = [index(&system, "disk"), index(&system, "card")];
    for round in 0..10 {
        for &holder in &holders {
            system.table.slots[holder].inbox.clear();
        }
        system.kernel.awaited_acknowledgements.clear();
        system.kernel.pending_irqs = 1 << 11;
        system.collect_interrupts();
        for &holder in &holders {
            let inbox: Vec<_> = system.table.slots[holder].inbox.iter().collect();
            assert!(
                matches!(inbox.as_slice(), [Pending::Irq(11)]),
                "round {round}: {} has {} events",
                system.table.slots[holder].plan.name,
                inbox.len()
            );
        }
        assert_eq!(
            system.kernel.awaited_acknowledgements,
            [(11, 2)],
            "round {round}"
        );
    }
    // The card goes away: the disk keeps the line, acknowledged for the card.
    run(&mut system, stop("card")).expect("stopped");
    assert_eq!(system.kernel.acknowledged_for_the_gone, [11]);
    assert!(!system.kernel.revoked.contains(&11));
    system.kernel.pending_irqs = 1 << 11;
    system.table.slots[holders[0]].inbox.clear();
    system.kernel.awaited_acknowledgements.clear();
    system.collect_interrupts();
    assert!(matches!(
        system.table.slots[holders[0]]
            .inbox
            .iter()
            .collect::<Vec<_>>()
            .as_slice(),
        [Pending::Irq(11)]
    ));
    assert_eq!(system.kernel.awaited_acknowledgements, [(11, 1)]);
    // The last holder goes: the line is revoked.
    run(&mut system, stop("disk")).expect("stopped");
    assert!(system.kernel.revoked.contains(&11));
}
