//! Scheduling: preemption shares the CPU between CPU-bound threads, priorities hold, and a
//! sleeping thread wakes at the first timer tick after its deadline even under load.

use cella_qemu_tests::boot_scenario;

#[test]
fn two_cpu_bound_threads_both_progress_under_preemption() {
    let run = boot_scenario("threads");
    run.expect_kernel_success()
        .expect_order("threads: spin-a=", "scenario threads: passed");
    let line = run.expect_line("threads: spin-a=");
    if !line.contains("progressed in 10/10") && !line.contains("progressed in 9/10") {
        run.fail(format!(
            "`{line}`: the first thread did not progress in every window"
        ));
    }
    run.expect_line("spin-low=0 while they ran");
    run.expect_line("after the normal threads ended; 2 threads left");
}

#[test]
fn sleeping_thread_wakes_within_one_tick_of_its_deadline() {
    let run = boot_scenario("sleep");
    run.expect_kernel_success()
        .expect_order("sleep: 60 sleeps under load", "scenario sleep: passed");
    run.expect_line("0 not woken by the first tick after the deadline; 0 early");
}
