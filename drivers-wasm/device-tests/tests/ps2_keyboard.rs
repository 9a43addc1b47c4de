//! The ps2-keyboard driver against an i8042 model.

use cella_device_tests::models::Ps2Controller;
use cella_device_tests::{TestSandbox, console_inputs, endpoints, log_messages, start};
use cella_wasm_host::{Event, Grant, SimulatedPlatform};

fn boot(configuration: u8) -> (SimulatedPlatform, Ps2Controller, TestSandbox) {
    let platform = SimulatedPlatform::new();
    let controller = Ps2Controller::new(configuration);
    platform.attach_ports(0x60, 1, controller.data_port());
    platform.attach_ports(0x64, 1, controller.control_port());
    let grant = Grant::new()
        .port_range(0x60, 1)
        .port_range(0x64, 1)
        .irq_line(1)
        .endpoint("console", endpoints::CONSOLE);
    let sandbox = start("cella-ps2-keyboard", &grant, &platform);
    (platform, controller, sandbox)
}

/// The keyboard sends `scancodes`; interrupts are delivered while pending.
/// Returns the text the console received.
fn type_codes(controller: &Ps2Controller, sandbox: &mut TestSandbox, scancodes: &[u8]) -> String {
    controller.press(scancodes);
    for _ in 0..1000 {
        if !controller.interrupt_pending() {
            break;
        }
        sandbox.deliver(Event::Irq { line: 1 }).unwrap();
    }
    assert_eq!(controller.pending_output(), 0);
    console_inputs(&sandbox.outbox().drain(), endpoints::CONSOLE).concat()
}

/// Press and release of one key.
fn tap(code: u8) -> [u8; 2] {
    [code, code | 0x80]
}

#[test]
fn init_turns_on_interrupt_translation_and_the_keyboard() {
    // Firmware left the keyboard clock off, no interrupt, no translation.
    let (platform, controller, _sandbox) = boot(0x10);
    assert_eq!(controller.commands(), [0x20, 0x60, 0xae]);
    assert_eq!(controller.configuration(), 0x41);
    assert!(platform.irq_enabled(1));
    assert_eq!(log_messages(&platform), ["ready"]);
}

#[test]
fn init_drops_stale_bytes() {
    let platform = SimulatedPlatform::new();
    let controller = Ps2Controller::new(0x41);
    controller.press(&[0x1e, 0x9e]);
    platform.attach_ports(0x60, 1, controller.data_port());
    platform.attach_ports(0x64, 1, controller.control_port());
    let grant = Grant::new()
        .port_range(0x60, 1)
        .port_range(0x64, 1)
        .irq_line(1)
        .endpoint("console", endpoints::CONSOLE);
    let sandbox = start("cella-ps2-keyboard", &grant, &platform);
    assert_eq!(controller.configuration(), 0x41);
    assert_eq!(controller.pending_output(), 0);
    assert!(sandbox.outbox().is_empty());
}

#[test]
fn letters_digits_shift_space_and_enter() {
    let (_platform, controller, mut sandbox) = boot(0x41);
    let mut codes = vec![0x2a]; // left shift down
    codes.extend(tap(0x23)); // H
    codes.push(0xaa); // left shift up
    for code in [0x12, 0x26, 0x26, 0x18, 0x39, 0x05, 0x03] {
        codes.extend(tap(code)); // e l l o space 4 2
    }
    codes.push(0x36); // right shift down
    codes.extend(tap(0x02)); // !
    codes.push(0xb6); // right shift up
    codes.extend(tap(0x1c)); // enter
    assert_eq!(type_codes(&controller, &mut sandbox, &codes), "Hello 42!\n");
}

#[test]
fn backspace_caps_lock_control_and_extended_codes() {
    let (_platform, controller, mut sandbox) = boot(0x41);
    let mut codes = Vec::new();
    codes.extend(tap(0x1e)); // a
    codes.extend(tap(0x0e)); // backspace
    codes.extend(tap(0x3a)); // caps lock on
    codes.extend(tap(0x1f)); // S
    codes.extend(tap(0x3a)); // caps lock off
    codes.extend([0xe0, 0x2a, 0xe0, 0x48, 0xe0, 0xc8, 0xe0, 0xaa]); // cursor up with fake shifts
    codes.extend(tap(0x1f)); // s (the fake shift did not stick)
    codes.extend([0x1d, 0x2e, 0xae, 0x9d]); // ctrl-c
    codes.extend([0xe0, 0x1c, 0xe0, 0x9c]); // keypad enter
    codes.extend([0x7f, 0x00, 0x59, 0xd9]); // codes without characters
    assert_eq!(
        type_codes(&controller, &mut sandbox, &codes),
        "a\x08Ss\x03\n"
    );
}

#[test]
fn every_byte_is_harmless() {
    let (_platform, controller, mut sandbox) = boot(0x41);
    let codes: Vec<u8> = (0..=255u8).collect();
    type_codes(&controller, &mut sandbox, &codes);
    assert!(sandbox.is_alive());
}
