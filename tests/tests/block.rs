//! The virtio-blk driver on the virtio-blk disk every boot has (behind the IOMMU; a copy of
//! the disk image of the test's own): the shell's `call block` reads the image's header and a
//! sector the test prepared with the checksums the host computes; the test module
//! `block-check` (tests/fixtures/block-check, started from the shell) writes and reads back
//! patterns and every round trip matches; the last round's sectors read the same however often
//! the shell asks, requests past the disk's end or longer than 7 sectors are refused, and
//! after QEMU is gone the image holds what the last round wrote. `block-lend`
//! (tests/fixtures/block-lend) does the same in 64 KiB requests whose payload travels in DMA
//! buffers it lends the driver with each call; a lent request with no buffer lent (the shell
//! lends none) is refused, and the image holds the last lent round's 128 sectors.

use cella_qemu_tests::{Disk, Session, fnv1a, word_after};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
/// The rounds `block-check` runs.
const ROUNDS: u32 = 20;
/// The rounds `block-lend` runs.
const LENT_ROUNDS: u32 = 8;
const LABEL: &str = "block";
/// The sector the test writes into the image before the boot.
const PREPARED_SECTOR: u64 = 100;

#[test]
fn the_block_driver_reads_and_writes_the_disk_image() {
    let disk = Disk::copy_for(LABEL);
    let mut prepared = [0u8; 512];
    for (at, byte) in prepared.iter_mut().enumerate() {
        *byte = (at as u8).wrapping_mul(7) ^ 0x5a;
    }
    disk.write_block(PREPARED_SECTOR, &prepared);
    let header = disk.read_block(0);

    let mut session = Session::start_with_disk(LABEL, "", None, &[], &disk);
    session.wait_for_boot(WAIT);
    session.wait_for("shell: ready", WAIT);
    session.wait_for("cella> ", WAIT);
    let output = session.output();
    let Some(sectors) = output
        .lines()
        .find_map(|line| word_after(line, "virtio-blk: "))
        .and_then(|word| word.parse::<u64>().ok())
    else {
        session.fail("no `virtio-blk: N sectors of 512 bytes` line");
    };

    session.expect_answer(
        "call block capacity",
        &format!("reply from block: {sectors} sectors of 512 bytes"),
    );
    session.expect_answer(
        "call block read 1 0 1",
        &format!("request 1: 512 bytes, FNV-1a {:#010x}", fnv1a(&header)),
    );
    session.expect_answer(
        &format!("call block read 2 {PREPARED_SECTOR} 1"),
        &format!("request 2: 512 bytes, FNV-1a {:#010x}", fnv1a(&prepared)),
    );

    let from = session.output().len();
    session.type_line("start block-check");
    session.wait_for_from(
        from,
        &format!("block-check: {ROUNDS} of {ROUNDS} round trips matched, and flushed"),
        WAIT,
    );
    session.wait_for("cella> ", WAIT);
    let output = session.output();
    let last_round = format!("block-check: round {}: ", ROUNDS - 1);
    let Some(line) = output.lines().find(|line| line.contains(&last_round)) else {
        session.fail(format!("no `{last_round}` line"));
    };
    let (Some(sector), Some(checksum)) = (
        word_after(line, "at sector ").and_then(|word| word.parse::<u64>().ok()),
        word_after(line, "read back 3584 (FNV-1a ").map(str::to_owned),
    ) else {
        session.fail(format!("`{line}` does not say where and what it read"));
    };
    for id in 10..20 {
        session.expect_answer(
            &format!("call block read {id} {sector} 7"),
            &format!("reply from block: request {id}: 3584 bytes, FNV-1a {checksum}"),
        );
    }
    session.expect_answer(
        &format!("call block read 21 {sectors} 1"),
        "error: request 21: the sectors lie past the end of the disk",
    );
    session.expect_answer(
        "call block read 22 0 8",
        "error: request 22: more than 7 sectors in one request",
    );
    session.expect_answer(
        "call block read_lent 23 0 8",
        "error: request 23: no buffer lent with the request fits it",
    );

    let from = session.output().len();
    session.type_line("start block-lend");
    session.wait_for_from(
        from,
        &format!(
            "block-lend: {LENT_ROUNDS} of {LENT_ROUNDS} lent round trips matched, and flushed"
        ),
        WAIT,
    );
    let output = session.output();
    let last_lent = format!("block-lend: round {}: ", LENT_ROUNDS - 1);
    let Some(line) = output.lines().find(|line| line.contains(&last_lent)) else {
        session.fail(format!("no `{last_lent}` line"));
    };
    let (Some(lent_sector), Some(lent_checksum)) = (
        word_after(line, "at sector ").and_then(|word| word.parse::<u64>().ok()),
        word_after(line, "read back 65536 (FNV-1a ").map(str::to_owned),
    ) else {
        session.fail(format!("`{line}` does not say where and what it read"));
    };
    session.expect_answer(
        &format!("call block read 24 {lent_sector} 7"),
        "reply from block: request 24: 3584 bytes",
    );
    drop(session);

    let lent: Vec<u8> = (lent_sector..lent_sector + 128)
        .flat_map(|sector| disk.read_block(sector))
        .collect();
    assert_eq!(
        format!("{:#010x}", fnv1a(&lent)),
        lent_checksum,
        "the image holds what the last lent round wrote"
    );

    let written: Vec<u8> = (sector..sector + 7)
        .flat_map(|sector| disk.read_block(sector))
        .collect();
    assert_eq!(
        format!("{:#010x}", fnv1a(&written)),
        checksum,
        "the image holds what the last round wrote"
    );
}
