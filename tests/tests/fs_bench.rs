//! The file-system benchmark's scenario runs as `cargo cella bench` runs it, on less work
//! (40 files of 4 KiB and one file of 512 KiB instead of 1,000 and 16 MiB, which take many
//! minutes under TCG): on a copy of the FAT32 file-system image, the `fs` module writes and
//! reads the files back through the module system, each checked by checksum, prints the four
//! phases in the form the tool reads, and removes its files: after QEMU exits,
//! `fsck.vfat -n` finds the volume clean and the files gone.

use cella::fs_image::README_PATH;
use cella_qemu_tests::{BootRequest, Disk, boot};
use std::time::Duration;

/// The boot's time under TCG on a loaded machine.
const BENCH_TIME: Duration = Duration::from_secs(300);

#[test]
fn the_file_system_benchmark_measures_the_fs_module() {
    let disk = Disk::file_system_for("fs-bench");
    let readme = disk
        .read_file(README_PATH)
        .unwrap_or_else(|error| panic!("the image has no {README_PATH}: {error}"));
    let run = boot(
        BootRequest {
            cmdline: "test=fs_bench files=40 large_kib=512".into(),
            ..BootRequest::scenario("fs_bench")
        }
        .with_disk(&disk)
        .at_least(BENCH_TIME),
    );
    run.expect_kernel_success();
    for phase in [
        "fs-small-write 40 files in ",
        "fs-small-read 40 files in ",
        "fs-large-write 524288 bytes in ",
        "fs-large-read 524288 bytes in ",
    ] {
        let line = run.expect_line(&format!("fs_bench: {phase}"));
        let nanoseconds = line
            .split(" in ")
            .nth(1)
            .and_then(|rest| rest.trim_end().strip_suffix(" ns"))
            .and_then(|word| word.trim().parse::<u64>().ok());
        if nanoseconds.is_none_or(|nanoseconds| nanoseconds == 0) {
            run.fail(format!("`{line}`: no time in nanoseconds"));
        }
    }
    run.expect_line("scenario fs_bench: passed");
    // What each phase cost the modules on the way.
    for phase in ["small-write", "small-read", "large-write", "large-read"] {
        for module in ["fs", "virtio-blk"] {
            run.expect_line(&format!("fs_bench: cost of fs-{phase} to {module}: "));
        }
    }
    // The figures, shown with `--nocapture`.
    for line in run.lines().filter(|line| line.starts_with("fs_bench: ")) {
        println!("{line}");
    }
    let verdict = disk.check_file_system();
    assert!(
        verdict.clean,
        "fsck.vfat -n after the benchmark:\n{}",
        verdict.report
    );
    for left in [
        "FSBENCH.BIN",
        "FSBENCH/D00/F0000.DAT",
        "FSBENCH/D00/F0039.DAT",
    ] {
        assert!(disk.read_file(left).is_err(), "{left} is left on the disk");
    }
    assert_eq!(disk.read_file(README_PATH).as_deref(), Ok(&readme[..]));
}
