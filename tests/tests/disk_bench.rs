//! The disk benchmark's scenario runs as `cargo cella bench` runs it: the Wasm virtio-blk
//! driver writes and reads 4 MiB and does 400 random reads, with the figures printed in
//! the form the tool reads.

use cella_qemu_tests::boot_scenario;

#[test]
fn the_disk_benchmark_measures_the_wasm_driver() {
    let run = boot_scenario("disk_bench");
    run.expect_kernel_success();
    for operation in [
        "seq-write 4193280 bytes in ",
        "seq-read 4193280 bytes in ",
        "random-read 400 reads in ",
    ] {
        let line = run.expect_line(&format!("disk_bench: wasm {operation}"));
        let nanoseconds = line
            .split_whitespace()
            .rev()
            .nth(1)
            .and_then(|word| word.parse::<u64>().ok());
        if nanoseconds.is_none_or(|nanoseconds| nanoseconds == 0) {
            run.fail(format!("`{line}`: no time"));
        }
    }
    run.expect_line("scenario disk_bench: passed");
}
