//! Booting: the kernel reaches its main loop, with and without a scenario, and rejects an
//! unknown scenario.

use cella_qemu_tests::{BootRequest, boot, boot_scenario};

const MAIN_LOOP: &str = "cella: kernel main loop reached";

#[test]
fn boot_scenario_reaches_the_main_loop_and_passes() {
    let run = boot_scenario("boot");
    run.expect_kernel_success()
        .expect_order(MAIN_LOOP, "scenario boot: passed");
}

/// What `cargo cella run` does: no `test=`, so the kernel idles after the marker and QEMU is
/// stopped by the harness. Exiting on its own, or never printing the marker, fails.
#[test]
fn plain_boot_reaches_the_main_loop_and_idles() {
    let run = boot(
        BootRequest {
            label: "plain boot".into(),
            cmdline: String::new(),
            initrd: None,
            stop_marker: None,
        }
        .until(MAIN_LOOP),
    );
    run.expect_stopped_at_marker()
        .expect_no_line("EXCEPTION:")
        .expect_no_line("PANIC at ");
}

#[test]
fn unknown_scenario_is_reported_as_a_failure() {
    let run = boot_scenario("no_such_scenario");
    run.expect_kernel_failure();
    run.expect_line("unknown test scenario 'no_such_scenario'");
}
