//! Faults are reported, not hidden: a page fault with the right CR2, a write to read-only
//! kernel data, a panic, a stack overflow into the guard page and an allocation larger than
//! the heap, each ending in the kernel's failure exit (status 35).

use cella_qemu_tests::boot::{PAGE_FAULT_PRESENT, PAGE_FAULT_WRITE};
use cella_qemu_tests::boot_scenario;
use cella_qemu_tests::serial::parse_panic_location;

#[test]
fn page_fault_reports_the_faulting_address() {
    let run = boot_scenario("page_fault");
    run.expect_kernel_failure();
    let address = run.expect_announced_address("scenario page_fault: reading unmapped address");
    run.expect_order(
        "scenario page_fault: reading unmapped address",
        "EXCEPTION:",
    );
    let fault = run.expect_page_fault();
    if fault.cr2 != address {
        run.fail(format!(
            "cr2=0x{:016x} but the scenario read 0x{address:016x}",
            fault.cr2
        ));
    }
    // A read of an unmapped page: not present, not a write.
    if fault.error_code & (PAGE_FAULT_PRESENT | PAGE_FAULT_WRITE) != 0 {
        run.fail(format!(
            "error_code=0x{:x} has P or W set for a read of an unmapped page",
            fault.error_code
        ));
    }
    run.expect_no_line("scenario page_fault: passed");
}

#[test]
fn rodata_write_faults_as_a_protection_violation() {
    let run = boot_scenario("rodata_write");
    run.expect_kernel_failure();
    let announcement = "scenario rodata_write: writing to read-only address";
    let address = run.expect_announced_address(announcement);
    run.expect_order(announcement, "EXCEPTION:");
    let fault = run.expect_page_fault();
    if fault.cr2 != address {
        run.fail(format!(
            "cr2=0x{:016x} but the scenario wrote 0x{address:016x}",
            fault.cr2
        ));
    }
    let wanted = PAGE_FAULT_PRESENT | PAGE_FAULT_WRITE;
    if fault.error_code & wanted != wanted {
        run.fail(format!(
            "error_code=0x{:x} lacks P (0x1) and W (0x2): the page was not mapped read-only",
            fault.error_code
        ));
    }
    run.expect_no_line("scenario rodata_write: passed");
}

#[test]
fn panic_is_reported_with_its_location_and_message() {
    let run = boot_scenario("panic");
    run.expect_kernel_failure();
    let line = run.expect_line("PANIC at ");
    let report = &line[line.find("PANIC at ").expect("found") + "PANIC at ".len()..];
    match parse_panic_location(report) {
        Some((file, line_number, column, message))
            if file.ends_with(".rs")
                && line_number > 0
                && column > 0
                && message == "deliberate panic from the panic scenario" => {}
        _ => run.fail(format!(
            "`{line}` is not `PANIC at FILE:LINE:COL: deliberate panic from the panic scenario`"
        )),
    }
    run.expect_no_line("scenario panic: passed");
}

#[test]
fn stack_overflow_ends_in_a_reported_double_fault() {
    let run = boot_scenario("stack_overflow");
    run.expect_kernel_failure();
    run.expect_order(
        "scenario stack_overflow: recursing into the guard page",
        "EXCEPTION: double fault",
    );
    run.expect_no_line("scenario stack_overflow: FAILED");
}

#[test]
fn out_of_memory_is_reported_not_granted() {
    let run = boot_scenario("out_of_memory");
    run.expect_kernel_failure();
    run.expect_order(
        "scenario out_of_memory: asking for more than the whole heap",
        "memory allocation of 1073741824 bytes failed",
    );
    run.expect_no_line("scenario out_of_memory: FAILED");
}
