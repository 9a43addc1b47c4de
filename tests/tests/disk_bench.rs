//! The disk benchmark's scenario runs as `cargo cella bench` runs it: the Wasm virtio-blk
//! driver writes and reads 64 MiB in 64 KiB requests and does 400 random 4 KiB reads, each
//! request's payload in a buffer lent with the call, with the figures printed in the form
//! the tool reads, and no buffer is left on loan.

use cella_qemu_tests::boot_scenario;

#[test]
fn the_disk_benchmark_measures_the_wasm_driver() {
    let run = boot_scenario("disk_bench");
    run.expect_kernel_success();
    for (operation, request) in [
        ("seq-write 67108864 bytes in ", 65536),
        ("seq-read 67108864 bytes in ", 65536),
        ("random-read 400 reads in ", 4096),
    ] {
        let line = run.expect_line(&format!("disk_bench: wasm {operation}"));
        let nanoseconds = line
            .split(" in ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|word| word.parse::<u64>().ok());
        if nanoseconds.is_none_or(|nanoseconds| nanoseconds == 0) {
            run.fail(format!("`{line}`: no time"));
        }
        if !line
            .trim_end()
            .ends_with(&format!("ns, requests of {request} bytes"))
        {
            run.fail(format!("`{line}`: not in requests of {request} bytes"));
        }
    }
    run.expect_line("scenario disk_bench: passed");
}
