//! Native ring-3 processes: faults kill only the process (with a report), bad syscall
//! arguments come back as error codes, port access needs a grant (#GP without), an MMIO grant
//! shows the device, SSE state survives switches, and a process exchanges 10,000 checksummed
//! calls with a server.
//!
//! The programs are built from `userland/` (x86_64-unknown-none) into a target directory of
//! their own and packed as `bin/NAME` into a boot archive for these boots.

mod programs;

use cella_qemu_tests::{BootRequest, Network, boot};
use programs::{boot_with_programs, user_archive};

#[test]
fn faults_kill_only_the_process_and_grants_decide_device_access() {
    let run = boot_with_programs("processes");
    run.expect_kernel_success().expect_order(
        "processes: system still running",
        "scenario processes: passed",
    );
    // SSE state per thread: both copies of `hello` kept xmm0 across 20 yields.
    let survived = run
        .lines()
        .filter(|line| line.contains("xmm0 survived 20 yields: true"))
        .count();
    if survived != 2 {
        run.fail(format!("{survived} of 2 hello processes kept xmm0"));
    }
    // Null pointer and ud2: reported, process killed.
    run.expect_line("PROCESS FAULT: process fault-null");
    run.expect_line("cr2=0x0000000000000000: user access to a non-present page");
    run.expect_line("PROCESS FAULT: process fault-ud2 (thread");
    run.expect_line("killed: invalid opcode (vector 6)");
    // Kernel addresses and other bad arguments: error codes, the process goes on.
    run.expect_line("bad-syscalls: log(kernel address) -> -5");
    run.expect_line("bad-syscalls: lookup(kernel address) -> -5");
    run.expect_line("bad-syscalls: number 999 -> -12");
    run.expect_line("bad-syscalls: lookup(not granted) -> -1");
    run.expect_line("bad-syscalls: all refused: true");
    // Ports: #GP without the grant, works with it.
    run.expect_order(
        "processes: ports without a grant",
        "PROCESS FAULT: process ports",
    );
    run.expect_line("killed: general protection fault (vector 13)");
    run.expect_order(
        "processes: ports with a grant",
        "ports: CMOS seconds register reads",
    );
    // MMIO: refused without a grant, the I/O APIC answers with one.
    run.expect_line("mmio: no MMIO grant: -1");
    run.expect_line("version 0x20, 24 redirection entries");
    run.expect_line("mmio: log(MMIO page) -> -5");
    // Grants the kernel refuses whatever the manifest says: refused at spawn.
    run.expect_line(
        "processes: mmio: refused at spawn: grant `mmio 0x100000 4096`: 0x100000 is RAM, not device memory",
    );
    run.expect_line(
        "processes: mmio: refused at spawn: grant `port 0x61 1`: port 0x61 belongs to the kernel",
    );
    // IRQs as messages: refused without the grant, 10 RTC interrupts with it.
    run.expect_line("rtc-irq: irq_attach(8) -> -1");
    run.expect_line("rtc-irq: 10 IRQ 8 messages in");
}

#[test]
fn native_process_exchanges_ten_thousand_checksummed_calls() {
    let run = boot_with_programs("process_ipc");
    run.expect_kernel_success()
        .expect_line("client: 10000 calls: 10000 good, 0 bad, 0 failed");
}

#[test]
fn native_process_and_wasm_server_exchange_ten_thousand_checksummed_calls() {
    let run = boot_with_programs("process_wasm_ipc");
    run.expect_kernel_success()
        .expect_line("client: 10000 calls: 10000 good, 0 bad, 0 failed");
}

#[test]
fn benchmark_runs_in_one_boot_and_meets_its_targets() {
    let run = boot_with_programs("bench");
    run.expect_kernel_success();
    for figure in [
        "bench: null syscall (native process)",
        "bench: IPC round trip native -> native",
        "bench: IPC round trip native -> Wasm server",
        "bench: IPC round trip native -> Wasm module",
        "bench: direct kernel call of a Wasm event",
        "bench: process start + exit + wait (native)",
        "bench: CRC-32 64 KiB in a native process",
        "bench: CRC-32 64 KiB in the Wasm module",
    ] {
        run.expect_line(figure);
    }
    run.expect_line("(target < 1: met)");
    run.expect_line("(target >= 5: met)");
}

