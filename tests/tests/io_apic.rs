//! The I/O APIC carries the legacy lines: the boot says so (the MADT's I/O APIC, IRQ 0 on
//! GSI 2, the 8259 masked), the console (COM1's edge-triggered IRQ 4) and the timer work as
//! the rest of the tests show, and a PCI function's INTx arrives through it: with `msix=off`
//! the kernel hands out no MSI-X vector, the virtio-blk driver takes its INTx line (level,
//! active low, the GSI q35 wires slot 3 to), acknowledges it and the disk answers, many
//! requests in a row.

use cella_qemu_tests::{Disk, Session, fnv1a};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const LABEL: &str = "io-apic";
/// Requests read back through the INTx line.
const READS: u32 = 20;

#[test]
fn without_msix_the_disk_interrupts_through_the_io_apic_on_its_intx_line() {
    let disk = Disk::copy_for(LABEL);
    let header = fnv1a(&disk.read_block(0));
    let mut session = Session::start_with_disk(LABEL, "msix=off", None, &[], &disk);
    session.wait_for_boot(WAIT);
    session.wait_for(
        "interrupts: I/O APIC at 0xfec00000 (24 pins) carries the legacy lines (IRQ 0 on GSI 2",
        WAIT,
    );
    session.wait_for("cella> ", WAIT);
    if session.output().contains("8259 carries") {
        session.fail("the 8259 carries the lines");
    }
    let read_back = format!("512 bytes, FNV-1a {header:#010x}");
    session.expect_answer("call block read 1 0 1", &read_back);
    let caps = session.expect_answer("caps virtio-blk", "irq 11 (unmasked)");
    if caps.contains("msi-x") {
        session.fail(format!("the driver holds an MSI-X vector:\n{caps}"));
    }
    session.type_line("trace virtio-blk on");
    for id in 0..READS {
        let from = session.output().len();
        session.expect_answer(&format!("call block read {} 0 1", 10 + id), &read_back);
        session.wait_for_from(from, "acknowledge irq 11", WAIT);
    }
}
