//! The IOMMU on emulated hardware: QEMU's VT-d (`-device intel-iommu`, given before the PCI
//! devices) and its `edu` device, whose DMA engine copies between RAM and a buffer inside it.
//! With the IOMMU, edu reaches by DMA only the pages mapped in its domain, and loses them on
//! `unmap` and `detach`; without it the kernel says so and boots as before; with it the whole
//! system of modules still boots. Every wait has a timeout (the session's, and `WAIT`).

use cella_qemu_tests::{BootRequest, Session, boot};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);
/// Every boot has QEMU's `intel-iommu` (given before the PCI devices); these add `edu`.
const WITH_IOMMU_AND_EDU: [&str; 2] = ["-device", "edu"];

/// The `iommu` scenario: (a) DMA through mapped pages works both ways, (b) DMA to and from a
/// page of kernel memory not mapped for edu is blocked, leaves the page unchanged and is
/// reported with edu's source id and the page, (c) after unmap (and after detach) the same
/// DMA is blocked; bad requests are refused and 300 attach/map/unmap/detach rounds keep no frame.
#[test]
fn iommu_lets_edu_reach_only_the_pages_mapped_in_its_domain() {
    let mut session = Session::start("iommu", "test=iommu", None, &WITH_IOMMU_AND_EDU);
    session.wait_for(
        "iommu: VT-d at 0xfed90000 (version 1.0), translation on",
        WAIT,
    );
    let status = session.wait_exit();
    if status != 33 {
        session.fail(format!(
            "QEMU exit status {status}, expected 33 (scenario passed)"
        ));
    }
    for line in [
        "iommu: (a) 64 bytes went by DMA from a mapped page into edu and back into another mapped page",
        "iommu: (b) write blocked, page unchanged: DMA write by ",
        "iommu: (b) read blocked, nothing of the page reached edu: DMA read by ",
        "iommu: (c) after unmap, write blocked, page unchanged: DMA write by ",
        "iommu: (c) after detach, read of the once-mapped page blocked: DMA read by ",
        "the device has no context entry (reason 2)",
        "iommu: bad requests refused with their errors",
        "iommu: 300 rounds of attach, map, unmap and detach; frames in use unchanged",
        "scenario iommu: passed",
    ] {
        session.wait_for(line, WAIT);
    }
}

/// Without `-device intel-iommu` the ACPI tables have no DMAR: one line says so and the
/// boot goes on as before.
#[test]
fn iommu_none_without_the_device_and_the_kernel_boots() {
    let run = boot(BootRequest::scenario("boot").without_iommu());
    run.expect_kernel_success();
    run.expect_line("iommu: none (no DMAR table in the ACPI tables)");
    run.expect_no_line("translation on");
    run.expect_line("scenario boot: passed");
}

/// With translation on and no device attached, the system's modules (which do no DMA)
/// boot to the shell as they do without an IOMMU.
#[test]
fn iommu_translation_on_and_the_system_boots_to_the_shell() {
    let mut session = Session::start("iommu-system", "", None, &WITH_IOMMU_AND_EDU);
    session.wait_for("translation on", WAIT);
    session.wait_for_boot(WAIT);
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    // The console works through the UART driver: a command typed gets its answer.
    let answer = session.type_line("frobnicate");
    if !answer.contains("unknown command `frobnicate`") {
        session.fail(format!("the shell answered: {answer}"));
    }
}

/// The teaching variant of the virtio-blk driver points its device at the kernel's own
/// image: the IOMMU blocks the write, the fault is recorded against the driver with the
/// address, the supervisor restarts it, and the kernel's code checksum is unchanged.
#[test]
fn the_dma_escape_is_blocked_by_the_iommu_and_the_kernel_is_unchanged() {
    let run = boot(BootRequest::scenario("dma_escape"));
    run.expect_kernel_success();
    let before = run.expect_line("dma_escape: kernel image at ");
    let fault = run.expect_line("dma_escape: fault recorded: ");
    if !fault.contains("DMA write by ") || !fault.contains(" at 0x100000 blocked") {
        run.fail(format!(
            "the fault does not name the blocked write: {fault}"
        ));
    }
    let after = run.expect_line("dma_escape: code checksum ");
    let checksum = |line: &str| {
        line.split_whitespace()
            .find(|word| word.starts_with("0x") && word.len() == 18)
            .map(str::to_owned)
    };
    match (checksum(before), checksum(after)) {
        (Some(first), Some(second)) if first == second => {}
        other => run.fail(format!("checksums before and after: {other:?}")),
    }
    run.expect_line("dma_escape: the plain driver swapped back in");
    run.expect_line("scenario dma_escape: passed");
}