#[test]
fn one_module_source_built_as_wasm_and_as_native_process_behaves_identically() {
    let run = boot_with_programs("module_both_ways");
    run.expect_kernel_success()
        .expect_line("module_both_ways: 500 requests to both builds, identical replies: 500");
    run.expect_line("client: 10000 calls: 10000 good, 0 bad, 0 failed");
}

/// `YYYY-MM-DDTHH:MM:SSZ` as seconds since 1970 (days from civil).
fn epoch_seconds(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    if text.len() != 20 || !text.ends_with('Z') || text.as_bytes()[10] != b'T' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let shifted = if month <= 2 { year - 1 } else { year };
    let era = shifted.div_euclid(400);
    let year_of_era = shifted - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * 86_400 + hour * 3600 + minute * 60 + second)
}

fn host_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the host clock is after 1970")
        .as_secs() as i64
}

#[test]
fn cmos_rtc_driver_built_both_ways_tells_the_host_time_and_sdk_devices_work_natively() {
    let run = boot_with_programs("native_drivers");
    let after = host_seconds();
    let before = after - run.elapsed.as_secs() as i64 - 1;
    run.expect_kernel_success()
        .expect_line("cmos-rtc-native without a port grant did not start");
    run.expect_line("not granted: port 0x70 2");
    run.expect_line("native_drivers: 20 requests to both cmos-rtc builds, matching answers: 20");
    // QEMU's RTC starts at the host's UTC: both answers lie within the boot's
    // host-time window (QEMU's run time, plus a few seconds of slack).
    let line = run.expect_line("native_drivers: rtc native ");
    let words: Vec<&str> = line.split_whitespace().collect();
    let (Some(native), Some(wasm)) = (words.get(3), words.get(5)) else {
        run.fail(format!("`{line}`: no times"));
    };
    for (build, text) in [("native", native), ("wasm", wasm)] {
        match epoch_seconds(text) {
            Some(seconds) if seconds >= before - 3 && seconds <= after + 3 => {}
            other => run.fail(format!(
                "{build} build answered `{text}` ({other:?}); host time was {before}..{after}"
            )),
        }
    }
    run.expect_line(
        "sdk-probe: refusals as the Wasm host; I/O APIC version 0x20; 10 IRQs; 5 timers, 0 early",
    );
}

