//! MSI-X on the data path: the virtio-blk driver (on a copy of the disk image of the test's
//! own) takes the kernel's MSI-X vector for its request queue, `caps virtio-blk` shows it, its
//! interrupts arrive there (the driver acknowledges that line when traced), and swapping the
//! driver (v1 <-> v2) or restarting it many times in a row keeps the disk answering on the
//! same line: each instance's vector goes back to the kernel, none leaks.

use cella_qemu_tests::{Disk, Session, fnv1a};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const LABEL: &str = "msix";
/// Swaps and restarts in a row.
const ROUNDS: u32 = 24;

/// The line of the MSI-X vector `caps virtio-blk` shows its instance holding, unmasked.
fn msix_line(session: &mut Session) -> u32 {
    let answer = session.type_line("caps virtio-blk");
    let held = answer
        .split_once("held by instance")
        .map_or("", |(_, held)| held);
    let line = held.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("irq ")?;
        let (number, rest) = rest.split_once(' ')?;
        (rest == "msi-x entry 0 (unmasked)").then(|| number.parse::<u32>().ok())?
    });
    match line {
        Some(line) if line >= 16 => line,
        _ => session.fail(format!(
            "`caps virtio-blk` shows no unmasked MSI-X vector of the kernel's (16 or above):\n{answer}"
        )),
    }
}

#[test]
fn the_block_driver_runs_on_msix_through_many_swaps_and_restarts() {
    let disk = Disk::copy_for(LABEL);
    let header = fnv1a(&disk.read_block(0));
    let mut session = Session::start_with_disk(LABEL, "", None, &[], &disk);
    session.wait_for_boot(WAIT);
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);

    let read_back = format!("512 bytes, FNV-1a {header:#010x}");
    session.expect_answer("call block read 1 0 1", &read_back);
    let line = msix_line(&mut session);
    let caps = session.type_line("caps virtio-blk");
    if caps.contains("irq 11 (") {
        session.fail(format!("the driver holds its INTx line too:\n{caps}"));
    }

    // Its completions arrive on that vector: the driver acknowledges the line.
    session.type_line("trace virtio-blk on");
    let from = session.output().len();
    session.expect_answer("call block read 2 0 1", &read_back);
    session.wait_for_from(from, &format!("acknowledge irq {line}"), WAIT);
    session.type_line("trace virtio-blk off");

    for round in 0..ROUNDS {
        let command = match round % 3 {
            0 => "swap virtio-blk modules/virtio-blk-v2.wasm",
            1 => "swap virtio-blk modules/virtio-blk.wasm",
            _ => "restart virtio-blk",
        };
        let answer = session.type_line(command);
        let done = if round % 3 == 2 {
            "virtio-blk: running"
        } else {
            "virtio-blk: swapped"
        };
        if !answer.contains(done) {
            session.fail(format!(
                "round {round}: `{command}` answered:
{answer}"
            ));
        }
        let id = 100 + round;
        session.expect_answer(&format!("call block read {id} 0 1"), &read_back);
        let now = msix_line(&mut session);
        if now != line {
            session.fail(format!(
                "round {round} (`{command}`): the driver's vector is line {now}, not {line}: a vector leaked"
            ));
        }
    }
}
