//! The prompt's server (the server of `console`) is told to draw its prompt
//! again after the kernel's console output reached the terminal's driver
//! (the server of `uart`): once per pass of the loop however many lines went
//! out, never for a module's own output, never while it is traced, and never
//! before the boot is done.

use super::*;
use crate::module_system::router::KERNEL_SENDER;
use crate::module_system::services::Routed;

/// Queues `lines` of console output from `from` to the `uart` endpoint.
fn output(system: &mut System, from: &str, lines: usize) {
    let uart = system.router.endpoint_id("uart").expect("uart endpoint");
    for _ in 0..lines {
        system.kernel.outbox.0.borrow_mut().push_back(Routed::Send {
            from: String::from(from),
            endpoint: uart,
            bytes: b"INFO  test: a line\r\n".to_vec(),
        });
    }
}

/// Messages the `console` module has handled, the question itself left out.
fn console_messages(system: &mut System) -> u32 {
    ask(system, "console").expect("console answers").0 - 1
}

#[test]
fn kernel_output_draws_the_prompt_again_once_per_pass() {
    let mut system = boot(&["uart", "console"]);
    settle(&mut system);
    let mut expected = console_messages(&mut system) + 1;
    for round in 0..20 {
        output(&mut system, KERNEL_SENDER, 3);
        settle(&mut system);
        // One notice for the three lines, then the question.
        expected += 2;
        assert_eq!(console_messages(&mut system) + 1, expected, "round {round}");
    }
}

#[test]
fn a_modules_own_output_a_traced_console_and_the_boot_draw_nothing() {
    let mut system = boot(&["uart", "console"]);
    settle(&mut system);
    let before = console_messages(&mut system);
    for _ in 0..10 {
        output(&mut system, "console", 2);
        settle(&mut system);
    }
    // Only the questions themselves were added.
    assert_eq!(console_messages(&mut system), before + 1);
    // A traced console is not told: its redraw's trace would tell it again.
    let console = index(&system, "console");
    system.table.slots[console].tracing = true;
    output(&mut system, KERNEL_SENDER, 5);
    settle(&mut system);
    assert_eq!(console_messages(&mut system), before + 2);
    system.table.slots[console].tracing = false;
    system.prompt_allowed = false;
    output(&mut system, KERNEL_SENDER, 5);
    settle(&mut system);
    assert_eq!(console_messages(&mut system), before + 3);
}

#[test]
fn the_notice_is_the_console_interfaces_redraw() {
    let mut system = boot(&["uart", "console"]);
    settle(&mut system);
    let console = index(&system, "console");
    for round in 0..20 {
        system.router.console_written = true;
        system.redraw_prompt_after_output();
        let Some(Pending::Message { request: 0, bytes }) = system.table.slots[console].inbox.back()
        else {
            panic!("round {round}: no notice queued");
        };
        let mut redraw = [0; 16];
        let length = cella_interfaces::console::redraw::request(&mut redraw).unwrap();
        assert_eq!(bytes.as_slice(), &redraw[..length], "round {round}");
        settle(&mut system);
    }
}