#[test]
fn system_manifest_starts_and_grants_native_processes() {
    let archive = user_archive().with_file_name("manifest.tar");
    let run = boot(BootRequest {
        label: "manifest processes".into(),
        cmdline: "test=modules run_ms=3000".into(),
        initrd: Some(archive),
        stop_marker: None,
        production_kernel: false,
        disk: None,
        iommu: true,
        network: Some(Network::default()),
        at_least: None,
    });
    run.expect_kernel_success()
        .expect_line("process checksum from the system manifest");
    // Granted `checksum`: 10,000 calls to the native build of modules/checksum.
    run.expect_line("client: 10000 calls: 10000 good, 0 bad, 0 failed");
    // No port grant in the manifest: the port access faults and only that process dies.
    run.expect_line("PROCESS FAULT: process ports");
    // A native process calls a Wasm module of the manifest through the kernel's IPC:
    // the cmos-rtc module answers every call with the time.
    let line =
        run.expect_line("module-client: 200 calls to the rtc module: 200 good, 0 bad, 0 failed");
    // Each reply reached its caller once: the module's worker hands it to the process and
    // the event loop, seeing it answered, does not answer again.
    run.expect_no_line("to a process was not delivered");
    let first = line
        .split("first ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or("");
    if first.len() != 20 || !first.starts_with("20") {
        run.fail(format!("`{line}`: the first reply is not a time"));
    }
    // A process granted `supervisor` reads the kernel's typed interface; the command
    // operation `run` is the shell's and is denied.
    let line = run.expect_line("supervisor-client: 50 status calls: 50 good, 0 bad (");
    if !line.trim_end().ends_with("modules); run: denied") {
        run.fail(format!("`{line}`: the command operation was not denied"));
    }
    // Both ways between a process and a module: the process's call is answered,
    // and the module's one-way send reaches the endpoint the process serves.
    run.expect_line(
        "module-peer: the module replied `pong` and sent `hello from a Wasm module` (a one-way message: token 0)",
    );
    // A call to a module that is not running fails (-16, Closed), not an empty reply.
    run.expect_line("stopped-client: call to a module that is not running -> -14");
    // A reply followed by a trap in the same event is delivered, every time.
    run.expect_line(
        "reply-trap-client: 20 calls to a module that replies, then traps: 20 answered, 0 failed",
    );
    // A module holds at most so many requests unanswered (here its own
    // `limit pending_requests=4` from the manifest); a call past them is
    // refused at once (`Busy`), not left waiting in the kernel.
    run.expect_line(
        "mute-client: 40 calls to a module that never answers: 4 timed out, 36 refused at once, 0 other",
    );
    // A call the module was handling when it faulted ends with an error as the module is
    // restarted, each time, well before the caller's 5 s deadline.
    for attempt in 1..=3 {
        let line = run.expect_line(&format!(
            "crash-client: call {attempt} to a module that faults on it -> -14 after "
        ));
        let milliseconds = line
            .rsplit("after ")
            .next()
            .and_then(|rest| rest.trim_end_matches(" ms").trim().parse::<u64>().ok());
        if milliseconds.is_none_or(|milliseconds| milliseconds >= 2000) {
            run.fail(format!("`{line}`: the caller waited too long"));
        }
        println!("{line}");
    }
    run.expect_line("scenario modules: passed");
}

#[test]
fn busy_wasm_module_does_not_stop_threads_or_processes() {
    let run = boot_with_programs("wasm_busy");
    run.expect_kernel_success()
        .expect_line("hello ended with Exited(0)");
    let line = run.expect_line("events longer than two slices, the counter progressed during");
    let counts: Vec<&str> = line.split_whitespace().collect();
    if counts.get(1).copied() != counts.get(11).map(|count| count.trim_end_matches(';')) {
        run.fail(format!(
            "`{line}`: the counter did not progress during every long event"
        ));
    }
}

#[test]
fn busy_manifest_module_does_not_stop_the_other_modules() {
    let run = boot_with_programs("module_threads");
    run.expect_kernel_success();
    let line = run.expect_line("busy events lasted over two slices");
    let long_events: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    if long_events == 0 {
        run.fail(format!(
            "`{line}`: no event was long enough to show anything"
        ));
    }
}

/// The virtio-blk driver's source built as a native process drives the disk every boot has:
/// the capacity, seven sectors written, read back and flushed, its queue's interrupt on an
/// MSI-X vector of the kernel's; after QEMU exits the image holds them.
#[test]
fn the_virtio_blk_driver_as_a_native_process_reads_and_writes_the_disk() {
    let disk = cella_qemu_tests::Disk::copy_for("native_block");
    let run = boot(
        BootRequest::scenario("native_block")
            .with_initrd(user_archive())
            .with_disk(&disk),
    );
    run.expect_kernel_success();
    let capacity = run.expect_line("native_block: capacity ");
    let sectors: u64 = capacity
        .split_whitespace()
        .find_map(|word| word.parse().ok())
        .unwrap_or_else(|| run.fail(format!("`{capacity}`: no sector count")));
    let size = std::fs::metadata(disk.path()).expect("the image").len();
    if sectors * 512 != size {
        run.fail(format!(
            "capacity {sectors} sectors, the image has {size} bytes"
        ));
    }
    run.expect_line("native_block: written, read back and flushed through the native driver");
    run.expect_line("native_block: the driver's queue interrupts on MSI-X line ");
    run.expect_line(
        "native_block: 50 lent round trips of 65536 bytes matched; no buffer left on loan",
    );
    run.expect_line("scenario native_block: passed");
    // The scenario wrote 7 sectors starting 15 before the end: byte i is 0x5a + (7 i mod 251).
    let first = sectors - 15;
    for block in 0..7u64 {
        let bytes = disk.read_block(first + block);
        for (offset, byte) in bytes.iter().enumerate() {
            let index = block as usize * 512 + offset;
            let expected = 0x5au8.wrapping_add((index * 7 % 251) as u8);
            if *byte != expected {
                run.fail(format!(
                    "sector {}: byte {offset} is {byte:#04x}, the driver wrote {expected:#04x}",
                    first + block
                ));
            }
        }
    }
}
