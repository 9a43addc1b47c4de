//! IPC endpoints: 10,000 calls with checksums and none lost, back-pressure on a full queue,
//! bad tokens refused, a closed endpoint and a deadline end a waiting call; the calls kernel
//! code opens without blocking (`ipc::call_watched`) answered, failed, closed and withdrawn.

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
    run.expect_line("ipc: messages queued after the timed-out call: Ok(0)");
}

#[test]
fn calls_kernel_code_makes_without_blocking_are_answered_by_token_and_leave_nothing() {
    let run = boot_scenario("ipc");
    run.expect_kernel_success();
    run.expect_line("watched calls: 1000 answered by token, 1000 announced");
    run.expect_line("watched calls: a call its receiver failed: answered Full");
    run.expect_line(
        "watched calls: a full queue refused the next call; the endpoint closed with 64 calls open (1 received): each answered Closed",
    );
    run.expect_line("watched calls: a call withdrawn while queued left the queue");
    run.expect_line("watched calls: the reply to a withdrawn call was refused: BadToken");
    run.expect_line("watched calls: 0 open and 0 answers kept at the end");
}
