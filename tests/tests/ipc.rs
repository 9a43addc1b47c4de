//! IPC endpoints: 10,000 calls with checksums and none lost, back-pressure on a full queue,
//! bad tokens refused, a closed endpoint and a deadline end a waiting call.

use cella_qemu_tests::boot_scenario;

#[test]
fn ten_thousand_calls_between_kernel_threads_arrive_intact() {
    let run = boot_scenario("ipc");
    run.expect_kernel_success()
        .expect_order("ipc: 10000 calls", "scenario ipc: passed");
    run.expect_line("10000 served, 0 wrong replies, 0 failed");
    run.expect_line("ipc: a queue without a receiver took 64 messages, then: Full");
    run.expect_line("ipc: call to an endpoint closed while waiting: Some(Closed)");
    run.expect_line("ipc: call with a 3 ms deadline and no server: Some(TimedOut)");
}
