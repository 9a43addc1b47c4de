//! Booting: the test kernel reaches its main loop with a scenario and rejects an unknown
//! one; the production kernel reaches it and idles, whatever `test=` says.

use cella_qemu_tests::{BootRequest, Network, boot, boot_scenario};

const MAIN_LOOP: &str = "cella: kernel main loop reached";

#[test]
fn boot_scenario_reaches_the_main_loop_and_passes() {
    let run = boot_scenario("boot");
    run.expect_kernel_success()
        .expect_order(MAIN_LOOP, "scenario boot: passed");
}

/// What `cargo cella run` does: the production kernel, so it idles after the marker and QEMU
/// is stopped by the harness. Exiting on its own, or never printing the marker, fails. The
/// production kernel has no scenarios: `test=boot` (which the test kernel passes and exits
/// on) changes nothing.
#[test]
fn production_kernel_reaches_the_main_loop_and_idles_whatever_test_says() {
    for cmdline in ["", "test=boot"] {
        let run = boot(
            BootRequest {
                label: format!("production boot `{cmdline}`"),
                cmdline: cmdline.into(),
                initrd: None,
                stop_marker: None,
                production_kernel: true,
                disk: None,
                iommu: true,
                network: Some(Network::default()),
                at_least: None,
            }
            .until(" modules up ("),
        );
        run.expect_stopped_at_marker()
            .expect_order(MAIN_LOOP, " modules up (")
            .expect_no_line("scenario boot")
            .expect_no_line("EXCEPTION:")
            .expect_no_line("PANIC at ");
    }
}

#[test]
fn unknown_scenario_is_reported_as_a_failure() {
    let run = boot_scenario("no_such_scenario");
    run.expect_kernel_failure();
    run.expect_line("unknown test scenario 'no_such_scenario'");
}
